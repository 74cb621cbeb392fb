import { test } from 'vitest';
import { YuNetDetector } from '../../src/vision/yunet.js';
test('smoke', async () => {
  const d = await YuNetDetector.load('../shared/models/yunet_s_dynamic.onnx', { threads: 1, optimization: 'all', memArena: false });
  for (const f of ['astronaut.png', 'two_people.jpg']) console.log(JSON.stringify(await d.detectImage(`../shared/images/${f}`, { maxSide: 640, threshold: 0.6 })));
  await d.release();
});

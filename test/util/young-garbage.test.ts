import { expect, test } from 'vitest';
import { YoungGarbage } from '../../src/util/young-garbage.js';
import { waitUntil } from '../helpers/tmp.js';

const live = () => process.memoryUsage().arrayBuffers;

test('frees dead buffers once the counted garbage reaches the limit', async () => {
  const garbage = new YoungGarbage(4 << 20);
  const size = 512 << 10;
  const before = live();
  for (let i = 0; i < 7; i++) {
    new Uint8Array(size).fill(i);
    garbage.add(size); // below the limit: nothing collected
  }
  expect(live() - before).toBeGreaterThanOrEqual(7 * size);
  new Uint8Array(size).fill(7);
  garbage.add(size); // the limit: one young-generation collection
  // V8 sweeps array buffers on a background thread: give it time on a busy machine (nothing else here would collect)
  await waitUntil(() => live() - before < 2 * size, 3000).catch(() => {});
  expect(live() - before).toBeLessThan(2 * size);
});

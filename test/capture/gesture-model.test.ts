import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeForAnalysis } from '../../src/analysis/analyzer.js';
import { analyzerFromConfig } from '../../src/analysis/component.js';
import { handRaisedOrNobody } from '../../src/capture/gesture-shutter.js';
import { defaultConfig } from '../../src/config/load.js';
import { sharedDir } from '../helpers/tmp.js';

/**
 * The gesture shutter's view of the real pose model (MoveNet) on the shared photos: no shared photo shows a raised
 * hand, so this checks the wiring's answers — a person seen, no hand raised — the way the daemon calls it (a preview
 * -sized decode, like startLivePoses).
 */
describe('gesture: MoveNet on the shared photos', () => {
  const cfg = defaultConfig();
  cfg.models.dir = path.join(sharedDir, 'models');
  cfg.vision.threads = 1;
  const analyzer = analyzerFromConfig(cfg);
  afterAll(() => analyzer.close());

  const decode = (name: string) => decodeForAnalysis(path.join(sharedDir, 'images', name), 320);

  it('the astronaut and the two portraits: somebody is there, no hand above a shoulder', async () => {
    for (const name of ['astronaut.png', 'two_people.jpg']) {
      const { img } = await decode(name);
      expect(handRaisedOrNobody(await analyzer.pose(img, { priority: 'live' })), name).toBe(false);
    }
  });

  it('the astronaut upside down: no shoulder is seen with confidence, so nobody is there', async () => {
    const { img } = await decode('astronaut.png');
    const flipped = Buffer.alloc(img.data.length);
    const row = img.width * 3;
    for (let y = 0; y < img.height; y++)
      Buffer.from(img.data.buffer, img.data.byteOffset + y * row, row).copy(flipped, (img.height - 1 - y) * row);
    expect(handRaisedOrNobody(await analyzer.pose({ ...img, data: flipped }, { priority: 'live' }))).toBeUndefined();
  });
});

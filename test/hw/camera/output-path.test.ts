import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { safeForFormat } from '../../../src/hw/camera/output-dir.js';
import type { RpicamCamera } from '../../../src/hw/camera/rpicam-camera.js';
import { cameraConfig, ensureBuilt, simCamera, tempDir, waitFor } from './helpers.js';

let root: string | undefined;
let cam: RpicamCamera | undefined;
beforeAll(() => ensureBuilt());
afterEach(async () => {
  await cam?.stop();
  cam = undefined;
  if (root) await fs.rm(root, { recursive: true, force: true });
  root = undefined;
});

/**
 * rpicam-still formats -o with snprintf into char filename[128] (apps/rpicam_still.cpp generate_filename): a `%`
 * in the data folder is a directive and a longer path is cut. The fake does the same, so these fail without the
 * short, %-free output path (issue 13 item 6).
 */
describe.each([
  ['a data folder with % in its name', (base: string) => path.join(base, 'My 100%d photos', 'data')],
  [
    'a data folder path longer than 128 bytes',
    (base: string) => path.join(base, 'x'.repeat(70), 'y'.repeat(70), 'data'),
  ],
])('camera output with %s', (_name, dataDir) => {
  it('switch and signal captures land where the driver expects them', async () => {
    root = await tempDir();
    const data = dataDir(root);
    await fs.mkdir(data, { recursive: true });
    for (const strategy of ['switch', 'signal'] as const) {
      ({ cam } = simCamera(
        data,
        cameraConfig((c) => (c.capture.strategy = strategy)),
      ));
      await cam.start();
      await waitFor(() => cam?.status().state === 'streaming', 20_000, `${strategy} streaming`);
      const out = path.join(data, `${strategy}.jpg`);
      const t = await cam.captureStill(out);
      expect(t.strategy).toBe(strategy);
      expect(await sharp(out).metadata()).toMatchObject({ format: 'jpeg', width: 640, height: 480 });
      await cam.stop();
      cam = undefined;
    }
    expect(safeForFormat(path.join(data, 'run', 'out'))).toBe(false);
    // Nothing was written beside the intended folder (a cut or %-expanded name would have landed elsewhere).
    const names = await fs.readdir(path.dirname(data));
    expect(names).toEqual(['data']);
  }, 90_000);
});

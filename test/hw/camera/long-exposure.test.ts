import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { validateConfigText } from '../../../src/config/validate.js';
import type { RpicamCamera } from '../../../src/hw/camera/rpicam-camera.js';
import { readExifSegments } from '../../../src/store/exif.js';
import { find, TAG } from '../../../src/util/exif-tiff.js';
import { ensureBuilt, simCamera, tempDir, waitFor } from './helpers.js';

let dir: string | undefined;
let cam: RpicamCamera | undefined;
beforeAll(() => ensureBuilt());
afterEach(async () => {
  await cam?.stop();
  cam = undefined;
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('long exposures with ZSL (issue 13 item 4)', () => {
  it('a 6 s shutter: the armed process is not killed by the watchdog and the capture is not timed out', async () => {
    // With a still stream every frame lasts at least the exposure (rpicam_app.cpp StartCamera: 100 µs–1000 s), so
    // the armed rpicam-still logs a viewfinder line every 6 s: more than the 5 s default frame timeout.
    const r = validateConfigText(
      'camera:\n  backend: sim\n  still: { width: 320, height: 240 }\n  controls:\n    shutterUs: 6000000\n',
    );
    expect(r.errors).toEqual([]);
    const cfg = (r.config as NonNullable<typeof r.config>).camera;
    expect(cfg.frameTimeoutMs).toBeGreaterThan(6000);
    dir = await tempDir();
    ({ cam } = simCamera(dir, cfg));
    await cam.start();
    await waitFor(() => cam?.status().state === 'streaming' && cam.status().mode === 'armed', 30_000, 'armed');
    const shot = path.join(dir, 'long.jpg');
    const t = await cam.captureStill(shot);
    expect(t.strategy).toBe('signal');
    // The capture spans at least one 6 s frame.
    expect(t.exposureDoneAt - t.commandIssuedAt).toBeGreaterThanOrEqual(5900);
    const exif = readExifSegments(await fs.readFile(shot))[0];
    expect(find(exif.exif, TAG.ExposureTime)?.data.readUInt32LE(0)).toBe(6_000_000);
    expect(cam.status()).toMatchObject({ restarts: 0, mode: 'armed' });
  }, 90_000);
});

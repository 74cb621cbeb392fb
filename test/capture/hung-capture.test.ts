import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CaptureService } from '../../src/capture/capture-service.js';
import { cameraCommands } from '../../src/hw/camera/commands.js';
import { RpicamCamera } from '../../src/hw/camera/rpicam-camera.js';
import { GalleryStore } from '../../src/store/gallery.js';
import { configureLogging } from '../../src/util/logger.js';
import { cameraConfig, cameraProcessesOf, ensureBuilt, isAlive, tempDir, waitFor } from '../hw/camera/helpers.js';

let dir: string;
let cam: RpicamCamera | undefined;
beforeAll(() => {
  ensureBuilt();
  configureLogging({ level: 'silent' });
});
afterEach(async () => {
  await cam?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('a wedged camera during a capture (hang-after:0)', () => {
  it('the deaf preview is SIGKILLed, the hung still times out with 503, nothing is stored, no process is left', async () => {
    dir = await tempDir('pinhole-hung-');
    const cfg = cameraConfig((c) => {
      c.capture.strategy = 'switch';
      c.capture.timeoutMs = 1500;
    });
    const env = {
      ...process.env,
      PINHOLE_FAKE_CAMERA_STATE_DIR: path.join(dir, 'sim'),
      PINHOLE_FAKE_CAMERA_FAULT: 'hang-after:0',
    };
    cam = new RpicamCamera({ config: cfg, commands: cameraCommands('sim'), runDir: path.join(dir, 'run'), env });
    const store = new GalleryStore({ dataDir: dir, storage: () => ({ minFreeMB: 0, thumbnailSize: 64 }) });
    await store.open();
    const service = new CaptureService({ camera: cam, store, config: () => cfg });
    await cam.start();
    await new Promise((r) => setTimeout(r, 600));
    const previewPid = Number(await fs.readFile(path.join(dir, 'run', 'camera.pid'), 'utf8'));
    expect(isAlive(previewPid)).toBe(true);
    await expect(service.capture()).rejects.toMatchObject({
      status: 503,
      code: 'camera-timeout',
      message: expect.stringContaining('capture timed out after 1500 ms'),
    });
    expect(isAlive(previewPid)).toBe(false);
    expect(store.count).toBe(0);
    expect((await fs.readdir(store.root)).filter((n) => n.startsWith('.pinhole-tmp-'))).toEqual([]);
    await cam.stop();
    const pidNow = await fs.readFile(path.join(dir, 'run', 'camera.pid'), 'utf8').catch(() => '');
    expect(pidNow).toBe('');
    await waitFor(async () => (await cameraProcessesOf(dir)).length === 0, 3000, 'no camera process left');
  });
});

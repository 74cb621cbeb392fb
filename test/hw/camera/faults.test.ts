import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CameraConfig } from '../../../src/config/sections/camera.js';
import type { RpicamCamera } from '../../../src/hw/camera/rpicam-camera.js';
import type { Frame } from '../../../src/hw/camera/types.js';
import { configureLogging } from '../../../src/util/logger.js';
import { cameraConfig, ensureBuilt, fakeVid, isAlive, simCamera, tempDir, waitFor } from './helpers.js';

let dir: string;
let cams: RpicamCamera[] = [];

beforeAll(() => {
  ensureBuilt();
  configureLogging({ level: 'silent' });
});
afterEach(async () => {
  for (const c of cams) await c.stop();
  cams = [];
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function makeCamera(
  fault: string | undefined,
  cfg: CameraConfig = cameraConfig((c) => (c.capture.strategy = 'switch')),
) {
  dir = await tempDir();
  const { cam, states } = simCamera(dir, cfg, fault, { placeholderIntervalMs: 150 });
  cams.push(cam);
  return { cam, states };
}

function nextFrames(
  cam: RpicamCamera,
  n: number,
  filter: (f: Frame) => boolean = () => true,
  timeoutMs = 8000,
): Promise<Frame[]> {
  return new Promise((resolve, reject) => {
    const got: Frame[] = [];
    const t = setTimeout(() => {
      off();
      reject(new Error(`only ${got.length}/${n} frames`));
    }, timeoutMs);
    const off = cam.frames.subscribe((f) => {
      if (!filter(f)) return;
      got.push(f);
      if (got.length >= n) {
        clearTimeout(t);
        off();
        resolve(got);
      }
    });
  });
}

describe('camera faults (PINHOLE_FAKE_CAMERA_FAULT, real subprocesses)', () => {
  it('busy:2 → two busy retries with backoff, then frames flow and the backoff resets', async () => {
    const { cam, states } = await makeCamera('busy:2');
    await cam.start();
    await nextFrames(cam, 2, (f) => !f.placeholder);
    expect(states.filter((s) => s.state === 'busy')).toHaveLength(2);
    expect(states.find((s) => s.state === 'busy')?.lastError).toContain('failed to acquire camera');
    expect(cam.status()).toMatchObject({ state: 'streaming', restarts: 2 });
    expect(cam.status().lastError).toBeUndefined();
  });

  it('busy → keeps retrying, status says why, viewers get a CAMERA BUSY placeholder frame', async () => {
    const { cam } = await makeCamera('busy');
    await cam.start();
    const [ph] = await nextFrames(cam, 1, (f) => Boolean(f.placeholder));
    expect(await sharp(ph.data).metadata()).toMatchObject({ format: 'jpeg', width: 320, height: 240 });
    await waitFor(() => cam.status().restarts >= 3, 8000, 'retries');
    expect(cam.status().state).toBe('busy');
  });

  it('absent → NO CAMERA frames, capture 503; clearing the fault on the running camera recovers it', async () => {
    const { cam } = await makeCamera('absent');
    await cam.start();
    await waitFor(() => cam.status().state === 'absent', 5000, 'absent');
    expect(cam.status().lastError).toContain('no cameras available');
    const [ph] = await nextFrames(cam, 1, (f) => Boolean(f.placeholder));
    expect((await sharp(ph.data).metadata()).format).toBe('jpeg');
    await expect(cam.captureStill(path.join(dir, 'x.jpg'))).rejects.toMatchObject({ status: 503 });
    await cam.setEnv({ PINHOLE_FAKE_CAMERA_FAULT: undefined });
    await nextFrames(cam, 2, (f) => !f.placeholder);
    expect(cam.status().state).toBe('streaming');
  });

  it('crash-after:N → crashed with the child stderr in lastError, restarted, frames flow again', async () => {
    const { cam, states } = await makeCamera('crash-after:4');
    await cam.start();
    await waitFor(() => cam.status().restarts >= 2, 10_000, 'two restarts');
    const crashed = states.find((s) => s.state === 'crashed');
    expect(crashed?.lastError).toMatch(/exit status 134: .*simulated crash after 4 frames/);
    const frames = await nextFrames(cam, 2, (f) => !f.placeholder);
    for (const f of frames) expect((await sharp(f.data).metadata()).format).toBe('jpeg');
  });

  it('hang-after:N → no frame for frameTimeoutMs: the deaf process group is SIGKILLed and restarted', async () => {
    const { cam, states } = await makeCamera(
      'hang-after:3',
      cameraConfig((c) => {
        c.capture.strategy = 'switch';
        c.frameTimeoutMs = 800;
      }),
    );
    await cam.start();
    await nextFrames(cam, 1, (f) => !f.placeholder);
    const firstPid = Number(await fs.readFile(path.join(dir, 'run', 'camera.pid'), 'utf8'));
    await waitFor(() => cam.status().restarts >= 1, 10_000, 'watchdog restart');
    expect(states.find((s) => s.state === 'crashed')?.lastError).toMatch(/no frame from the camera for 800 ms/);
    await waitFor(() => !isAlive(firstPid), 5000, 'hung process gone');
  });

  it('garbage → junk and truncated frames are skipped; every delivered frame decodes', async () => {
    // A generous frame timeout: this test is about the splitter, not the watchdog (a loaded CI box can be slow).
    const { cam } = await makeCamera(
      'garbage',
      cameraConfig((c) => {
        c.capture.strategy = 'switch';
        c.frameTimeoutMs = 10_000;
      }),
    );
    await cam.start();
    const frames = await nextFrames(cam, 6, (f) => !f.placeholder);
    for (const f of frames)
      expect(await sharp(f.data).metadata()).toMatchObject({ format: 'jpeg', width: 320, height: 240 });
    expect(cam.status(), JSON.stringify(cam.status())).toMatchObject({ state: 'streaming' });
  });

  it('slow-start:MS → stays "starting" until the first frame, no restart', async () => {
    const { cam } = await makeCamera('slow-start:1200');
    const t0 = Date.now();
    await cam.start();
    await new Promise((r) => setTimeout(r, 700));
    expect(cam.status().state).toBe('starting');
    await nextFrames(cam, 1, (f) => !f.placeholder);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1200);
    expect(cam.status()).toMatchObject({ state: 'streaming', restarts: 0 });
  });

  it('a camera process left by a killed daemon is found through the pid file and stopped at start', async () => {
    const { cam } = await makeCamera(undefined);
    // The "previous daemon's" camera process: holds the (fake) camera.
    const leftover = spawn(fakeVid, ['-t', '0', '--codec', 'mjpeg', '-o', '-'], {
      env: { ...process.env, PINHOLE_FAKE_CAMERA_STATE_DIR: path.join(dir, 'sim') },
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    const exited = new Promise((r) => leftover.once('exit', r));
    await waitFor(
      async () => fs.readlink(path.join(dir, 'sim', 'camera.lock')).catch(() => ''),
      5000,
      'leftover owns the camera',
    );
    await fs.mkdir(path.join(dir, 'run'), { recursive: true });
    await fs.writeFile(path.join(dir, 'run', 'camera.pid'), String(leftover.pid));
    await cam.start();
    await exited;
    await nextFrames(cam, 2, (f) => !f.placeholder);
    expect(cam.status()).toMatchObject({ state: 'streaming', restarts: 0 });
  });
});

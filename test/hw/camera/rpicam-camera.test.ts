import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CameraConfig } from '../../../src/config/sections/camera.js';
import type { RpicamCamera } from '../../../src/hw/camera/rpicam-camera.js';
import type { Frame } from '../../../src/hw/camera/types.js';
import { configureLogging } from '../../../src/util/logger.js';
import { cameraConfig, ensureBuilt, isAlive, simCamera, tempDir, waitFor } from './helpers.js';

let dir: string;
let cams: RpicamCamera[] = [];

beforeAll(() => ensureBuilt());
afterEach(async () => {
  for (const c of cams) await c.stop();
  cams = [];
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function makeCamera(
  cfg: CameraConfig,
  fault?: string,
  extra: Partial<ConstructorParameters<typeof RpicamCamera>[0]> = {},
) {
  dir ??= '';
  if (!dir) dir = await tempDir();
  const { cam, states } = simCamera(dir, cfg, fault, extra);
  cams.push(cam);
  return { cam, states };
}

function collect(cam: RpicamCamera, n: number, filter: (f: Frame) => boolean = () => true): Promise<Frame[]> {
  return new Promise((resolve) => {
    const got: Frame[] = [];
    const off = cam.frames.subscribe((f) => {
      if (!filter(f)) return;
      got.push(f);
      if (got.length >= n) {
        off();
        resolve(got);
      }
    });
  });
}

describe('RpicamCamera with the simulated camera', () => {
  it('streams preview frames of the configured size and reports streaming', async () => {
    dir = await tempDir();
    const { cam, states } = await makeCamera(cameraConfig((c) => (c.capture.strategy = 'switch')));
    await cam.start();
    const frames = await collect(cam, 4);
    expect(await sharp(frames[3].data).metadata()).toMatchObject({ format: 'jpeg', width: 320, height: 240 });
    expect(frames.map((f) => f.seq)).toEqual([...frames.map((f) => f.seq)].sort((a, b) => a - b));
    expect(cam.status()).toMatchObject({ state: 'streaming', mode: 'preview', restarts: 0 });
    expect(states.map((s) => s.state)).toEqual(['starting', 'streaming']);
    // The pid file names the camera process while it runs.
    const pid = Number(await fs.readFile(path.join(dir, 'run', 'camera.pid'), 'utf8'));
    expect(isAlive(pid)).toBe(true);
    await cam.stop();
    expect(isAlive(pid)).toBe(false);
    expect(cam.status().state).toBe('stopped');
  });

  it('switch: stops the preview, takes a still, resumes the preview; lag timestamps are ordered', async () => {
    dir = await tempDir();
    const { cam, states } = await makeCamera(cameraConfig((c) => (c.capture.strategy = 'switch')));
    await cam.start();
    await collect(cam, 2);
    const out = path.join(dir, 'shot.jpg');
    const t = await cam.captureStill(out);
    expect(t.strategy).toBe('switch');
    expect(t.commandIssuedAt).toBeLessThanOrEqual(t.exposureDoneAt);
    expect(t.exposureDoneAt).toBeLessThanOrEqual(t.writtenAt);
    expect(await sharp(out).metadata()).toMatchObject({ width: 640, height: 480 });
    expect(states.map((s) => s.state)).toContain('capturing');
    // The preview comes back by itself (the fake's lock proves there was never a second owner).
    const after = await collect(cam, 2);
    expect(after).toHaveLength(2);
    await waitFor(() => cam.status().state === 'streaming', 5000, 'streaming again');
    expect(cam.status().restarts).toBe(0);
  });

  it('signal: with no viewer an armed rpicam-still --signal --zsl takes the still; a viewer brings the preview back', async () => {
    dir = await tempDir();
    const { cam } = await makeCamera(
      cameraConfig((c) => (c.capture.strategy = 'signal')),
      undefined,
      { idleArmDelayMs: 200 },
    );
    await cam.start();
    await waitFor(() => cam.status().state === 'streaming' && cam.status().mode === 'armed', 8000, 'armed');
    const out1 = path.join(dir, 'a.jpg');
    const t1 = await cam.captureStill(out1);
    expect(t1.strategy).toBe('signal');
    expect(await sharp(out1).metadata()).toMatchObject({ width: 640, height: 480 });
    const t2 = await cam.captureStill(path.join(dir, 'b.jpg'));
    expect(t2.strategy).toBe('signal');
    // A viewer subscribes: rpicam-vid replaces the armed process.
    const frames = await collect(cam, 2, (f) => !f.placeholder);
    expect(frames).toHaveLength(2);
    expect(cam.status().mode).toBe('preview');
    // Without viewers it re-arms after the idle delay.
    await waitFor(() => cam.status().mode === 'armed' && cam.status().state === 'streaming', 8000, 're-armed');
  });

  it('switch with a viewer: the preview rpicam-vid is stopped with SIGINT and exits by itself (issue 13 item 1)', async () => {
    // rpicam-vid acts on SIGUSR2 only with --signal (apps/rpicam_vid.cpp): the faithful fake ignores it, so a stop
    // that relies on it waits out its grace period and ends in SIGTERM.
    dir = await tempDir();
    const lines: string[] = [];
    configureLogging({ level: 'debug', sink: (l) => lines.push(l) });
    try {
      const { cam } = await makeCamera(cameraConfig((c) => (c.capture.strategy = 'signal')));
      await cam.start();
      const viewer = cam.frames.subscribe(() => {});
      try {
        await waitFor(() => cam.status().mode === 'preview' && cam.status().state === 'streaming', 8000, 'preview');
        const t = await cam.captureStill(path.join(dir, 'v.jpg'));
        expect(t.strategy).toBe('switch');
        expect(await sharp(path.join(dir, 'v.jpg')).metadata()).toMatchObject({ width: 640, height: 480 });
      } finally {
        viewer();
      }
      const stop = lines.find((l) => l.includes('camera process stopped') && l.includes('mode=preview'));
      expect(stop).toBeDefined();
      expect(stop).toContain('by=SIGINT');
      expect(stop).toContain('exit="exit status 0"');
      expect(lines.some((l) => l.includes('ignored SIGTERM'))).toBe(false);
    } finally {
      configureLogging({ level: 'info', sink: (l) => process.stdout.write(`${l}\n`) });
    }
  });

  it('a capture while absent is refused with 503', async () => {
    dir = await tempDir();
    const { cam } = await makeCamera(cameraConfig(), 'absent');
    await cam.start();
    await waitFor(() => cam.status().state === 'absent', 5000, 'absent');
    await expect(cam.captureStill(path.join(dir, 'x.jpg'))).rejects.toMatchObject({
      status: 503,
      code: 'camera-absent',
    });
  });
});

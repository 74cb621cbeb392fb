import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type BoardInfo, zslPlan } from '../../../src/config/board-profile.js';
import type { RpicamCamera } from '../../../src/hw/camera/rpicam-camera.js';
import { cameraConfig, ensureBuilt, simCamera, tempDir, waitFor } from './helpers.js';

let dir: string | undefined;
let cams: RpicamCamera[] = [];
beforeAll(() => ensureBuilt());
afterEach(async () => {
  for (const c of cams) await c.stop();
  cams = [];
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const board = (id: BoardInfo['id'], memTotalMB: number): BoardInfo => ({ id, model: `Raspberry Pi ${id}`, memTotalMB });

describe('ZSL per board profile (issue 13 item 3)', () => {
  it('small boards get 2 buffers per stream, big ones the default; the reason is given; the config can override', () => {
    const auto = { zsl: 'auto' as const, bufferCount: 0 };
    const zero = zslPlan(board('zero2w', 427), auto);
    expect(zero).toMatchObject({ enabled: true, bufferCount: 2 });
    expect(zero.reason).toMatch(/zero2w.*2 buffers per stream/);
    expect(zslPlan(board('pi3', 906), auto).bufferCount).toBe(2);
    expect(zslPlan(board('pi4', 906), auto).bufferCount).toBe(2);
    expect(zslPlan(board('pi4', 3796), auto)).toMatchObject({ enabled: true });
    expect(zslPlan(board('pi4', 3796), auto).bufferCount).toBeUndefined();
    expect(zslPlan(board('pi5', 1010), auto).bufferCount).toBeUndefined();
    expect(zslPlan(board('zero2w', 427), { zsl: 'off', bufferCount: 0 })).toMatchObject({ enabled: false });
    expect(zslPlan(board('zero2w', 427), { zsl: 'on', bufferCount: 3 })).toMatchObject({
      enabled: true,
      bufferCount: 3,
    });
  });

  // The fake models camera memory (fault cma:MB) from the sources' buffer counts: at 2028×1520 ZSL needs 4 × (4.7 MB
  // still + 4.7 MB viewfinder + 4.6 MB raw) ≈ 56 MB, the viewfinder mode 4 × (4.7 + 4.6) ≈ 37 MB, the 320×240
  // preview 6 × (0.1 + 4.6) ≈ 28 MB (its raw stream is the 2028×1520 mode), one still ≈ 9 MB.
  const midSize = () =>
    cameraConfig((c) => {
      c.capture.strategy = 'signal';
      c.still = { width: 2028, height: 1520, quality: 80 };
    });

  it('the 2-buffer plan fits where the default does not', async () => {
    dir = await tempDir();
    const { cam } = simCamera(dir, midSize(), 'cma:45', { zsl: { enabled: true, bufferCount: 2, reason: 'test' } });
    cams.push(cam);
    await cam.start();
    await waitFor(() => cam.status().state === 'streaming' && cam.status().mode === 'armed', 15_000, 'armed');
    expect(cam.status()).toMatchObject({ restarts: 0, zsl: { mode: 'zsl', bufferCount: 2 } });
  });

  it('a failed ZSL allocation falls back once to the viewfinder mode: no crash loop, captures work', async () => {
    dir = await tempDir();
    const { cam } = simCamera(dir, midSize(), 'cma:45');
    cams.push(cam);
    await cam.start();
    await waitFor(
      () => cam.status().zsl?.mode === 'viewfinder' && cam.status().state === 'streaming',
      15_000,
      'fell back',
    );
    expect(cam.status().zsl?.reason).toMatch(/ZSL buffers could not be allocated.*failed to allocate capture buffers/);
    const shot = path.join(dir, 'x.jpg');
    const t = await cam.captureStill(shot);
    expect(t.strategy).toBe('signal');
    expect(await sharp(shot).metadata()).toMatchObject({ width: 2028, height: 1520 });
    // Stable: the fallback happened once and nothing restarts afterwards.
    await waitFor(() => cam.status().state === 'streaming', 20_000, 'armed again');
    await new Promise((r) => setTimeout(r, 1500));
    expect(cam.status()).toMatchObject({ restarts: 1, state: 'streaming', mode: 'armed' });
  }, 60_000);

  it('when even the viewfinder buffers do not fit: no armed process, the preview runs and captures use one-shots', async () => {
    dir = await tempDir();
    const { cam } = simCamera(dir, midSize(), 'cma:32');
    cams.push(cam);
    await cam.start();
    await waitFor(() => cam.status().zsl?.mode === 'off' && cam.status().state === 'streaming', 20_000, 'off');
    expect(cam.status()).toMatchObject({ mode: 'preview', restarts: 2 });
    expect(cam.status().zsl?.reason).toMatch(/no armed process/);
    const shot = path.join(dir, 'y.jpg');
    expect((await cam.captureStill(shot)).strategy).toBe('switch');
    // The preview resumes after the one-shot, and nothing restarts: the fallback happened once.
    await waitFor(() => cam.status().state === 'streaming', 20_000, 'preview again');
    await new Promise((r) => setTimeout(r, 1500));
    expect(cam.status()).toMatchObject({ restarts: 2, state: 'streaming', mode: 'preview' });
  }, 60_000);
});

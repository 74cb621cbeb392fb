import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
// @ts-expect-error plain JS helper of scripts/arm64-check.sh (runs on both arches without a build)
import { compareDetections, compareImages, lastDetection, TOL } from '../../scripts/arm64/compare.mjs';

const face = (dx = 0, ds = 0) => ({
  box: [240.87 + dx, 31.62, 142.18, 195.49],
  score: 0.931 + ds,
  landmarks: [
    [289.83, 97.29],
    [360.55, 99.37],
    [330.62, 135.3],
    [289.57, 166.67],
    [349.87, 169.03],
  ],
});

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-arm64cmp-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('arm64 result comparison', () => {
  it('states its tolerances', () => {
    expect(TOL).toEqual({ px: 0.5, score: 1e-3, psnrDb: 45 });
  });

  it('accepts detections within ±0.5 px and ±1e-3, rejects beyond', () => {
    expect(compareDetections({ faces: [face()] }, { faces: [face(0.4, 0.0009)] }).problems).toEqual([]);
    expect(compareDetections({ faces: [face()] }, { faces: [face(0.6)] }).problems.join()).toContain(
      'coordinate differs by 0.600 px',
    );
    expect(compareDetections({ faces: [face()] }, { faces: [face(0, 0.002)] }).problems.join()).toContain(
      'score differs',
    );
    expect(compareDetections({ faces: [face()] }, { faces: [face(), face()] }).problems.join()).toContain(
      'face count 1 (x86) vs 2',
    );
  });

  it('finds the detection JSON among other output lines', () => {
    expect(lastDetection('log line\n{"image":"a","faces":[]}\n').faces).toEqual([]);
    expect(() => lastDetection('nothing')).toThrow('no detection JSON');
  });

  it('measures PSNR between filter outputs', async () => {
    const w = 64;
    const a = Buffer.alloc(w * w * 3);
    for (let i = 0; i < a.length; i++) a[i] = (i * 7) & 255;
    const near = Buffer.from(a);
    near[10] ^= 1; // one level off in one sample
    const far = Buffer.from(a.map((v, i) => (i % 2 ? 255 - v : v)));
    const raw = { raw: { width: w, height: w, channels: 3 as const } };
    await sharp(a, raw).png().toFile(path.join(dir, 'a.png'));
    await sharp(near, raw).png().toFile(path.join(dir, 'near.png'));
    await sharp(far, raw).png().toFile(path.join(dir, 'far.png'));
    expect((await compareImages(path.join(dir, 'a.png'), path.join(dir, 'a.png'))).psnr).toBe(Number.POSITIVE_INFINITY);
    const n = await compareImages(path.join(dir, 'a.png'), path.join(dir, 'near.png'));
    expect(n.problems).toEqual([]);
    expect(n.maxAbs).toBe(1);
    const f = await compareImages(path.join(dir, 'a.png'), path.join(dir, 'far.png'));
    expect(f.problems.join()).toMatch(/PSNR \d+\.\d dB \(< 45\)/);
  });
});

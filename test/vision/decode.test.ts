import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { type Face, iou, nms } from '../../src/vision/face.js';
import { NchwBgrTensor } from '../../src/vision/tensor.js';
import { decodeYuNet, type StrideOutputs } from '../../src/vision/yunet-decode.js';
import { repoRoot } from '../helpers/tmp.js';

function emptyOutputs(padW: number, padH: number): StrideOutputs[] {
  return [8, 16, 32].map((s) => {
    const n = (padW / s) * (padH / s);
    return {
      cls: new Float32Array(n),
      obj: new Float32Array(n),
      bbox: new Float32Array(n * 4),
      kps: new Float32Array(n * 10),
    };
  });
}

const face = (x: number, y: number, w: number, h: number, score: number): Face => ({
  box: [x, y, w, h],
  score,
  landmarks: [],
});

describe('decodeYuNet', () => {
  test('decodes one cell per the MANIFEST formulas', () => {
    const out = emptyOutputs(64, 32);
    // stride 16, cols = 4: cell r=1, c=2 → idx 6
    const s16 = out[1];
    s16.cls[6] = 0.81;
    s16.obj[6] = 1.3; // clamped to 1
    s16.bbox.set([0.5, 0.25, Math.log(2), Math.log(3)], 24);
    s16.kps.set([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], 60);
    const faces = decodeYuNet(out, 64, 32, 0.6);
    expect(faces).toHaveLength(1);
    const f = faces[0];
    expect(f.score).toBeCloseTo(0.9, 6);
    const cx = (2 + 0.5) * 16;
    const cy = (1 + 0.25) * 16;
    expect(f.box[0]).toBeCloseTo(cx - 16, 4);
    expect(f.box[1]).toBeCloseTo(cy - 24, 4);
    expect(f.box[2]).toBeCloseTo(32, 4);
    expect(f.box[3]).toBeCloseTo(48, 4);
    expect(f.landmarks[0][0]).toBeCloseTo((0.1 + 2) * 16, 4);
    expect(f.landmarks[0][1]).toBeCloseTo((0.2 + 1) * 16, 4);
    expect(f.landmarks[4][1]).toBeCloseTo((1.0 + 1) * 16, 4);
  });

  test('threshold is on √(cls·obj); negative products never pass', () => {
    const out = emptyOutputs(32, 32);
    out[0].cls[0] = 0.36;
    out[0].obj[0] = 1; // score 0.6
    out[0].cls[1] = 0.35;
    out[0].obj[1] = 1; // 0.59
    out[0].cls[2] = -1;
    out[0].obj[2] = -1;
    expect(decodeYuNet(out, 32, 32, 0.6).map((f) => f.score)).toHaveLength(1);
    expect(decodeYuNet(out, 32, 32, 0.5)).toHaveLength(2); // neighbouring 8×8 boxes only touch: both kept
  });
});

describe('nms', () => {
  test('keeps the best of overlapping boxes (IoU > 0.3) and separate ones', () => {
    const faces = [
      face(0, 0, 100, 100, 0.7),
      face(10, 10, 100, 100, 0.9),
      face(300, 300, 50, 50, 0.8),
      face(60, 0, 100, 100, 0.75),
    ];
    // 0 vs 1: IoU 0.68; 3 vs 1: overlap 50x90 → 4500/(20000-4500)=0.29 → kept
    expect(nms(faces, 0.3)).toEqual([1, 2, 3]);
  });
  test('iou', () => {
    expect(iou([0, 0, 10, 10], [5, 0, 10, 10])).toBeCloseTo(50 / 150);
    expect(iou([0, 0, 10, 10], [20, 20, 5, 5])).toBe(0);
  });
});

describe('NchwBgrTensor', () => {
  function naive(rgb: Uint8Array, w: number, h: number, pw: number, ph: number): Float32Array {
    const out = new Float32Array(3 * pw * ph);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < 3; c++) out[(2 - c) * pw * ph + y * pw + x] = rgb[(y * w + x) * 3 + c];
      }
    }
    return out;
  }
  const rand = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 2654435761) >>> 24);

  test.each([
    [32, 24, 32, 32],
    [33, 7, 64, 32],
    [320, 240, 320, 256],
    // the SIMD kernel takes 16 pixels a step: widths below, at and around a multiple of 16 exercise its tail loop
    [1, 1, 32, 32],
    [15, 3, 32, 32],
    [17, 5, 32, 32],
    [47, 3, 64, 32],
    [637, 211, 640, 224],
    [640, 480, 640, 480],
  ])('%ix%i into %ix%i matches the per-pixel definition (BGR planes, zero padding)', (w, h, pw, ph) => {
    const t = new NchwBgrTensor(pw, ph);
    // dirty the buffer with a bigger image first: padding must be re-zeroed
    t.fill(rand(pw * ph * 3), pw, ph);
    const rgb = rand(w * h * 3);
    t.fill(rgb, w, h);
    expect(t.data).toEqual(naive(rgb, w, h, pw, ph));
  });

  test('an unaligned buffer view is handled', () => {
    const backing = rand(1 + 8 * 4 * 3);
    const view = backing.subarray(1);
    const t = new NchwBgrTensor(32, 32);
    t.fill(view, 8, 4);
    expect(t.data).toEqual(naive(view, 8, 4, 32, 32));
  });

  test('two tensors keep their own buffers', () => {
    const a = new NchwBgrTensor(32, 32);
    const b = new NchwBgrTensor(32, 32);
    const ra = rand(20 * 10 * 3);
    const rb = ra.map((v) => 255 - v);
    a.fill(ra, 20, 10);
    b.fill(rb, 20, 10);
    expect(a.data).toEqual(naive(ra, 20, 10, 32, 32));
    expect(b.data).toEqual(naive(rb, 20, 10, 32, 32));
  });

  test('the generated WebAssembly module matches its source (npm run wasm)', () => {
    const script = path.join(repoRoot, 'dist/scripts/wasm.js');
    if (!existsSync(script)) spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, stdio: 'inherit' });
    const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  test('rejects images larger than the tensor or short buffers', () => {
    const t = new NchwBgrTensor(32, 32);
    expect(() => t.fill(new Uint8Array(33 * 3), 33, 1)).toThrow(RangeError);
    expect(() => t.fill(new Uint8Array(10), 4, 4)).toThrow(RangeError);
  });
});

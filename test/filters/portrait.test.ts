import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeForAnalysis } from '../../src/analysis/analyzer.js';
import { resampleGrid } from '../../src/analysis/mask-upscale.js';
import { FilterModels } from '../../src/filters/models.js';
import { runPipeline } from '../../src/filters/pipeline.js';
import { dirResolver } from '../../src/models/resolver.js';
import { UnavailableError } from '../../src/util/errors.js';
import { makeAnalyzer } from '../analysis/helpers.js';
import * as h from './helpers.js';

const W = 1600;
const H = 1200;
const S = 900;
/** A fine two-colour checker: blurred, it becomes their average C; any colour of the person bleeding out shows. */
const A = [40, 150, 90];
const B = [20, 90, 160];
const C = [30, 120, 125];
/** "No halo beyond N px": past N pixels outside the person the output is the blurred background alone. */
const N = 8;

/** Chessboard distance of every pixel to the nearest pixel where `mask` is `!inside`. */
function distance(mask: Uint8Array, inside: boolean): Float32Array {
  const d = new Float32Array(W * H).fill(1e9);
  for (let i = 0; i < W * H; i++) if ((mask[i] === 1) !== inside) d[i] = 0;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      if (x) d[i] = Math.min(d[i], d[i - 1] + 1);
      if (y) d[i] = Math.min(d[i], d[i - W] + 1);
    }
  for (let y = H - 1; y >= 0; y--)
    for (let x = W - 1; x >= 0; x--) {
      const i = y * W + x;
      if (x < W - 1) d[i] = Math.min(d[i], d[i + 1] + 1);
      if (y < H - 1) d[i] = Math.min(d[i], d[i + W] + 1);
    }
  return d;
}

describe('portrait: background blur with the person mask', () => {
  const t = h.tempDir();
  const composite = path.join(t.dir, 'composite.png');
  const person = new Uint8Array(W * H);
  let comp: Buffer;
  let face: { box: [number, number, number, number] };

  beforeAll(async () => {
    // the astronaut cut out along her own person mask (thresholded: a hard ground-truth edge), pasted at the bottom
    // of a textured background, as a portrait is framed
    const a = makeAnalyzer();
    const m = await a.personMask((await decodeForAnalysis(h.astronaut, 512)).img);
    await a.close();
    const prob = resampleGrid(m.data, m.width, m.height, S, S);
    const big = await sharp(h.astronaut).resize(S, S).raw().toBuffer();
    comp = Buffer.alloc(W * H * 3);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) comp.set(((x >> 3) + (y >> 3)) & 1 ? A : B, (y * W + x) * 3);
    const left = (W - S) >> 1;
    const top = H - S;
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        if (prob[y * S + x] < 0.5) continue;
        const o = (top + y) * W + left + x;
        person[o] = 1;
        big.copy(comp, o * 3, (y * S + x) * 3, (y * S + x) * 3 + 3);
      }
    await sharp(comp, { raw: { width: W, height: H, channels: 3 } })
      .png()
      .toFile(composite);
    const k = S / 512;
    face = { box: [left + 178 * k, top + 63 * k, 90 * k, 113 * k] };
  }, 60_000);
  afterAll(() => t.cleanup());

  const inFace = (i: number) => {
    const [fx, fy, fw, fh] = face.box;
    const x = i % W;
    const y = Math.floor(i / W);
    return x > fx - fw * 0.35 && x < fx + fw * 1.35 && y > fy - fh * 0.35 && y < fy + fh * 1.35;
  };

  it('blurs the background, keeps the person sharp, and leaves no halo beyond N px', async () => {
    const deps = h.makeDeps(t.dir, { faces: new h.FakeFaceFinder([face]) });
    const out = path.join(t.dir, 'portrait.png');
    await runPipeline(deps, deps.registry.resolve('portrait', { blur: 0.6, smooth: 0 }), composite, out);
    await deps.models.releaseAll();
    const res = (await h.readRaw(out)).data;
    const outside = distance(person, false);
    const inside = distance(person, true);
    const meanDiff = (pick: (i: number) => boolean, ref: (i: number, c: number) => number) => {
      let s = 0;
      let n = 0;
      for (let i = 0; i < W * H; i++) {
        if (!pick(i)) continue;
        for (let c = 0; c < 3; c++) s += Math.abs(res[i * 3 + c] - ref(i, c));
        n += 3;
      }
      return s / n;
    };
    // the texture deviates from C by 10–35 levels everywhere; blurred it is C
    const far = meanDiff(
      (i) => !person[i] && outside[i] > 64,
      (_, c) => C[c],
    );
    const band = meanDiff(
      (i) => !person[i] && outside[i] > N && outside[i] <= N + 24,
      (_, c) => C[c],
    );
    // the person (away from the edge; the face itself is also denoised by the filter) is untouched
    const sharpPerson = meanDiff(
      (i) => person[i] === 1 && inside[i] > N && !inFace(i),
      (i, c) => comp[i * 3 + c],
    );
    console.log(`portrait composite: far ${far.toFixed(2)}, band ${band.toFixed(2)}, person ${sharpPerson.toFixed(2)}`);
    expect(far).toBeLessThan(1.5);
    expect(band).toBeLessThan(5);
    expect(sharpPerson).toBeLessThan(3);
  }, 120_000);

  it('falls back to feathered face ellipses when the person mask cannot be had', async () => {
    const real = dirResolver(h.modelsDir);
    const models = new FilterModels(
      async (name) => {
        if (name.startsWith('selfie_seg')) throw new UnavailableError(`model ${name}: not installed`, 'model-missing');
        return real(name);
      },
      h.sessionOpts,
      0,
    );
    const deps = h.makeDeps(t.dir, { faces: new h.FakeFaceFinder([face]), models });
    const out = path.join(t.dir, 'fallback.png');
    await runPipeline(deps, deps.registry.resolve('portrait', { blur: 0.6, smooth: 0 }), composite, out);
    await models.releaseAll();
    const res = (await h.readRaw(out)).data;
    const [fx, fy, fw, fh] = face.box;
    const at = (x: number, y: number) => Math.round(y) * W + Math.round(x);
    // the face centre is kept (only the mild denoise of the face), the suit far below it is blurred
    const patch = (cx: number, cy: number) => {
      let s = 0;
      for (let y = -20; y < 20; y++)
        for (let x = -20; x < 20; x++) {
          const i = at(cx + x, cy + y) * 3;
          s += Math.abs(res[i] - comp[i]) + Math.abs(res[i + 1] - comp[i + 1]) + Math.abs(res[i + 2] - comp[i + 2]);
        }
      return s / (40 * 40 * 3);
    };
    expect(patch(fx + fw / 2, fy + fh / 2)).toBeLessThan(6);
    expect(patch(W * 0.1, H * 0.2)).toBeGreaterThan(8); // the checker blurred away (C is 10+ levels off)
  }, 120_000);

  it('no person and no face: the photo comes out unchanged', async () => {
    const plain = path.join(t.dir, 'plain.png');
    await sharp({ create: { width: 320, height: 240, channels: 3, background: '#3a6d55' } })
      .png()
      .toFile(plain);
    const deps = h.makeDeps(t.dir, { faces: new h.FakeFaceFinder([]) });
    const out = path.join(t.dir, 'plain-out.png');
    await runPipeline(deps, deps.registry.resolve('portrait'), plain, out);
    expect((await h.readRaw(out)).data.equals((await h.readRaw(plain)).data)).toBe(true);
  });

  it('12 MP: pinhole filter portrait peaks at ≤ 256 MB RSS and writes a full-size photo', async () => {
    if (!existsSync(path.join(h.repoRoot, 'dist/src/cli/main.js')))
      execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: h.repoRoot, stdio: 'pipe' });
    const big = path.join(t.dir, 'big.jpg');
    await sharp(composite).resize(4056, 3040, { fit: 'fill' }).jpeg({ quality: 90 }).toFile(big);
    const out = path.join(t.dir, 'big-out.jpg');
    const r = h.filterPeakRss('portrait', big, out);
    expect(r.status, r.stderr).toBe(0);
    console.log(`pinhole filter portrait 4056x3040: max RSS ${r.mb.toFixed(0)} MB`);
    expect(r.mb).toBeGreaterThan(0);
    expect(r.mb).toBeLessThanOrEqual(256);
    const meta = await sharp(out).metadata();
    expect([meta.width, meta.height]).toEqual([4056, 3040]);
  }, 600_000);
});

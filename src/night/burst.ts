import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { decodeToV, probeImage, RowReader, RowWriter } from '../filters/raw-image.js';
import { abortError } from '../filters/tiled-model.js';
import { TEMP_MARK } from '../util/atomic-write.js';
import { ValidationError } from '../util/errors.js';
import {
  alignPyramid,
  alignTile,
  fieldAt,
  fitSimilarity,
  newField,
  type Similarity,
  similarityAngle,
  similarityAt,
  ssdAt,
  type TileField,
  tileTexture,
  win,
} from './align.js';
import {
  CONTENT_SPREAD_EV,
  EXPOSURE_QUANTILES,
  exposureDifferenceEv,
  exposureRatioSpread,
  linearQuantiles,
  readExifExposure,
} from './exposure.js';
import {
  BOX_RADIUS,
  ERODE_RADIUS,
  finishStrip,
  MergeScratch,
  type MergeStripInput,
  mergeInto,
  type Rows,
  sourceRows,
  startStrip,
} from './merge.js';
import { NoiseEstimator, type NoiseProfile } from './noise.js';
import { blur121, lumaOf, type Plane, plane, pyramid } from './plane.js';

/** Full-resolution alignment tile (pixels). HDR+ uses 16 on half-resolution raw; 32 on demosaicked RGB. */
export const TILE = 32;
/** Coarse alignment tile (pixels of the coarse image). */
const COARSE_TILE = 16;
/** Longest side of the coarse image the pyramid starts from. */
const COARSE_MAX = 1024;
/** Output rows merged at a time. */
const STRIP = 64;
/** Weight map bytes per unit of merge weight (at most 16 frames: 255). */
export const WEIGHT_SCALE = 16;
/** Frames whose exposure differs from the reference by more than this many stops are refused. */
export const MAX_EXPOSURE_EV = 0.25;
/** A frame with more than this fraction of its tiles rejected is left out altogether. */
const FRAME_REJECT = 0.85;

export interface NightOptions {
  /** Where the decoded frames (`.v`, 3 bytes per pixel each) go: the same disk as the output, never a RAM /tmp. */
  workDir: string;
  maxInputMegapixels?: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
  /** Plain average of the aligned frames (no robustness): a reference point for tests and the bench. */
  plain?: boolean;
  /** The reference is already decoded to this `.v` file (the filter pipeline has done it). */
  referenceV?: string;
  /**
   * Also write the merge's weight per pixel here (one byte each, Σ weights × 16, no header): how many frames'
   * worth of averaging each pixel got, for the merge-aware denoise pass.
   */
  weightsOut?: string;
  /** Receives the noise profile measured in the reference. */
  onNoise?: (noise: NoiseProfile) => void;
}

export interface NightReport {
  frames: number;
  width: number;
  height: number;
  /** Per frame: [dx, dy, angleDeg] of its content relative to the reference (reference: [0, 0, 0]). */
  shifts: [number, number, number][];
  /** (frame, tile) pairs whose pixels were mostly left out of the merge (something moved or did not line up). */
  rejectedTiles: number;
  /** Tiles per frame (the grid of `tile` pixels). */
  tilesPerFrame: number;
  tile: number;
  /** Frames left out entirely (index into the input list). */
  droppedFrames: number[];
  /** Nothing lined up: the output is the reference frame alone. */
  fellBack: boolean;
  reason?: string;
  /** Mean noise σ (8-bit units) the merge measured in the reference. */
  noiseSigma: number;
  ms: number;
}

const r2 = (v: number) => Math.round(v * 100) / 100;

/**
 * Merges a burst (the first frame is the reference) into `outV`, a `.v` image the size of the reference. Memory
 * stays at a few strips of the photo whatever its size or the number of frames: every frame is decoded once to a
 * `.v` file and read back strip by strip (alignment pass, then merge pass); only a ≤1024-pixel grey copy per frame
 * is held whole, one at a time.
 */
export async function mergeBurst(frames: string[], outV: string, opts: NightOptions): Promise<NightReport> {
  const t0 = performance.now();
  if (frames.length < 1) throw new ValidationError('a burst needs at least one frame', undefined, 'burst-empty');
  const check = () => {
    if (opts.signal?.aborted) throw abortError(opts.signal);
  };
  const progress = (f: number) => opts.onProgress?.(Math.min(1, Math.max(0, f)));
  const maxMp = opts.maxInputMegapixels ?? 200;

  const sizes = await Promise.all(frames.map((f) => probeImage(f, maxMp)));
  const { width: W, height: H } = sizes[0];
  sizes.forEach((s, i) => {
    if (s.width !== W || s.height !== H)
      throw new ValidationError(
        `frame ${i + 1} (${path.basename(frames[i])}) is ${s.width}x${s.height} but the reference is ${W}x${H}: all frames of a burst must have one size`,
        { frame: i, width: s.width, height: s.height },
        'burst-size',
      );
  });
  await checkExifExposure(frames);

  await fs.mkdir(opts.workDir, { recursive: true });
  const temps: string[] = [];
  const temp = (suffix: string) => {
    const f = path.join(opts.workDir, `${TEMP_MARK}night-${process.pid}-${randomBytes(5).toString('hex')}${suffix}`);
    temps.push(f);
    return f;
  };
  const readers: RowReader[] = [];
  let writer: RowWriter | undefined;
  let weights: fs.FileHandle | undefined;
  try {
    // 1. Coarse grey copies (shrink-on-load for JPEG), the exposure check, and the coarse alignment per frame.
    const S = coarseFactor(W, H);
    const cw = Math.max(1, Math.round(W / S));
    const ch = Math.max(1, Math.round(H / S));
    const sx = W / cw;
    const sy = H / ch;
    const refCoarse = await coarseRgb(frames[0], cw, ch);
    const refQ = linearQuantiles(refCoarse, EXPOSURE_QUANTILES);
    const refPyr = pyramid(blur121(plane(cw, ch, lumaOf(refCoarse, cw, ch))));
    const coarse: { field: TileField; model: Similarity }[] = [];
    for (let i = 1; i < frames.length; i++) {
      check();
      const rgb = await coarseRgb(frames[i], cw, ch);
      const q = linearQuantiles(rgb, EXPOSURE_QUANTILES);
      const ev = exposureDifferenceEv(refQ, q);
      // another scene altogether is not refused here: the alignment finds nothing and the frame is left out
      if (Math.abs(ev) > MAX_EXPOSURE_EV && exposureRatioSpread(refQ, q) <= CONTENT_SPREAD_EV)
        throw new ValidationError(
          `frame ${i + 1} (${path.basename(frames[i])}) is ${Math.abs(ev).toFixed(2)} EV ${ev > 0 ? 'brighter' : 'darker'} than the reference: all frames of a burst must have the same exposure (at most ${MAX_EXPOSURE_EV} EV apart)`,
          { frame: i, ev: r2(ev) },
          'burst-exposure',
        );
      const altPyr = pyramid(blur121(plane(cw, ch, lumaOf(rgb, cw, ch))));
      const field = alignPyramid(refPyr, altPyr, { tile: COARSE_TILE, radius: 2 });
      const tex = textureOf(refPyr[0], field);
      const model = fitSimilarity(field, cw, ch, (k) => tex[k]);
      coarse.push({ field, model });
      progress((0.1 * i) / frames.length);
    }

    // 2. Decode every frame once to a `.v` file.
    const vs: string[] = [];
    for (let i = 0; i < frames.length; i++) {
      check();
      if (i === 0 && opts.referenceV) vs.push(opts.referenceV);
      else {
        const v = temp('.v');
        await unreadableAsValidation(frames[i], () => decodeToV(frames[i], v));
        vs.push(v);
      }
      progress(0.1 + (0.15 * (i + 1)) / frames.length);
    }
    for (const v of vs) readers.push(await RowReader.open(v));
    const ref = readers[0];

    // 3. Noise of the reference, per brightness and channel.
    const est = new NoiseEstimator();
    for (let y = 0; y < H; y += STRIP) {
      const n = Math.min(STRIP, H - y);
      est.add(await ref.read(y, n), W, n);
    }
    const noise = est.finish();
    opts.onNoise?.(noise);
    check();

    // 4. Full-resolution tile alignment, strip of tiles by strip of tiles.
    const fullFields = frames.slice(1).map(() => newField(W, H, TILE));
    const tileWeights = frames.slice(1).map(() => new Float32Array(fullFields[0].cols * fullFields[0].rows));
    const models: Similarity[] = [];
    const grid = fullFields[0];
    const local = frames.slice(1).map(() => ({
      dx: new Float32Array(grid.cols * grid.rows),
      dy: new Float32Array(grid.cols * grid.rows),
      cost: new Float32Array(grid.cols * grid.rows),
      modelCost: new Float32Array(grid.cols * grid.rows),
      tex: new Float32Array(grid.cols * grid.rows),
      energy: new Float32Array(grid.cols * grid.rows),
      luma: new Float32Array(grid.cols * grid.rows),
    }));
    const coarseToFull = (c: { field: TileField; model: Similarity }, x: number, y: number): [number, number] => {
      const [dx, dy] = fieldAt(c.field, x / sx, y / sy);
      return [dx * sx, dy * sy];
    };
    for (let ty = 0; ty < grid.rows; ty++) {
      check();
      const y0 = ty * TILE;
      const y1 = Math.min(H, y0 + TILE);
      const ra = Math.max(0, y0 - 2);
      const rb = Math.min(H, y1 + 2);
      const refRows = await ref.read(ra, rb - ra);
      const refWin = win(blur121(plane(W, rb - ra, lumaOf(refRows, W, rb - ra))), 0, ra);
      for (let z = 0; z < frames.length - 1; z++) {
        const inits: [number, number][] = [];
        let lo = Number.POSITIVE_INFINITY;
        let hi = Number.NEGATIVE_INFINITY;
        for (let tx = 0; tx < grid.cols; tx++) {
          const cx = Math.min(W, tx * TILE + TILE / 2);
          const d = coarseToFull(coarse[z], cx, (y0 + y1) / 2);
          inits.push(d);
          lo = Math.min(lo, d[1]);
          hi = Math.max(hi, d[1]);
        }
        const aa = Math.max(0, Math.floor(y0 + lo) - 6);
        const ab = Math.min(H, Math.ceil(y1 + hi) + 6);
        if (ab - aa < 2) continue; // the whole strip falls outside this frame: its tiles stay rejected
        const altRows = await readers[z + 1].read(aa, ab - aa);
        const altWin = win(blur121(plane(W, ab - aa, lumaOf(altRows, W, ab - aa))), 0, aa);
        const L = local[z];
        for (let tx = 0; tx < grid.cols; tx++) {
          const rect = { x: tx * TILE, y: y0, w: Math.min(TILE, W - tx * TILE), h: y1 - y0 };
          const k = ty * grid.cols + tx;
          const res = alignTile(refWin, altWin, rect, inits[tx], 1, 3);
          L.dx[k] = res.dx;
          L.dy[k] = res.dy;
          L.cost[k] = res.cost;
          const [mx, my] = modelAt(coarse[z].model)(rect.x + rect.w / 2, rect.y + rect.h / 2, sx, sy);
          L.modelCost[k] = ssdAt(refWin, altWin, rect, mx, my);
          const t = tileStats(refWin, rect);
          L.tex[k] = t.texture;
          L.energy[k] = t.energy;
          L.luma[k] = t.mean;
        }
      }
      progress(0.25 + (0.25 * (ty + 1)) / grid.rows);
    }

    // 5. Per frame: the global model (reported shift), the field (local where it clearly beats the model), tile
    // weights from the residual the noise cannot explain.
    const dropped: number[] = [];
    for (let z = 0; z < frames.length - 1; z++) {
      const L = local[z];
      const F = fullFields[z];
      const texMed = median(L.tex);
      const model = fitSimilarity({ ...F, dx: L.dx, dy: L.dy }, W, H, (k) =>
        Number.isFinite(L.cost[k]) && L.tex[k] > 0.2 * texMed ? L.tex[k] : 0,
      );
      models.push(model);
      let bad = 0;
      for (let k = 0; k < F.dx.length; k++) {
        const tx = k % F.cols;
        const ty = Math.floor(k / F.cols);
        const [mx, my] = similarityAt(model, Math.min(W, tx * TILE + TILE / 2), Math.min(H, ty * TILE + TILE / 2));
        // σ² of the blurred luma: the [1 2 1]/4 blur keeps (6/16)² of white noise; misalignment by ~0.1 px adds
        // 0.01·|∇|².
        const expected = 2 * 0.14 * lumaNoise(noise, L.luma[k]) + 0.01 * L.energy[k] + 0.5;
        const useLocal =
          Number.isFinite(L.cost[k]) &&
          (!Number.isFinite(L.modelCost[k]) || L.cost[k] < 0.8 * L.modelCost[k] - 0.5 * expected);
        F.dx[k] = useLocal ? L.dx[k] : mx;
        F.dy[k] = useLocal ? L.dy[k] : my;
        const cost = useLocal ? L.cost[k] : L.modelCost[k];
        const ratio = Number.isFinite(cost) ? cost / expected : Number.POSITIVE_INFINITY;
        const w = ratio <= 3 ? 1 : ratio >= 12 ? 0 : 1 - (ratio - 3) / 9;
        tileWeights[z][k] = w;
        if (w < 0.5) bad++;
      }
      if (bad > FRAME_REJECT * F.dx.length) {
        dropped.push(z + 1);
        tileWeights[z].fill(0);
      }
    }

    // 6. Merge, strip by strip, into the output.
    const tiles = grid.cols * grid.rows;
    const stats = frames.slice(1).map(() => ({ w: new Float64Array(tiles), n: new Float64Array(tiles) }));
    const fellBack = frames.length > 1 && dropped.length === frames.length - 1;
    writer = await RowWriter.create(outV, W, H);
    weights = opts.weightsOut ? await fs.open(opts.weightsOut, 'w') : undefined;
    const wbytes = Buffer.allocUnsafe(STRIP * W);
    const acc = new Float32Array(STRIP * W * 3);
    const wsum = new Float32Array(STRIP * W);
    const out = Buffer.allocUnsafe(STRIP * W * 3);
    const scratch = new MergeScratch();
    for (let y0 = 0; y0 < H; y0 += STRIP) {
      check();
      const y1 = Math.min(H, y0 + STRIP);
      const ra = Math.max(0, y0 - BOX_RADIUS - ERODE_RADIUS);
      const rb = Math.min(H, y1 + BOX_RADIUS + ERODE_RADIUS);
      const refRows: Rows = { data: await ref.read(ra, rb - ra), y0: ra, rows: rb - ra, width: W };
      const s: MergeStripInput = { ref: refRows, y0, y1, height: H, noise, acc, wsum };
      startStrip(s);
      for (let z = 0; z < frames.length - 1 && !fellBack; z++) {
        if (dropped.includes(z + 1)) continue;
        const [aa, ab] = sourceRows(fullFields[z], ra, rb, W, H);
        if (ab - aa < 1) continue;
        const rows: Rows = { data: await readers[z + 1].read(aa, ab - aa), y0: aa, rows: ab - aa, width: W };
        mergeInto(
          s,
          {
            rows,
            field: fullFields[z],
            tileWeight: tileWeights[z],
            tileWsum: stats[z].w,
            tileCount: stats[z].n,
            plain: opts.plain,
          },
          scratch,
        );
      }
      finishStrip(s, out);
      await writer.write(out, y1 - y0);
      if (weights) {
        const n = (y1 - y0) * W;
        for (let i = 0; i < n; i++) wbytes[i] = Math.min(255, Math.round(wsum[i] * WEIGHT_SCALE));
        await weights.write(wbytes, 0, n, y0 * W);
      }
      progress(0.5 + (0.5 * y1) / H);
    }
    await writer.close();
    writer = undefined;
    await weights?.close();
    weights = undefined;

    let rejected = 0;
    for (let z = 0; z < frames.length - 1; z++) {
      if (fellBack || dropped.includes(z + 1)) {
        rejected += tiles;
        continue;
      }
      for (let k = 0; k < tiles; k++) if (stats[z].n[k] === 0 || stats[z].w[k] / stats[z].n[k] < 0.5) rejected++;
    }
    const shifts: [number, number, number][] = [[0, 0, 0]];
    for (const m of models) shifts.push([r2(m.tx), r2(m.ty), Math.round(similarityAngle(m) * 1000) / 1000]);
    return {
      frames: frames.length,
      width: W,
      height: H,
      shifts,
      rejectedTiles: rejected,
      tilesPerFrame: tiles,
      tile: TILE,
      droppedFrames: dropped,
      fellBack,
      ...(fellBack
        ? {
            reason:
              'no other frame lines up with the reference (the scene or the camera moved too much): the result is the reference frame alone',
          }
        : dropped.length
          ? { reason: `frame(s) ${dropped.map((d) => d + 1).join(', ')} did not line up and were left out` }
          : {}),
      noiseSigma: r2(noise.meanSigma()),
      ms: Math.round(performance.now() - t0),
    };
  } catch (e) {
    await writer?.abandon();
    await weights?.close().catch(() => {});
    throw e;
  } finally {
    await Promise.all(readers.map((r) => r.close().catch(() => {})));
    await Promise.all(temps.map((t) => fs.rm(t, { force: true })));
  }
}

function modelAt(m: Similarity) {
  return (x: number, y: number, sx: number, sy: number): [number, number] => {
    const [dx, dy] = similarityAt(m, x / sx, y / sy);
    return [dx * sx, dy * sy];
  };
}

/** Power of two that brings the longest side to ≤ COARSE_MAX. */
export function coarseFactor(width: number, height: number): number {
  let s = 1;
  while (Math.max(width, height) / s > COARSE_MAX) s *= 2;
  return s;
}

async function coarseRgb(file: string, w: number, h: number): Promise<Uint8Array> {
  return unreadableAsValidation(file, async () => {
    const { data } = await sharp(file, { limitInputPixels: false })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .resize(w, h, { fit: 'fill', kernel: 'cubic' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    return data;
  });
}

/** A frame the decoder cannot read (truncated, corrupt) is bad input naming the file, not an unexpected error. */
async function unreadableAsValidation<T>(file: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ValidationError || (e as Error)?.name === 'AbortError') throw e;
    throw new ValidationError(
      `cannot read burst frame ${path.basename(file)}: ${(e as Error).message ?? String(e)}`,
      { file: path.basename(file) },
      'burst-unreadable',
    );
  }
}

async function checkExifExposure(frames: string[]): Promise<void> {
  const exps = await Promise.all(
    frames.map(async (f) =>
      readExifExposure(
        (
          await sharp(f)
            .metadata()
            .catch(() => ({ exif: undefined }))
        ).exif,
      ),
    ),
  );
  const ref = exps[0];
  exps.forEach((e, i) => {
    if (i === 0) return;
    const diffs: string[] = [];
    if (ref.exposureS && e.exposureS && Math.abs(Math.log2(e.exposureS / ref.exposureS)) > 0.05)
      diffs.push(`exposure ${fmtExposure(e.exposureS)} vs ${fmtExposure(ref.exposureS)}`);
    if (ref.iso && e.iso && Math.abs(Math.log2(e.iso / ref.iso)) > 0.05) diffs.push(`ISO ${e.iso} vs ${ref.iso}`);
    if (diffs.length)
      throw new ValidationError(
        `frame ${i + 1} (${path.basename(frames[i])}) was taken with other settings than the reference (${diffs.join(', ')}): all frames of a burst must have the same exposure`,
        { frame: i },
        'burst-exposure',
      );
  });
}

function fmtExposure(s: number): string {
  return s >= 1 ? `${s} s` : `1/${Math.round(1 / s)} s`;
}

function textureOf(p: Plane, f: TileField): Float32Array {
  const t = new Float32Array(f.cols * f.rows);
  for (let ty = 0; ty < f.rows; ty++)
    for (let tx = 0; tx < f.cols; tx++) {
      const rect = {
        x: tx * f.tile,
        y: ty * f.tile,
        w: Math.min(f.tile, p.width - tx * f.tile),
        h: Math.min(f.tile, p.height - ty * f.tile),
      };
      t[ty * f.cols + tx] = tileTexture(win(p), rect);
    }
  return t;
}

function tileStats(w: ReturnType<typeof win>, rect: { x: number; y: number; w: number; h: number }) {
  const p = w.p;
  let s = 0;
  let e = 0;
  let n = 0;
  for (let y = rect.y; y < rect.y + rect.h; y++) {
    const ry = y - w.y0;
    for (let x = rect.x; x < rect.x + rect.w; x++) {
      const i = ry * p.width + x - w.x0;
      s += p.data[i];
      if (ry > 0 && ry < p.height - 1 && x > 0 && x < p.width - 1) {
        const gx = 0.5 * (p.data[i + 1] - p.data[i - 1]);
        const gy = 0.5 * (p.data[i + p.width] - p.data[i - p.width]);
        e += gx * gx + gy * gy;
      }
      n++;
    }
  }
  return { mean: s / Math.max(1, n), energy: e / Math.max(1, n), texture: tileTexture(w, rect) };
}

function lumaNoise(noise: NoiseProfile, luma: number): number {
  return 0.299 * noise.at(luma, 0) + 0.587 * noise.at(luma, 1) + 0.114 * noise.at(luma, 2);
}

function median(a: Float32Array): number {
  const s = Float32Array.from(a).filter(Number.isFinite).sort();
  return s.length ? s[s.length >> 1] : 0;
}

import type { TileField } from './align.js';
import type { NoiseProfile } from './noise.js';

/**
 * The robust merge of one strip of output rows. Every other frame is warped onto the reference by its tile field
 * (bicubic), then weighted per pixel by how well it agrees with the reference: the difference is averaged over a
 * 5×5 window (which shrinks its noise by 25) and compared with the noise the photo itself shows at that
 * brightness. Agreement within the noise → full weight (static scene, averaging removes noise); a difference the
 * noise cannot explain → weight falls to zero (something moved: no ghost). This is the spatial-domain cousin of
 * HDR+'s per-tile Wiener merge (Hasinoff et al. 2016, §5), with a per-tile weight from the alignment residual on
 * top, so a tile that did not align at all is rejected whole.
 */

/** Packed RGB rows [y0, y0 + rows) of a frame. */
export interface Rows {
  data: Uint8Array;
  y0: number;
  rows: number;
  width: number;
}

export const BOX_RADIUS = 2;
/** Radius of the minimum filter over the agreement weights. */
export const ERODE_RADIUS = 1;
/** Agreement statistic q (≈1 for pure noise): full weight up to Q_FULL, none from Q_ZERO. */
export const Q_FULL = 4;
export const Q_ZERO = 16;

/** Keys cubic convolution weights (a = −0.5) for taps −1, 0, 1, 2 at fraction f. */
function cubicWeights(f: number, w: Float32Array): void {
  const a = -0.5;
  const t1 = 1 + f;
  const t2 = f;
  const t3 = 1 - f;
  const t4 = 2 - f;
  w[0] = a * t1 * t1 * t1 - 5 * a * t1 * t1 + 8 * a * t1 - 4 * a;
  w[1] = (a + 2) * t2 * t2 * t2 - (a + 3) * t2 * t2 + 1;
  w[2] = (a + 2) * t3 * t3 * t3 - (a + 3) * t3 * t3 + 1;
  w[3] = a * t4 * t4 * t4 - 5 * a * t4 * t4 + 8 * a * t4 - 4 * a;
}

/** Scratch for fieldRow: x then y of one row of tile columns (grown for a wider grid, e.g. the next, larger burst). */
let colCache = new Float32Array(0);

/** Field value of every column of one image row: interpolation along y once per tile column, then along x. */
export function fieldRow(f: TileField, y: number, width: number, outX: Float32Array, outY: Float32Array): void {
  const gy = Math.min(Math.max(y / f.tile - 0.5, 0), f.rows - 1);
  const y0 = Math.min(Math.floor(gy), Math.max(0, f.rows - 2));
  const y1 = Math.min(y0 + 1, f.rows - 1);
  const fy = gy - y0;
  if (colCache.length < 2 * f.cols) colCache = new Float32Array(2 * f.cols);
  const colX = colCache.subarray(0, f.cols);
  const colY = colCache.subarray(f.cols, 2 * f.cols);
  for (let c = 0; c < f.cols; c++) {
    colX[c] = (1 - fy) * f.dx[y0 * f.cols + c] + fy * f.dx[y1 * f.cols + c];
    colY[c] = (1 - fy) * f.dy[y0 * f.cols + c] + fy * f.dy[y1 * f.cols + c];
  }
  for (let x = 0; x < width; x++) {
    const gx = Math.min(Math.max(x / f.tile - 0.5, 0), f.cols - 1);
    const x0 = Math.min(Math.floor(gx), Math.max(0, f.cols - 2));
    const x1 = Math.min(x0 + 1, f.cols - 1);
    const fx = gx - x0;
    outX[x] = (1 - fx) * colX[x0] + fx * colX[x1];
    outY[x] = (1 - fx) * colY[x0] + fx * colY[x1];
  }
}

/** Per-tile values (weights) interpolated like the field. */
export function tileValueRow(v: Float32Array, f: TileField, y: number, width: number, out: Float32Array): void {
  fieldRow({ ...f, dx: v, dy: v }, y, width, out, out);
}

/** Rows of the image the warp of output rows [ya, yb) reads, given the field (taps reach 1 above, 2 below). */
export function sourceRows(f: TileField, ya: number, yb: number, width: number, height: number): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  const fx = new Float32Array(width);
  const fy = new Float32Array(width);
  for (const y of [ya, yb - 1]) {
    fieldRow(f, y, width, fx, fy);
    for (let x = 0; x < width; x++) {
      lo = Math.min(lo, y + fy[x]);
      hi = Math.max(hi, y + fy[x]);
    }
  }
  // The field is bilinear between tile centres, so its extremes over a band of rows are on the band's edges.
  const a = Math.max(0, Math.floor(lo) - 2);
  const b = Math.min(height, Math.ceil(hi) + 3);
  return [Math.min(a, b), Math.max(a, b)];
}

/**
 * Warps rows [ya, yb) of a frame onto the reference grid. `valid[i]` is 0 where the frame did not see the
 * reference pixel (outside its borders).
 */
export function warpRows(
  src: Rows,
  field: TileField,
  ya: number,
  yb: number,
  height: number,
  out: Float32Array,
  valid: Uint8Array,
  scratch?: { fx: Float32Array; fy: Float32Array },
): void {
  const W = src.width;
  const fx = scratch && scratch.fx.length >= W ? scratch.fx : new Float32Array(W);
  const fy = scratch && scratch.fy.length >= W ? scratch.fy : new Float32Array(W);
  const wx = new Float32Array(4);
  const wy = new Float32Array(4);
  const d = src.data;
  const lastRow = src.y0 + src.rows - 1;
  for (let y = ya; y < yb; y++) {
    fieldRow(field, y, W, fx, fy);
    const ro = (y - ya) * W;
    for (let x = 0; x < W; x++) {
      const sx = x + fx[x];
      const sy = y + fy[x];
      const o = (ro + x) * 3;
      if (sx < 0 || sy < 0 || sx > W - 1 || sy > height - 1) {
        valid[ro + x] = 0;
        out[o] = 0;
        out[o + 1] = 0;
        out[o + 2] = 0;
        continue;
      }
      valid[ro + x] = 1;
      const ix = Math.floor(sx);
      const iy = Math.floor(sy);
      cubicWeights(sx - ix, wx);
      cubicWeights(sy - iy, wy);
      let r = 0;
      let g = 0;
      let b = 0;
      if (ix >= 1 && ix + 2 < W && iy - 1 >= src.y0 && iy + 2 <= lastRow) {
        // all 16 taps inside: no clamping (nearly every pixel)
        let k = ((iy - 1 - src.y0) * W + ix - 1) * 3;
        const step = (W - 4) * 3;
        for (let j = 0; j < 4; j++, k += step) {
          const wj = wy[j];
          for (let i = 0; i < 4; i++, k += 3) {
            const w = wj * wx[i];
            r += w * d[k];
            g += w * d[k + 1];
            b += w * d[k + 2];
          }
        }
      } else {
        for (let j = 0; j < 4; j++) {
          let yy = iy - 1 + j;
          yy = yy < src.y0 ? src.y0 : Math.min(yy, lastRow);
          const rowBase = (yy - src.y0) * W;
          const wj = wy[j];
          for (let i = 0; i < 4; i++) {
            let xx = ix - 1 + i;
            xx = xx < 0 ? 0 : xx >= W ? W - 1 : xx;
            const k = (rowBase + xx) * 3;
            const w = wj * wx[i];
            r += w * d[k];
            g += w * d[k + 1];
            b += w * d[k + 2];
          }
        }
      }
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
    }
  }
}

export interface MergeStripInput {
  /** Reference rows covering [y0 − BOX_RADIUS − ERODE_RADIUS, y1 + BOX_RADIUS + ERODE_RADIUS), clamped. */
  ref: Rows;
  /** Output rows. */
  y0: number;
  y1: number;
  height: number;
  noise: NoiseProfile;
  /** Accumulators for output rows [y0, y1): Σ w·value (×3) and Σ w. Start them with the reference (weight 1). */
  acc: Float32Array;
  wsum: Float32Array;
}

export interface AltFrame {
  rows: Rows;
  field: TileField;
  /** Weight per tile of `field` from the alignment residual, 0..1. */
  tileWeight: Float32Array;
  /** Σ pixel weight and pixel count per tile of `field`, for the rejected-tile count. */
  tileWsum: Float64Array;
  tileCount: Float64Array;
  /** Plain average instead of the robust merge (a reference point for tests and the bench). */
  plain?: boolean;
}

/** Buffers of one strip, reused for every frame and strip (a 12 MP merge would otherwise allocate GBs). */
export class MergeScratch {
  warped = new Float32Array(0);
  valid = new Uint8Array(0);
  hsum = new Float32Array(0);
  diff = new Float32Array(0);
  box = new Float32Array(0);
  pw = new Float32Array(0);
  hmin = new Float32Array(0);
  tw = new Float32Array(0);
  fx = new Float32Array(0);
  fy = new Float32Array(0);

  ensure(width: number, rows: number): void {
    const n = width * rows;
    if (this.valid.length < n) {
      this.warped = new Float32Array(n * 3);
      this.valid = new Uint8Array(n);
      this.hsum = new Float32Array(n * 3);
      this.diff = new Float32Array(n * 3);
      this.pw = new Float32Array(n);
      this.hmin = new Float32Array(n);
    }
    if (this.box.length < width * 3) this.box = new Float32Array(width * 3);
    if (this.tw.length < width) {
      this.tw = new Float32Array(width);
      this.fx = new Float32Array(width);
      this.fy = new Float32Array(width);
    }
  }
}

/** Adds one warped, weighted frame into the strip's accumulators. */
export function mergeInto(s: MergeStripInput, alt: AltFrame, scratch = new MergeScratch()): void {
  const W = s.ref.width;
  const ya = s.ref.y0;
  const yb = s.ref.y0 + s.ref.rows;
  scratch.ensure(W, yb - ya);
  const { warped, valid, hsum, box, tw } = scratch;
  warpRows(alt.rows, alt.field, ya, yb, s.height, warped, valid, scratch);
  const ref = s.ref.data;

  // 5×5 box sums of the difference to the reference: horizontal running sums per row, then 5 rows added up.
  const R = BOX_RADIUS;
  const W3 = W * 3;
  const diff = scratch.diff;
  const nAll = (yb - ya) * W3;
  for (let i = 0; i < nAll; i++) diff[i] = warped[i] - ref[i];
  for (let y = 0; y < yb - ya; y++) {
    const o = y * W3;
    for (let c = 0; c < 3; c++) {
      const base = o + c;
      let acc = diff[base] * (R + 1);
      for (let k = 1; k <= R; k++) acc += diff[base + Math.min(k, W - 1) * 3];
      for (let x = 0; x < W; x++) {
        hsum[base + x * 3] = acc;
        const right = x + R + 1 < W ? x + R + 1 : W - 1;
        const left = Math.max(x - R, 0);
        acc += diff[base + right * 3] - diff[base + left * 3];
      }
    }
  }
  // Agreement weight per pixel for rows [ea, eb): the output rows plus the erosion margin.
  const ea = Math.max(ya, s.y0 - ERODE_RADIUS);
  const eb = Math.min(yb, s.y1 + ERODE_RADIUS);
  const pw = scratch.pw;
  if (!alt.plain) {
    // 1 / variance of a 5×5 mean difference, per channel and reference luma: 25 / (2σ² + 1).
    const inv = s.noise.inverseTable(2, 1, (2 * R + 1) ** 2);
    const qScale = 1 / ((2 * R + 1) * (2 * R + 1)) ** 2 / 3;
    for (let y = ea; y < eb; y++) {
      box.fill(0, 0, W3);
      for (let k = -R; k <= R; k++) {
        const yy = y + k < ya ? ya : Math.min(y + k, yb - 1);
        const src = (yy - ya) * W3;
        for (let i = 0; i < W3; i++) box[i] += hsum[src + i];
      }
      const row = (y - ya) * W;
      for (let x = 0; x < W; x++) {
        const li = row + x;
        if (!valid[li]) {
          pw[li] = 0;
          continue;
        }
        const wi = li * 3;
        const rl = (0.299 * ref[wi] + 0.587 * ref[wi + 1] + 0.114 * ref[wi + 2] + 0.5) | 0;
        const m0 = box[x * 3];
        const m1 = box[x * 3 + 1];
        const m2 = box[x * 3 + 2];
        // q ≈ 1 for pure noise: mean over channels of (box mean)² / its variance
        const q = (m0 * m0 * inv[rl * 3] + m1 * m1 * inv[rl * 3 + 1] + m2 * m2 * inv[rl * 3 + 2]) * qScale;
        pw[li] = q <= Q_FULL ? 1 : q >= Q_ZERO ? 0 : 1 - (q - Q_FULL) / (Q_ZERO - Q_FULL);
      }
    }
    // Erosion (3×3 minimum), as in Wronski et al. 2019's robustness map: the fringe of a moving object, where the
    // box mean is diluted by the agreeing background around it, is rejected with the object.
    const hmin = scratch.hmin;
    for (let y = ea; y < eb; y++) {
      const row = (y - ya) * W;
      for (let x = 0; x < W; x++) {
        const a = pw[row + (x > 0 ? x - 1 : 0)];
        const b = pw[row + x];
        const c = pw[row + (x < W - 1 ? x + 1 : W - 1)];
        hmin[row + x] = a < b ? Math.min(a, c) : Math.min(b, c);
      }
    }
    for (let y = s.y0; y < s.y1; y++) {
      const up = (Math.max(ea, y - 1) - ya) * W;
      const mid = (y - ya) * W;
      const dn = (Math.min(eb - 1, y + 1) - ya) * W;
      for (let x = 0; x < W; x++) {
        const a = hmin[up + x];
        const b = hmin[mid + x];
        const c = hmin[dn + x];
        pw[mid + x] = a < b ? Math.min(a, c) : Math.min(b, c);
      }
    }
  }
  const tile = alt.field.tile;
  for (let y = s.y0; y < s.y1; y++) {
    tileValueRow(alt.tileWeight, alt.field, y, W, tw);
    const outRow = (y - s.y0) * W;
    const ty = Math.min(alt.field.rows - 1, Math.floor(y / tile));
    const tileRow = ty * alt.field.cols;
    for (let x = 0; x < W; x++) {
      const li = (y - ya) * W + x;
      if (!valid[li]) continue;
      const wi = li * 3;
      const o = (outRow + x) * 3;
      let w = 1;
      if (!alt.plain) {
        const p = pw[li];
        w = p * p * tw[x];
      }
      s.acc[o] += w * warped[wi];
      s.acc[o + 1] += w * warped[wi + 1];
      s.acc[o + 2] += w * warped[wi + 2];
      s.wsum[outRow + x] += w;
      const k = tileRow + Math.min(alt.field.cols - 1, (x / tile) | 0);
      alt.tileWsum[k] += w;
      alt.tileCount[k] += 1;
    }
  }
}

/** Starts a strip's accumulators with the reference rows [y0, y1) at weight 1. */
export function startStrip(s: MergeStripInput): void {
  const W = s.ref.width;
  const off = (s.y0 - s.ref.y0) * W * 3;
  const n = (s.y1 - s.y0) * W;
  for (let i = 0; i < n * 3; i++) s.acc[i] = s.ref.data[off + i];
  s.wsum.fill(1, 0, n);
}

/** Normalises the accumulators into bytes. */
export function finishStrip(s: MergeStripInput, out: Uint8Array): void {
  const n = (s.y1 - s.y0) * s.ref.width;
  for (let i = 0; i < n; i++) {
    const inv = 1 / s.wsum[i];
    for (let c = 0; c < 3; c++) {
      const v = Math.round(s.acc[i * 3 + c] * inv);
      out[i * 3 + c] = v < 0 ? 0 : Math.min(v, 255);
    }
  }
}

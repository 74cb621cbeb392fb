import { solveLinear } from '../util/linear-solve.js';
import { type Plane, sampleBilinear } from './plane.js';

/**
 * Tile-wise alignment of a burst frame to the reference, coarse to fine, in the manner of HDR+ (Hasinoff et al.,
 * "Burst photography for high dynamic range and low-light imaging on mobile cameras", SIGGRAPH Asia 2016, §4):
 * each tile of the reference finds where it went in the other frame by a small search around the estimate handed
 * down from the coarser level, then sub-pixel. A displacement is "where a reference pixel is seen in the other
 * frame", d(p) = p' − p. The field is interpolated bilinearly between tile centres, so a slight rotation of the
 * hand-held camera (a linear field) lines up exactly, not in steps.
 */

/** A rectangle of a plane placed in image coordinates: plane pixel (i, j) is image pixel (x0 + i, y0 + j). */
export interface Window {
  p: Plane;
  x0: number;
  y0: number;
}

export const win = (p: Plane, x0 = 0, y0 = 0): Window => ({ p, x0, y0 });

export interface TileField {
  /** Tile side in pixels of the level the field belongs to. */
  tile: number;
  cols: number;
  rows: number;
  dx: Float32Array;
  dy: Float32Array;
  /** Mean squared difference of the aligned tile (alignment residual), NaN when the tile was not measured. */
  cost: Float32Array;
}

export function newField(width: number, height: number, tile: number): TileField {
  const cols = Math.max(1, Math.ceil(width / tile));
  const rows = Math.max(1, Math.ceil(height / tile));
  const n = cols * rows;
  return {
    tile,
    cols,
    rows,
    dx: new Float32Array(n),
    dy: new Float32Array(n),
    cost: new Float32Array(n).fill(Number.NaN),
  };
}

/** Displacement at an image point, bilinear between tile centres, constant beyond the outer centres. */
export function fieldAt(f: TileField, x: number, y: number): [number, number] {
  const gx = Math.min(Math.max(x / f.tile - 0.5, 0), f.cols - 1);
  const gy = Math.min(Math.max(y / f.tile - 0.5, 0), f.rows - 1);
  const x0 = Math.min(Math.floor(gx), Math.max(0, f.cols - 2));
  const y0 = Math.min(Math.floor(gy), Math.max(0, f.rows - 2));
  const x1 = Math.min(x0 + 1, f.cols - 1);
  const y1 = Math.min(y0 + 1, f.rows - 1);
  const fx = gx - x0;
  const fy = gy - y0;
  const i00 = y0 * f.cols + x0;
  const i01 = y0 * f.cols + x1;
  const i10 = y1 * f.cols + x0;
  const i11 = y1 * f.cols + x1;
  const lerp2 = (a: Float32Array) =>
    (1 - fy) * ((1 - fx) * a[i00] + fx * a[i01]) + fy * ((1 - fx) * a[i10] + fx * a[i11]);
  return [lerp2(f.dx), lerp2(f.dy)];
}

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Mean squared difference between a reference rectangle and the other frame displaced by an integer offset. */
function ssdInt(ref: Window, alt: Window, r: Rect, ix: number, iy: number): number {
  const rp = ref.p;
  const ap = alt.p;
  let s = 0;
  let n = 0;
  for (let y = r.y; y < r.y + r.h; y++) {
    const ay = y + iy - alt.y0;
    if (ay < 0 || ay >= ap.height) continue;
    const ro = (y - ref.y0) * rp.width - ref.x0;
    const ao = ay * ap.width - alt.x0 + ix;
    const xa = Math.max(r.x, alt.x0 - ix);
    const xb = Math.min(r.x + r.w, alt.x0 + ap.width - ix);
    for (let x = xa; x < xb; x++) {
      const d = ap.data[ao + x] - rp.data[ro + x];
      s += d * d;
    }
    n += Math.max(0, xb - xa);
  }
  // A displacement that leaves less than half the tile inside the other frame is not a candidate.
  return n * 2 >= r.w * r.h ? s / n : Number.POSITIVE_INFINITY;
}

/** Mean squared difference at a sub-pixel displacement (bilinear), NaN when under half the tile overlaps. */
export function ssdAt(ref: Window, alt: Window, r: Rect, dx: number, dy: number): number {
  const rp = ref.p;
  let s = 0;
  let n = 0;
  for (let y = r.y; y < r.y + r.h; y++) {
    const ro = (y - ref.y0) * rp.width - ref.x0;
    for (let x = r.x; x < r.x + r.w; x++) {
      const a = sampleBilinear(alt.p, x + dx - alt.x0, y + dy - alt.y0);
      if (Number.isNaN(a)) continue;
      const d = a - rp.data[ro + x];
      s += d * d;
      n++;
    }
  }
  return n * 2 >= r.w * r.h ? s / n : Number.NaN;
}

/** Offset of the minimum of a parabola through (−1, a), (0, b), (+1, c), within ±0.5. */
function parabola(a: number, b: number, c: number): number {
  const den = a - 2 * b + c;
  if (!(den > 0) || !Number.isFinite(den)) return 0;
  return Math.max(-0.5, Math.min(0.5, (a - c) / (2 * den)));
}

export interface TileResult {
  dx: number;
  dy: number;
  cost: number;
}

/**
 * Aligns one reference rectangle: integer search within ±radius of the estimate, sub-pixel by a parabola through
 * the neighbouring costs, then `lkIterations` Lucas–Kanade steps (Gauss–Newton on the reference's gradient).
 */
export function alignTile(
  ref: Window,
  alt: Window,
  r: Rect,
  init: [number, number],
  radius: number,
  lkIterations: number,
): TileResult {
  const cx = Math.round(init[0]);
  const cy = Math.round(init[1]);
  const size = 2 * radius + 3; // one extra ring for the parabola at the search edge
  const costs = new Float64Array(size * size).fill(Number.POSITIVE_INFINITY);
  const at = (ix: number, iy: number) => (iy + radius + 1) * size + (ix + radius + 1);
  let best = Number.POSITIVE_INFINITY;
  let bx = 0;
  let by = 0;
  for (let iy = -radius; iy <= radius; iy++) {
    for (let ix = -radius; ix <= radius; ix++) {
      const c = ssdInt(ref, alt, r, cx + ix, cy + iy);
      costs[at(ix, iy)] = c;
      if (c < best) {
        best = c;
        bx = ix;
        by = iy;
      }
    }
  }
  if (!Number.isFinite(best)) return { dx: init[0], dy: init[1], cost: Number.NaN };
  const cost = (ix: number, iy: number) => {
    const k = at(ix, iy);
    if (!Number.isFinite(costs[k])) costs[k] = ssdInt(ref, alt, r, cx + ix, cy + iy);
    return costs[k];
  };
  let dx = cx + bx + parabola(cost(bx - 1, by), best, cost(bx + 1, by));
  let dy = cy + by + parabola(cost(bx, by - 1), best, cost(bx, by + 1));
  const ix0 = dx;
  const iy0 = dy;
  for (let it = 0; it < lkIterations; it++) {
    const step = lkStep(ref, alt, r, dx, dy);
    if (!step) break;
    dx += step[0];
    dy += step[1];
    // LK wandering off means the tile has no usable texture: the integer + parabola estimate stands.
    if (Math.abs(dx - ix0) > 1 || Math.abs(dy - iy0) > 1) {
      dx = ix0;
      dy = iy0;
      break;
    }
    if (Math.abs(step[0]) + Math.abs(step[1]) < 0.005) break;
  }
  return { dx, dy, cost: ssdAt(ref, alt, r, dx, dy) };
}

function lkStep(ref: Window, alt: Window, r: Rect, dx: number, dy: number): [number, number] | undefined {
  const rp = ref.p;
  const W = rp.width;
  let hxx = 0;
  let hxy = 0;
  let hyy = 0;
  let bx = 0;
  let by = 0;
  for (let y = r.y; y < r.y + r.h; y++) {
    const ry = y - ref.y0;
    if (ry < 1 || ry >= rp.height - 1) continue;
    for (let x = r.x; x < r.x + r.w; x++) {
      const rx = x - ref.x0;
      if (rx < 1 || rx >= W - 1) continue;
      const a = sampleBilinear(alt.p, x + dx - alt.x0, y + dy - alt.y0);
      if (Number.isNaN(a)) continue;
      const i = ry * W + rx;
      const gx = 0.5 * (rp.data[i + 1] - rp.data[i - 1]);
      const gy = 0.5 * (rp.data[i + W] - rp.data[i - W]);
      const e = a - rp.data[i];
      hxx += gx * gx;
      hxy += gx * gy;
      hyy += gy * gy;
      bx += gx * e;
      by += gy * e;
    }
  }
  const det = hxx * hyy - hxy * hxy;
  if (!(det > 1e-6 * (hxx + hyy) ** 2) || det <= 0) return undefined;
  // alt(p + d + Δ) ≈ alt(p + d) + ∇·Δ and ∇alt ≈ ∇ref: Δ = −H⁻¹ Σ ∇ref · e
  return [-(hyy * bx - hxy * by) / det, -(hxx * by - hxy * bx) / det];
}

/** Texture of a reference rectangle: smallest eigenvalue of the structure tensor per pixel (aperture problem). */
export function tileTexture(ref: Window, r: Rect): number {
  const rp = ref.p;
  const W = rp.width;
  let hxx = 0;
  let hxy = 0;
  let hyy = 0;
  let n = 0;
  for (let y = r.y; y < r.y + r.h; y++) {
    const ry = y - ref.y0;
    if (ry < 1 || ry >= rp.height - 1) continue;
    for (let x = r.x; x < r.x + r.w; x++) {
      const rx = x - ref.x0;
      if (rx < 1 || rx >= W - 1) continue;
      const i = ry * W + rx;
      const gx = 0.5 * (rp.data[i + 1] - rp.data[i - 1]);
      const gy = 0.5 * (rp.data[i + W] - rp.data[i - W]);
      hxx += gx * gx;
      hxy += gx * gy;
      hyy += gy * gy;
      n++;
    }
  }
  if (n === 0) return 0;
  const tr = (hxx + hyy) / n;
  const det = (hxx * hyy - hxy * hxy) / (n * n);
  return tr / 2 - Math.sqrt(Math.max(0, (tr * tr) / 4 - det));
}

/** Global integer translation by exhaustive search, then a parabola: the start of the coarsest level. */
export function globalShift(ref: Plane, alt: Plane, radius: number): [number, number] {
  const r = { x: 0, y: 0, w: ref.width, h: ref.height };
  const res = alignTile(win(ref), win(alt), r, [0, 0], radius, 0);
  return [res.dx, res.dy];
}

/** Component-wise 3×3 median of a field: one mis-matched tile at a coarse level must not mislead its children. */
function medianFilter(f: TileField): void {
  const dx = Float32Array.from(f.dx);
  const dy = Float32Array.from(f.dy);
  const bx: number[] = [];
  const by: number[] = [];
  for (let ty = 0; ty < f.rows; ty++) {
    for (let tx = 0; tx < f.cols; tx++) {
      bx.length = 0;
      by.length = 0;
      for (let j = Math.max(0, ty - 1); j <= Math.min(f.rows - 1, ty + 1); j++)
        for (let i = Math.max(0, tx - 1); i <= Math.min(f.cols - 1, tx + 1); i++) {
          bx.push(dx[j * f.cols + i]);
          by.push(dy[j * f.cols + i]);
        }
      bx.sort((a, b) => a - b);
      by.sort((a, b) => a - b);
      f.dx[ty * f.cols + tx] = bx[bx.length >> 1];
      f.dy[ty * f.cols + tx] = by[by.length >> 1];
    }
  }
}

/**
 * Coarse-to-fine tile alignment over two pyramids (finest first). Returns the field at level 0 of the pyramids.
 * Coarse levels are median-filtered so an outlier tile does not steer its children; the finest is left as found.
 */
export function alignPyramid(ref: Plane[], alt: Plane[], opts: { tile: number; radius: number }): TileField {
  const top = ref.length - 1;
  const g = globalShift(ref[top], alt[top], Math.max(4, Math.ceil(Math.min(ref[top].width, ref[top].height) / 6)));
  let prev: TileField | undefined;
  let field: TileField | undefined;
  for (let l = top; l >= 0; l--) {
    const R = ref[l];
    const A = alt[l];
    field = newField(R.width, R.height, opts.tile);
    for (let ty = 0; ty < field.rows; ty++) {
      for (let tx = 0; tx < field.cols; tx++) {
        const rect = {
          x: tx * opts.tile,
          y: ty * opts.tile,
          w: Math.min(opts.tile, R.width - tx * opts.tile),
          h: Math.min(opts.tile, R.height - ty * opts.tile),
        };
        let init: [number, number];
        if (!prev) init = g;
        else {
          const [px, py] = fieldAt(prev, (rect.x + rect.w / 2) / 2, (rect.y + rect.h / 2) / 2);
          init = [2 * px, 2 * py];
        }
        const res = alignTile(win(R), win(A), rect, init, opts.radius, l === 0 ? 2 : 0);
        const k = ty * field.cols + tx;
        field.dx[k] = res.dx;
        field.dy[k] = res.dy;
        field.cost[k] = res.cost;
      }
    }
    if (l > 0) medianFilter(field);
    prev = field;
  }
  return field as TileField;
}

/** p' = p + t + [[a, −b], [b, a]]·(p − c): translation, small rotation and scale about the image centre. */
export interface Similarity {
  tx: number;
  ty: number;
  a: number;
  b: number;
  cx: number;
  cy: number;
}

export function similarityAt(m: Similarity, x: number, y: number): [number, number] {
  const u = x - m.cx;
  const v = y - m.cy;
  return [m.tx + m.a * u - m.b * v, m.ty + m.b * u + m.a * v];
}

/** Rotation of the model in degrees (positive turns +x towards +y, i.e. clockwise as an image is displayed). */
export function similarityAngle(m: Similarity): number {
  return (Math.atan2(m.b, 1 + m.a) * 180) / Math.PI;
}

/**
 * Least-squares similarity through tile displacements, reweighted (Huber) so moving objects and mis-matched tiles
 * do not pull it. `weight` per tile (0 excludes).
 */
export function fitSimilarity(
  f: TileField,
  width: number,
  height: number,
  weight: (k: number) => number,
  iterations = 6,
): Similarity {
  const cx = width / 2;
  const cy = height / 2;
  const m: Similarity = { tx: 0, ty: 0, a: 0, b: 0, cx, cy };
  let scale = 1;
  for (let it = 0; it < iterations; it++) {
    // Normal equations for unknowns (tx, ty, a, b).
    const A = new Float64Array(16);
    const rhs = new Float64Array(4);
    const resid: number[] = [];
    for (let ty = 0; ty < f.rows; ty++) {
      for (let tx = 0; tx < f.cols; tx++) {
        const k = ty * f.cols + tx;
        let w = weight(k);
        if (!(w > 0)) continue;
        const u = (tx + 0.5) * f.tile - cx;
        const v = (ty + 0.5) * f.tile - cy;
        if (it > 0) {
          const [px, py] = similarityAt(m, u + cx, v + cy);
          const e = Math.hypot(f.dx[k] - px, f.dy[k] - py);
          resid.push(e);
          if (e > scale) w *= scale / e;
        }
        // rows: [1, 0, u, −v] · (tx, ty, a, b) = dx ; [0, 1, v, u] · … = dy
        const rx = [1, 0, u, -v];
        const ry = [0, 1, v, u];
        for (let i = 0; i < 4; i++) {
          rhs[i] += w * (rx[i] * f.dx[k] + ry[i] * f.dy[k]);
          for (let j = 0; j < 4; j++) A[i * 4 + j] += w * (rx[i] * rx[j] + ry[i] * ry[j]);
        }
      }
    }
    const sol = solve4(A, rhs);
    if (!sol) break;
    [m.tx, m.ty, m.a, m.b] = sol;
    if (resid.length) {
      resid.sort((p, q) => p - q);
      scale = Math.max(0.1, 1.5 * resid[resid.length >> 1]);
    }
  }
  return m;
}

function solve4(A: Float64Array, b: Float64Array): number[] | undefined {
  const n = 4;
  return solveLinear(
    Array.from({ length: n }, (_, i) => [...A.slice(i * n, i * n + n), b[i]]),
    n,
  );
}

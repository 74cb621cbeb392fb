/**
 * Single-channel float images (luma) for alignment: small helpers with no I/O, so the alignment maths is testable
 * on arrays alone.
 */
export interface Plane {
  width: number;
  height: number;
  data: Float32Array;
}

export function plane(width: number, height: number, data?: Float32Array): Plane {
  return { width, height, data: data ?? new Float32Array(width * height) };
}

/** Rec. 601 luma of packed RGB bytes (the weights JPEG itself uses). */
export function lumaOf(rgb: Uint8Array, width: number, rows: number, out?: Float32Array): Float32Array {
  const n = width * rows;
  const l = out ?? new Float32Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) l[i] = 0.299 * rgb[j] + 0.587 * rgb[j + 1] + 0.114 * rgb[j + 2];
  return l;
}

/** [1 2 1]/4 in both directions, edges clamped: takes the sting out of pixel noise before gradients are taken. */
export function blur121(p: Plane): Plane {
  const { width: w, height: h, data } = p;
  const tmp = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    for (let x = 0; x < w; x++) {
      const l = data[o + (x > 0 ? x - 1 : 0)];
      const r = data[o + (x < w - 1 ? x + 1 : w - 1)];
      tmp[o + x] = 0.25 * l + 0.5 * data[o + x] + 0.25 * r;
    }
  }
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const up = (y > 0 ? y - 1 : 0) * w;
    const dn = (y < h - 1 ? y + 1 : h - 1) * w;
    const o = y * w;
    for (let x = 0; x < w; x++) out[o + x] = 0.25 * tmp[up + x] + 0.5 * tmp[o + x] + 0.25 * tmp[dn + x];
  }
  return { width: w, height: h, data: out };
}

/** 2×2 box average (odd last row/column dropped). */
export function halve(p: Plane): Plane {
  const w = p.width >> 1;
  const h = p.height >> 1;
  const out = new Float32Array(w * h);
  const s = p.data;
  const W = p.width;
  for (let y = 0; y < h; y++) {
    const a = 2 * y * W;
    const b = a + W;
    for (let x = 0; x < w; x++) {
      const i = 2 * x;
      out[y * w + x] = 0.25 * (s[a + i] + s[a + i + 1] + s[b + i] + s[b + i + 1]);
    }
  }
  return { width: w, height: h, data: out };
}

/** Gaussian-ish pyramid, finest first, down to about `minSide` pixels on the short side. */
export function pyramid(p: Plane, minSide = 24, maxLevels = 8): Plane[] {
  const levels = [p];
  while (levels.length < maxLevels) {
    const last = levels[levels.length - 1];
    if (Math.min(last.width, last.height) < minSide * 2) break;
    levels.push(halve(blur121(last)));
  }
  return levels;
}

/** Bilinear sample; NaN outside the plane (callers skip such pixels). */
export function sampleBilinear(p: Plane, x: number, y: number): number {
  if (x < 0 || y < 0 || x > p.width - 1 || y > p.height - 1) return Number.NaN;
  const x0 = Math.min(Math.floor(x), Math.max(p.width - 2, 0));
  const y0 = Math.min(Math.floor(y), Math.max(p.height - 2, 0));
  const fx = x - x0;
  const fy = y - y0;
  const w = p.width;
  const d = p.data;
  const i = y0 * w + x0;
  const x1 = p.width > 1 ? 1 : 0;
  const y1 = p.height > 1 ? w : 0;
  const top = d[i] + fx * (d[i + x1] - d[i]);
  const bot = d[i + y1] + fx * (d[i + y1 + x1] - d[i + y1]);
  return top + fy * (bot - top);
}

import sharp from 'sharp';
import { rgbInside } from './analyzer.js';
import type { PersonMask, RgbImage } from './types.js';

/**
 * Brings a person mask from the model's grid (256 px) to a photo of any size, with edges that follow the photo's
 * own edges: the fast guided filter (He & Sun 2015, "Fast Guided Filter", arXiv:1505.00996). The linear model
 * q = a·I + b is fitted in every window of a small guide image (the photo at ≤ 512 px, grey), then a and b —
 * smooth by construction — are upsampled bilinearly and applied to the full-resolution grey of the photo, strip by
 * strip. Why this and not a plain bilinear upscale (a blurred 256-px staircase across hair and shoulders) or joint
 * bilateral upsampling (a per-pixel kernel over the low-res neighbours: several times the work per output pixel,
 * and a range sigma to tune): the guided filter costs two multiply-adds per full-resolution pixel, keeps only two
 * small coefficient planes in memory, and its edges are the photo's edges by construction, so a 12 MP photo is done
 * in 64-row strips with a few MB.
 */

export interface GuidedMaskOptions {
  /** Window radius in guide pixels (default: guide's longest side / 128, at least 2). */
  radius?: number;
  /** Regularisation (intensities 0..1): larger = smoother, smaller = follows weaker edges. */
  eps?: number;
  /** q at or below `low` is background (alpha 0), at or above `high` person (alpha 1), linear between. */
  low?: number;
  high?: number;
}

const GREY_R = 0.299;
const GREY_G = 0.587;
const GREY_B = 0.114;

/** Windowed mean (clamped at the borders, divided by the pixels actually inside) through an integral image. */
export function boxMean(
  src: Float32Array,
  w: number,
  h: number,
  r: number,
  out = new Float32Array(w * h),
): Float32Array {
  const W = w + 1;
  const sat = new Float64Array(W * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += src[y * w + x];
      sat[(y + 1) * W + x + 1] = sat[y * W + x + 1] + row;
    }
  }
  for (let y = 0; y < h; y++) {
    const y0 = Math.max(0, y - r);
    const y1 = Math.min(h, y + r + 1);
    for (let x = 0; x < w; x++) {
      const x0 = Math.max(0, x - r);
      const x1 = Math.min(w, x + r + 1);
      const s = sat[y1 * W + x1] - sat[y0 * W + x1] - sat[y1 * W + x0] + sat[y0 * W + x0];
      out[y * w + x] = s / ((y1 - y0) * (x1 - x0));
    }
  }
  return out;
}

/** Grey 0..1 of an RGB image. */
export function greyOf(img: RgbImage): Float32Array {
  const n = img.width * img.height;
  const g = new Float32Array(n);
  const d = img.data;
  for (let i = 0, p = 0; i < n; i++, p += 3) g[i] = (GREY_R * d[p] + GREY_G * d[p + 1] + GREY_B * d[p + 2]) / 255;
  return g;
}

/**
 * Samples a grid (gw×gh, covering an image of W×H stretched onto it) at image pixel (x, y), bilinear, with the
 * pixel-centre convention and edge clamping.
 */
function sampler(grid: Float32Array, gw: number, gh: number, W: number, H: number) {
  const sx = gw / W;
  const sy = gh / H;
  return {
    /** Row weights for image row y (cached by the caller per row). */
    row(y: number): { y0: number; y1: number; fy: number } {
      const gy = Math.min(gh - 1, Math.max(0, (y + 0.5) * sy - 0.5));
      const y0 = Math.floor(gy);
      return { y0, y1: Math.min(gh - 1, y0 + 1), fy: gy - y0 };
    },
    cols(): { x0: Int32Array; x1: Int32Array; fx: Float32Array } {
      const x0 = new Int32Array(W);
      const x1 = new Int32Array(W);
      const fx = new Float32Array(W);
      for (let x = 0; x < W; x++) {
        const gx = Math.min(gw - 1, Math.max(0, (x + 0.5) * sx - 0.5));
        x0[x] = Math.floor(gx);
        x1[x] = Math.min(gw - 1, x0[x] + 1);
        fx[x] = gx - x0[x];
      }
      return { x0, x1, fx };
    },
    grid,
  };
}

/** A mask (any grid) resampled onto another grid of the same image, bilinear. */
export function resampleGrid(src: Float32Array, sw: number, sh: number, dw: number, dh: number): Float32Array {
  const s = sampler(src, sw, sh, dw, dh);
  const { x0, x1, fx } = s.cols();
  const out = new Float32Array(dw * dh);
  for (let y = 0; y < dh; y++) {
    const r = s.row(y);
    const a = r.y0 * sw;
    const b = r.y1 * sw;
    for (let x = 0; x < dw; x++) {
      const top = src[a + x0[x]] + (src[a + x1[x]] - src[a + x0[x]]) * fx[x];
      const bot = src[b + x0[x]] + (src[b + x1[x]] - src[b + x0[x]]) * fx[x];
      out[y * dw + x] = top + (bot - top) * r.fy;
    }
  }
  return out;
}

/** The fitted guided-filter coefficients on the guide's grid, applied to full-resolution rows on demand. */
export class GuidedMask {
  private readonly cols: { x0: Int32Array; x1: Int32Array; fx: Float32Array };
  private readonly lo: number;
  private readonly span: number;

  constructor(
    readonly a: Float32Array,
    readonly b: Float32Array,
    readonly gw: number,
    readonly gh: number,
    readonly width: number,
    readonly height: number,
    opts: { low: number; high: number },
  ) {
    this.cols = sampler(a, gw, gh, width, height).cols();
    this.lo = opts.low;
    this.span = Math.max(1e-6, opts.high - opts.low);
  }

  /** Person alpha (0..255) for full-resolution rows [y0, y0 + n) given their packed RGB. */
  alphaRows(rgb: Uint8Array, y0: number, n: number, out: Uint8Array = new Uint8Array(n * this.width)): Uint8Array {
    const { x0, x1, fx } = this.cols;
    const W = this.width;
    const s = sampler(this.a, this.gw, this.gh, W, this.height);
    const { a, b, gw, lo, span } = this;
    for (let j = 0; j < n; j++) {
      const r = s.row(y0 + j);
      const ra = r.y0 * gw;
      const rb = r.y1 * gw;
      const fy = r.fy;
      for (let x = 0, p = j * W * 3; x < W; x++, p += 3) {
        const i0 = ra + x0[x];
        const i1 = ra + x1[x];
        const i2 = rb + x0[x];
        const i3 = rb + x1[x];
        const f = fx[x];
        const at = a[i0] + (a[i1] - a[i0]) * f;
        const ab = a[i2] + (a[i3] - a[i2]) * f;
        const bt = b[i0] + (b[i1] - b[i0]) * f;
        const bb = b[i2] + (b[i3] - b[i2]) * f;
        const I = (GREY_R * rgb[p] + GREY_G * rgb[p + 1] + GREY_B * rgb[p + 2]) / 255;
        const q = (at + (ab - at) * fy) * I + bt + (bb - bt) * fy;
        const v = (q - lo) / span;
        out[j * W + x] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
      }
    }
    return out;
  }

  /** The alpha on the guide's own grid (0..1), from the guide's grey: what the background blur weights with. */
  alphaOnGuide(guideGrey: Float32Array): Float32Array {
    const out = new Float32Array(this.gw * this.gh);
    for (let i = 0; i < out.length; i++) {
      const v = (this.a[i] * guideGrey[i] + this.b[i] - this.lo) / this.span;
      out[i] = Math.min(1, Math.max(0, v));
    }
    return out;
  }
}

/**
 * Fits the guided filter of `prob` (person probability on any grid of the same image) against `guide` (the photo
 * small, RGB), for a photo of width×height.
 */
export function fitGuidedMask(
  prob: { data: Float32Array; width: number; height: number },
  guide: RgbImage,
  width: number,
  height: number,
  opts: GuidedMaskOptions = {},
): GuidedMask {
  const gw = guide.width;
  const gh = guide.height;
  const r = opts.radius ?? Math.max(2, Math.round(Math.max(gw, gh) / 128));
  const eps = opts.eps ?? 1e-3;
  const I = greyOf(guide);
  const p = resampleGrid(prob.data, prob.width, prob.height, gw, gh);
  const n = gw * gh;
  const Ip = new Float32Array(n);
  const II = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    Ip[i] = I[i] * p[i];
    II[i] = I[i] * I[i];
  }
  const mI = boxMean(I, gw, gh, r);
  const mp = boxMean(p, gw, gh, r);
  const mIp = boxMean(Ip, gw, gh, r);
  const mII = boxMean(II, gw, gh, r);
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const cov = mIp[i] - mI[i] * mp[i];
    const v = mII[i] - mI[i] * mI[i];
    a[i] = cov / (v + eps);
    b[i] = mp[i] - a[i] * mI[i];
  }
  return new GuidedMask(boxMean(a, gw, gh, r), boxMean(b, gw, gh, r), gw, gh, width, height, {
    low: opts.low ?? 0.2,
    high: opts.high ?? 0.8,
  });
}

/** Rows of a photo, read strip by strip (a `.v` RowReader, or an image in memory). */
export interface RowSource {
  width: number;
  height: number;
  read(y: number, n: number): Promise<Uint8Array>;
}

export function memoryRows(img: RgbImage): RowSource {
  return {
    width: img.width,
    height: img.height,
    read: async (y, n) => img.data.subarray(y * img.width * 3, (y + n) * img.width * 3),
  };
}

export const STRIP_ROWS = 64;

/**
 * The full-resolution alpha of `mask` for a photo, strip by strip: `guide` is the photo small (≤ 512 px), `photo`
 * its rows. `onRows(alpha, y0, n)` gets each strip (the buffer is reused).
 */
export async function upscaleMaskRows(
  mask: PersonMask,
  guide: RgbImage,
  photo: RowSource,
  onRows: (alpha: Uint8Array, y0: number, n: number) => void | Promise<void>,
  opts: GuidedMaskOptions = {},
): Promise<GuidedMask> {
  const g = fitGuidedMask(mask, guide, photo.width, photo.height, opts);
  const buf = new Uint8Array(STRIP_ROWS * photo.width);
  for (let y = 0; y < photo.height; y += STRIP_ROWS) {
    const n = Math.min(STRIP_ROWS, photo.height - y);
    await onRows(g.alphaRows(await photo.read(y, n), y, n, buf), y, n);
  }
  return g;
}

/** Longest side of the guide image: the person mask grid is 256, so 2× that keeps hair-scale edges in a and b. */
export const GUIDE_SIDE = 512;

/** The photo small (≤ GUIDE_SIDE, aspect kept) as the guide: from a file (`.v` or any image) or pixels in memory. */
export async function guideImage(input: string | RgbImage, maxSide = GUIDE_SIDE): Promise<RgbImage> {
  const s =
    typeof input === 'string'
      ? sharp(input, { limitInputPixels: false })
      : sharp(input.data, { raw: { width: input.width, height: input.height, channels: 3 } });
  return rgbInside(s, maxSide);
}

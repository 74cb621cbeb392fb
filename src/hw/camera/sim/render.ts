/**
 * Still frames of the simulated camera with what a merge algorithm has to cope with on a real one:
 * - sensor noise that depends on the signal: shot noise (Poisson, variance = photo-electrons) plus read noise, in
 *   linear light, larger at higher gain (fewer electrons behind the same output level);
 * - a small hand-shake between frames: a sub-pixel translation and a rotation of at most 0.5° about the centre,
 *   drawn from a seed and the frame number, so a test can know the true motion (`handShake`).
 * Pure functions over raw RGB buffers; no sharp here so the costs are visible.
 */
import { mulberry32 } from '../../../util/prng.js';

/** Photo-electrons at full scale and gain 1, and the read noise in electrons (HQ camera class sensor). */
export const NOISE = { fullWellE: 10000, readNoiseE: 3 } as const;
/** Largest shake: translation as a fraction of the width, rotation in degrees. */
export const SHAKE = { maxShiftFraction: 0.002, maxRotationDeg: 0.5 } as const;

export interface Shake {
  dx: number;
  dy: number;
  /** Degrees, counter-clockwise. */
  rotationDeg: number;
}

/** The true motion of frame `frame` (its capture number) for `seed`; frame 0 is the reference pose. */
export function handShake(seed: number, frame: number, width: number): Shake {
  if (frame === 0) return { dx: 0, dy: 0, rotationDeg: 0 };
  const r = mulberry32((seed ^ Math.imul(frame + 1, 0x9e3779b1)) >>> 0);
  const max = SHAKE.maxShiftFraction * width;
  return {
    dx: (r() * 2 - 1) * max,
    dy: (r() * 2 - 1) * max,
    rotationDeg: (r() * 2 - 1) * SHAKE.maxRotationDeg,
  };
}

// sRGB ↔ linear through tables (256 entries one way, 4096 the other) and standard normal deviates by inverse
// transform of a 64 K table: built on first use, so the preview-only rpicam-vid does not pay for them at start.
const LIN_STEPS = 4096;
let tables: { toLinear: Float32Array; toSrgb: Uint8Array; gauss: Float32Array } | undefined;

function noiseTables() {
  if (tables) return tables;
  const toLinear = Float32Array.from({ length: 256 }, (_, i) => {
    const c = i / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const toSrgb = Uint8Array.from({ length: LIN_STEPS + 1 }, (_, i) => {
    const l = i / LIN_STEPS;
    const c = l <= 0.0031308 ? l * 12.92 : 1.055 * l ** (1 / 2.4) - 0.055;
    return Math.max(0, Math.min(255, Math.round(c * 255)));
  });
  const n = 1 << 16;
  const gauss = new Float32Array(n);
  // Acklam's rational approximation of the normal quantile.
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) =>
    (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  for (let i = 0; i < n; i++) {
    const p = (i + 0.5) / n;
    if (p < 0.02425) gauss[i] = tail(Math.sqrt(-2 * Math.log(p)));
    else if (p > 1 - 0.02425) gauss[i] = -tail(Math.sqrt(-2 * Math.log(1 - p)));
    else {
      const q = p - 0.5;
      const r = q * q;
      gauss[i] =
        ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
  }
  tables = { toLinear, toSrgb, gauss };
  return tables;
}

/**
 * Moves `src` (RGB, width×height) by the shake: inverse mapping about the centre, bilinear. The simulator warps the
 * scene at a quarter of the output size and scales it up, so `shake` is given in pixels of `width`.
 */
export function warp(src: Buffer, width: number, height: number, shake: Shake): Buffer {
  const w = width;
  const h = height;
  const out = Buffer.alloc(w * h * 3);
  const th = (shake.rotationDeg * Math.PI) / 180;
  const cos = Math.cos(th);
  const sin = Math.sin(th);
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  for (let y = 0; y < h; y++) {
    const ry = y - cy - shake.dy;
    for (let x = 0; x < w; x++) {
      const rx = x - cx - shake.dx;
      const sx = cos * rx + sin * ry + cx;
      const sy = -sin * rx + cos * ry + cy;
      const x0 = Math.max(0, Math.min(w - 1, Math.floor(sx)));
      const y0 = Math.max(0, Math.min(h - 1, Math.floor(sy)));
      const x1 = Math.min(w - 1, x0 + 1);
      const y1 = Math.min(h - 1, y0 + 1);
      const fx = Math.max(0, Math.min(1, sx - x0));
      const fy = Math.max(0, Math.min(1, sy - y0));
      const i00 = (y0 * w + x0) * 3;
      const i01 = (y0 * w + x1) * 3;
      const i10 = (y1 * w + x0) * 3;
      const i11 = (y1 * w + x1) * 3;
      const o3 = (y * w + x) * 3;
      for (let c = 0; c < 3; c++)
        out[o3 + c] = Math.round(
          (src[i00 + c] * (1 - fx) + src[i01 + c] * fx) * (1 - fy) + (src[i10 + c] * (1 - fx) + src[i11 + c] * fx) * fy,
        );
    }
  }
  return out;
}

export interface ExposureNoise {
  /** Output level relative to the scene as exposed by the simulated auto exposure (1 = same brightness). */
  brightness: number;
  /** Total gain (analogue × digital): sets how few electrons stand behind each output level. */
  gain: number;
  seed: number;
  frame: number;
}

/**
 * Scales RGB (in place) to the exposure and adds shot + read noise in linear light: variance = signal electrons +
 * read noise², so dark areas and high gains are noisier, as on a sensor. Each frame gets its own noise.
 */
export function exposeAndAddNoise(rgb: Buffer, o: ExposureNoise): Buffer {
  const { toLinear: TO_LINEAR, toSrgb: TO_SRGB, gauss: GAUSS } = noiseTables();
  const ePerUnit = NOISE.fullWellE / Math.max(1, o.gain);
  const readSigma = NOISE.readNoiseE / ePerUnit;
  const sigmaOf = Float32Array.from({ length: LIN_STEPS + 1 }, (_, i) =>
    Math.sqrt(i / LIN_STEPS / ePerUnit + readSigma * readSigma),
  );
  // The scaled linear value of each input level, once per frame.
  const scaled = Float32Array.from(TO_LINEAR, (l) => l * o.brightness);
  let rng = (o.seed ^ Math.imul(o.frame + 7, 0x85ebca6b)) >>> 0 || 1;
  for (let i = 0; i < rgb.length; i++) {
    const s = scaled[rgb[i]];
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    const si = s >= 1 ? LIN_STEPS : (s * LIN_STEPS) | 0;
    const noisy = s + GAUSS[rng >>> 16] * sigmaOf[si];
    rgb[i] = TO_SRGB[noisy <= 0 ? 0 : noisy >= 1 ? LIN_STEPS : (noisy * LIN_STEPS + 0.5) | 0];
  }
  return rgb;
}

/** RGB → planar I420 with the ISP's row padding (sYCC, full range: rpicam-vid's JPEG colour space for yuv420). */
export function rgbToI420(rgb: Buffer, width: number, height: number, stride: number): Buffer {
  const out = Buffer.alloc((stride * height * 3) / 2);
  const cStride = stride / 2;
  const uAt = stride * height;
  const vAt = uAt + cStride * (height / 2);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const r = rgb[i];
      const g = rgb[i + 1];
      const b = rgb[i + 2];
      out[y * stride + x] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
      if ((x & 1) === 0 && (y & 1) === 0) {
        const ci = (y >> 1) * cStride + (x >> 1);
        out[uAt + ci] = Math.max(0, Math.min(255, Math.round(-0.168736 * r - 0.331264 * g + 0.5 * b + 128)));
        out[vAt + ci] = Math.max(0, Math.min(255, Math.round(0.5 * r - 0.418688 * g - 0.081312 * b + 128)));
      }
    }
  }
  return out;
}

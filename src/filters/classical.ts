import { mulberry32 } from '../util/prng.js';
import { applyLut, histMean, imageStats, lutFrom, mapRows, percentile, sharpPass } from './strips.js';
import type { FilterDef } from './types.js';

const clamp01 = (v: number) => (v < 0 ? 0 : Math.min(v, 1));

/**
 * Tone curve for a dark photo: stretch so the brightest 0.3 % reach white, then a gamma chosen so the median lands
 * on `target`. Measured against a plain 1/2.2 gamma on photos darkened as 0.6·x^2.2 (test/filters/quality.test.ts),
 * the adaptive curve wins because it also restores the lost highlights; CLAHE on top lowers fidelity on such
 * photos, so `local` (CLAHE) is off by default and there for very uneven light.
 */
/** Linear up to 0.85, then rolls off towards 1: highlights the preview-based stretch underestimated keep detail. */
function knee(t: number): number {
  const k = 0.85;
  return t <= k ? Math.max(0, t) : k + (1 - k) * (1 - Math.exp(-(t - k) / (1 - k)));
}

export function lowlightCurve(
  stats: Awaited<ReturnType<typeof imageStats>>,
  target: number,
): { gain: number; gamma: number; lut: Uint8Array } {
  const hi = Math.max(1, ...[0, 1, 2].map((c) => percentile(stats.hist[c], stats.count, 0.997)));
  const gain = Math.min(6, 255 / hi);
  const median = Math.max(1, percentile(stats.hist[3], stats.count, 0.5)) / 255;
  const m = clamp01(median * gain);
  const gamma = m > 0 && m < 1 ? Math.min(1, Math.max(0.3, Math.log(target) / Math.log(m))) : 1;
  return { gain, gamma, lut: lutFrom((x) => knee(x * gain) ** gamma) };
}

export const lowlight: FilterDef = {
  name: 'lowlight',
  title: 'Low light',
  description: 'Brightens dark photos: highlight stretch plus an adaptive tone curve, optional local contrast (CLAHE).',
  kind: 'classical',
  cost: 'light',
  params: {
    target: {
      type: 'number',
      min: 0.2,
      max: 0.7,
      default: 0.46,
      description: 'brightness the median tone is lifted to (0.46 = 18 % grey in sRGB)',
    },
    local: { type: 'number', min: 0, max: 1, default: 0, description: 'local contrast (CLAHE) amount' },
  },
  async apply(input, output, p, ctx) {
    const stats = await imageStats(input);
    const { lut } = lowlightCurve(stats, Number(p.target));
    const local = Number(p.local);
    const curved = local > 0 ? ctx.tempFile('.v') : output;
    await mapRows(input, curved, (rows, _y, n, w) => applyLut(rows, n, w, [lut, lut, lut]), {
      signal: ctx.signal,
      onProgress: ctx.onProgress,
    });
    if (local > 0) {
      await sharpPass(curved, output, (img) =>
        img.clahe({ width: 64, height: 64, maxSlope: Math.max(1, Math.round(1 + local * 4)) }),
      );
    }
  },
};

export const auto: FilterDef = {
  name: 'auto',
  title: 'Auto levels',
  description: 'Stretches levels per channel and balances white (grey world, limited).',
  kind: 'classical',
  cost: 'light',
  params: {
    clip: {
      type: 'number',
      min: 0,
      max: 5,
      default: 0.5,
      description: 'percent of pixels allowed to clip at each end',
    },
    balance: { type: 'number', min: 0, max: 1, default: 0.7, description: 'white balance strength' },
  },
  async apply(input, output, p) {
    const stats = await imageStats(input);
    const q = Number(p.clip) / 100;
    const lo = [0, 1, 2].map((c) => percentile(stats.hist[c], stats.count, q));
    const hi = [0, 1, 2].map((c, i) => Math.max(lo[i] + 16, percentile(stats.hist[c], stats.count, 1 - q)));
    const means = [0, 1, 2].map((c) => ((histMean(stats.hist[c], stats.count) - lo[c]) * 255) / (hi[c] - lo[c]));
    const grey = (means[0] + means[1] + means[2]) / 3;
    const bal = Number(p.balance);
    const a: number[] = [];
    const b: number[] = [];
    for (let c = 0; c < 3; c++) {
      const wb = Math.min(1.25, Math.max(0.8, grey / Math.max(1, means[c]))) ** bal;
      a.push((255 / (hi[c] - lo[c])) * wb);
      b.push((-lo[c] * 255 * wb) / (hi[c] - lo[c]));
    }
    await sharpPass(input, output, (img) => img.linear(a, b));
  },
};

export const sepia: FilterDef = {
  name: 'sepia',
  title: 'Sepia',
  description: 'Warm brown monochrome of old prints.',
  kind: 'classical',
  cost: 'light',
  params: { strength: { type: 'number', min: 0, max: 1, default: 1, description: 'mix with the original colours' } },
  async apply(input, output, p) {
    const s = Number(p.strength);
    const sep = [
      [0.393, 0.769, 0.189],
      [0.349, 0.686, 0.168],
      [0.272, 0.534, 0.131],
    ];
    const m = sep.map((row, i) => row.map((v, j) => s * v + (1 - s) * (i === j ? 1 : 0)));
    await sharpPass(input, output, (img) =>
      img.recomb(m as [[number, number, number], [number, number, number], [number, number, number]]),
    );
  },
};

export const faded: FilterDef = {
  name: 'faded',
  title: 'Faded',
  description: 'Lifted blacks, softer contrast and muted colours of a sun-faded print.',
  kind: 'classical',
  cost: 'light',
  params: { amount: { type: 'number', min: 0, max: 1, default: 0.6, description: 'how faded' } },
  async apply(input, output, p) {
    const a = Number(p.amount);
    const slope = 1 - 0.3 * a;
    await sharpPass(input, output, (img) => img.linear(slope, 60 * a).modulate({ saturation: 1 - 0.5 * a }));
  },
};

export const film: FilterDef = {
  name: 'film',
  title: 'Film',
  description: 'Colour negative look: gentle S-curve, lifted blacks, warm highlights, slightly muted colour.',
  kind: 'classical',
  cost: 'light',
  params: { strength: { type: 'number', min: 0, max: 1, default: 0.8, description: 'mix with the original' } },
  async apply(input, output, p, ctx) {
    const s = Number(p.strength);
    const curve = (x: number) => 0.05 + 0.9 * (x * x * (3 - 2 * x) * 0.6 + x * 0.4);
    const tint = [1.04, 1.0, 0.9];
    const luts = tint.map((t, c) =>
      lutFrom((x) => (1 - s) * x + s * clamp01(curve(x) * t + (c === 2 ? 0.03 * (1 - x) : 0))),
    );
    const sat = 1 - 0.2 * s;
    await mapRows(
      input,
      output,
      (rows, _y, n, w) => {
        const len = n * w * 3;
        for (let i = 0; i < len; i += 3) {
          const l = 0.299 * rows[i] + 0.587 * rows[i + 1] + 0.114 * rows[i + 2];
          rows[i] = luts[0][Math.round(l + sat * (rows[i] - l))];
          rows[i + 1] = luts[1][Math.round(l + sat * (rows[i + 1] - l))];
          rows[i + 2] = luts[2][Math.round(l + sat * (rows[i + 2] - l))];
        }
      },
      { signal: ctx.signal, onProgress: ctx.onProgress },
    );
  },
};

export const vignette: FilterDef = {
  name: 'vignette',
  title: 'Vignette',
  description: 'Darkens the corners like a simple lens.',
  kind: 'classical',
  cost: 'light',
  params: { amount: { type: 'number', min: 0, max: 1, default: 0.5, description: 'corner darkening' } },
  async apply(input, output, p, ctx) {
    const amount = Number(p.amount);
    await mapRows(
      input,
      output,
      (rows, y0, n, w, h) => {
        const cx = w / 2;
        const cy = h / 2;
        const norm = 1 / (cx * cx + cy * cy);
        for (let r = 0; r < n; r++) {
          const dy = y0 + r + 0.5 - cy;
          for (let x = 0; x < w; x++) {
            const dx = x + 0.5 - cx;
            const d = Math.sqrt((dx * dx + dy * dy) * norm); // 0 centre .. 1 corner
            const t = clamp01((d - 0.4) / 0.6);
            const f = 1 - amount * t * t * (3 - 2 * t);
            const i = (r * w + x) * 3;
            rows[i] = rows[i] * f;
            rows[i + 1] = rows[i + 1] * f;
            rows[i + 2] = rows[i + 2] * f;
          }
        }
      },
      { signal: ctx.signal, onProgress: ctx.onProgress },
    );
  },
};

export const grain: FilterDef = {
  name: 'grain',
  title: 'Film grain',
  description: 'Monochrome grain, strongest in the mid-tones; the same photo always gets the same grain.',
  kind: 'classical',
  cost: 'light',
  params: { amount: { type: 'number', min: 0, max: 1, default: 0.4, description: 'grain strength' } },
  async apply(input, output, p, ctx) {
    // Seeded by the photo's own content, so re-running a recipe reproduces the variant exactly.
    const seed = (await imageStats(input)).digest.readUInt32LE(0);
    const sigma = Number(p.amount) * 22;
    await mapRows(
      input,
      output,
      (rows, y0, n, w) => {
        for (let r = 0; r < n; r++) {
          const rnd = mulberry32(seed ^ Math.imul(y0 + r + 1, 0x9e3779b1));
          for (let x = 0; x < w; x++) {
            const i = (r * w + x) * 3;
            const l = (0.299 * rows[i] + 0.587 * rows[i + 1] + 0.114 * rows[i + 2]) / 255;
            const g = (rnd() + rnd() + rnd() - 1.5) * 2 * sigma * (0.35 + 2.6 * l * (1 - l));
            rows[i] = Math.max(0, Math.min(255, Math.round(rows[i] + g)));
            rows[i + 1] = Math.max(0, Math.min(255, Math.round(rows[i + 1] + g)));
            rows[i + 2] = Math.max(0, Math.min(255, Math.round(rows[i + 2] + g)));
          }
        }
      },
      { signal: ctx.signal, onProgress: ctx.onProgress },
    );
  },
};

import type { ImageStats } from '../filters/strips.js';
import { lutFrom, percentile } from '../filters/strips.js';

/**
 * Fade and colour-cast correction for an old print. A fading dye layer moves every channel towards the paper tone
 * (the blacks lift, the dyes lose strength, blue goes first: the print yellows), which is close to an affine map per
 * channel. So each channel is stretched back from its own darkest to its own brightest tones (0.3 % / 99.7 %
 * percentiles, from a small preview): the cast goes with it, because the whites and blacks end up neutral. Colour
 * saturation lost with the fade is given back in proportion to how much the channels had to be stretched.
 */
export interface FadeParams {
  /** Per channel: input level mapped to black and to white. */
  black: [number, number, number];
  white: [number, number, number];
  /** Chroma gain applied after the stretch (1 = none). */
  saturation: number;
}

export const FADE_CLIP = 0.003;

export function fadeParams(stats: ImageStats): FadeParams {
  const black = [0, 1, 2].map((c) => percentile(stats.hist[c], stats.count, FADE_CLIP)) as [number, number, number];
  const white = [0, 1, 2].map((c, i) =>
    Math.max(black[i] + 24, percentile(stats.hist[c], stats.count, 1 - FADE_CLIP)),
  ) as [number, number, number];
  // How much contrast the fade took away (1 = none): the average stretch the channels need.
  const range = (white[0] - black[0] + white[1] - black[1] + white[2] - black[2]) / 3;
  const loss = Math.max(1, 255 / range);
  // Dyes lose chroma about as fast as they lose density; give some of it back, bounded.
  const saturation = Math.min(1.6, 1 + 0.6 * (loss - 1));
  return { black, white, saturation };
}

/** The per-channel stretch as lookup tables. */
export function fadeLuts(p: FadeParams): Uint8Array[] {
  return [0, 1, 2].map((c) => lutFrom((x) => (x * 255 - p.black[c]) / (p.white[c] - p.black[c])));
}

/** Applies the stretch and the chroma gain to packed RGB rows in place. */
export function applyFade(rows: Uint8Array, n: number, luts: Uint8Array[], saturation: number): void {
  const [lr, lg, lb] = luts;
  for (let i = 0; i < n * 3; i += 3) {
    const r = lr[rows[i]];
    const g = lg[rows[i + 1]];
    const b = lb[rows[i + 2]];
    const l = 0.299 * r + 0.587 * g + 0.114 * b;
    rows[i] = clamp(l + saturation * (r - l));
    rows[i + 1] = clamp(l + saturation * (g - l));
    rows[i + 2] = clamp(l + saturation * (b - l));
  }
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

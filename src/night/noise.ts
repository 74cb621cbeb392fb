/**
 * Noise level of a photo as a function of brightness, per colour channel, estimated from the photo itself. Sensor
 * noise is signal dependent (shot noise grows with the light, read noise does not; the ISP's gamma and white
 * balance reshape both), so one σ for the whole image would reject too much in the shadows or too little in the
 * highlights. Estimate: in 8×8 blocks, the variance of a high-pass residual (pixel minus the mean of its four
 * neighbours); per brightness bin, a low percentile over blocks, because textured blocks only ever add variance.
 */
export const NOISE_BINS = 16;
const LOG_BINS = 96;
const LOG_MIN = -4; // log2 of the smallest variance tracked
const LOG_STEP = 0.2;
/** Residual variance per unit of white-noise variance: 1 + 4·(1/4)². */
const HP_GAIN = 1.25;
/** 10th percentile of χ²(36)/36: the 6×6 residuals of a pure-noise block. */
const P10_CHI2_36 = 0.71;

export class NoiseProfile {
  /** Variance (8-bit units²) per [bin][channel]. */
  constructor(readonly variance: Float32Array) {}

  /** σ² of channel c at luma 0..255, interpolated between bin centres. */
  at(luma: number, c: number): number {
    const g = Math.min(Math.max((luma * NOISE_BINS) / 256 - 0.5, 0), NOISE_BINS - 1);
    const i = Math.min(Math.floor(g), NOISE_BINS - 2);
    const f = g - i;
    return (1 - f) * this.variance[i * 3 + c] + f * this.variance[(i + 1) * 3 + c];
  }

  /**
   * 1 / (k·σ² + c) · n for every integer luma 0..255 and channel ([luma * 3 + c]): the inverse variance of a mean
   * of n differences, looked up per pixel in the merge.
   */
  inverseTable(k: number, c: number, n: number): Float32Array {
    const t = new Float32Array(256 * 3);
    for (let l = 0; l < 256; l++) for (let ch = 0; ch < 3; ch++) t[l * 3 + ch] = n / (k * this.at(l, ch) + c);
    return t;
  }

  /** Mean σ over bins and channels, for reports. */
  meanSigma(): number {
    let s = 0;
    for (const v of this.variance) s += Math.sqrt(v);
    return s / this.variance.length;
  }

  static flat(variance: number): NoiseProfile {
    return new NoiseProfile(new Float32Array(NOISE_BINS * 3).fill(variance));
  }
}

export class NoiseEstimator {
  private readonly hist = new Uint32Array(NOISE_BINS * 3 * LOG_BINS);
  private readonly counts = new Uint32Array(NOISE_BINS);

  /** Packed RGB rows; only whole 8×8 blocks inside them are used. */
  add(rgb: Uint8Array, width: number, rows: number): void {
    const stride = width * 3;
    for (let by = 0; by + 8 <= rows; by += 8) {
      for (let bx = 0; bx + 8 <= width; bx += 8) {
        let lsum = 0;
        for (let y = by; y < by + 8; y++)
          for (let x = bx; x < bx + 8; x++) {
            const i = y * stride + x * 3;
            lsum += 0.299 * rgb[i] + 0.587 * rgb[i + 1] + 0.114 * rgb[i + 2];
          }
        const luma = lsum / 64;
        // Clipped blocks say nothing about noise.
        if (luma < 2 || luma > 253) continue;
        const bin = Math.min(NOISE_BINS - 1, Math.floor((luma * NOISE_BINS) / 256));
        this.counts[bin]++;
        for (let c = 0; c < 3; c++) {
          let s = 0;
          for (let y = by + 1; y < by + 7; y++) {
            for (let x = bx + 1; x < bx + 7; x++) {
              const i = y * stride + x * 3 + c;
              const h = rgb[i] - 0.25 * (rgb[i - 3] + rgb[i + 3] + rgb[i - stride] + rgb[i + stride]);
              s += h * h;
            }
          }
          const v = s / 36;
          const lb = v > 0 ? Math.min(LOG_BINS - 1, Math.max(0, Math.floor((Math.log2(v) - LOG_MIN) / LOG_STEP))) : 0;
          this.hist[(bin * 3 + c) * LOG_BINS + lb]++;
        }
      }
    }
  }

  finish(): NoiseProfile {
    const variance = new Float32Array(NOISE_BINS * 3).fill(Number.NaN);
    for (let bin = 0; bin < NOISE_BINS; bin++) {
      if (this.counts[bin] < 16) continue;
      for (let c = 0; c < 3; c++) {
        const base = (bin * 3 + c) * LOG_BINS;
        const target = 0.1 * this.counts[bin];
        let acc = 0;
        let lb = 0;
        for (; lb < LOG_BINS; lb++) {
          acc += this.hist[base + lb];
          if (acc >= target) break;
        }
        const v = 2 ** (LOG_MIN + (lb + 0.5) * LOG_STEP);
        variance[bin * 3 + c] = Math.max(0.25, v / (HP_GAIN * P10_CHI2_36));
      }
    }
    // Bins with too few blocks borrow from the nearest measured bin; no measurement at all: 8-bit quantisation.
    for (let c = 0; c < 3; c++) {
      for (let bin = 0; bin < NOISE_BINS; bin++) {
        if (!Number.isNaN(variance[bin * 3 + c])) continue;
        let best = Number.NaN;
        for (let d = 1; d < NOISE_BINS && Number.isNaN(best); d++) {
          for (const j of [bin - d, bin + d]) {
            if (j >= 0 && j < NOISE_BINS && !Number.isNaN(variance[j * 3 + c])) {
              best = variance[j * 3 + c];
              break;
            }
          }
        }
        variance[bin * 3 + c] = Number.isNaN(best) ? 0.25 : best;
      }
    }
    return new NoiseProfile(variance);
  }
}

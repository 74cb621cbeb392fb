import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { lowlightCurve } from '../filters/classical.js';
import { DENOISE_MODELS, denoiseTiling, runModelFile } from '../filters/model-filters.js';
import { encodeFromV, RowReader } from '../filters/raw-image.js';
import { applyLut, imageStats, mapRows } from '../filters/strips.js';
import type { FilterContext, ModelProvider } from '../filters/types.js';
import { commitFile, TEMP_MARK, tempPathFor } from '../util/atomic-write.js';
import { UnavailableError, ValidationError } from '../util/errors.js';
import { mergeBurst, type NightReport, WEIGHT_SCALE } from './burst.js';
import type { NoiseProfile } from './noise.js';

/**
 * σ (8-bit units) of the detail IRCNN takes away from an almost clean photo. The merge-aware pass trusts IRCNN
 * where the noise left after the merge is large against this and keeps the merge where it is small (measured on
 * the synthetic bursts of test/night: 4 gives the best PSNR from low to high noise).
 */
export const DENOISE_DETAIL_SIGMA = 4;

export interface NightRunOptions {
  frames: string[];
  out: string;
  /** Adaptive tone curve after the merge (the `lowlight` curve). */
  tone?: boolean;
  /** A light IRCNN pass after the merge (the `normal` model). */
  denoise?: boolean;
  workDir: string;
  models?: ModelProvider;
  tileSize?: number;
  maxInputMegapixels?: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
  /** Each IRCNN tile's run() time (ms), like filter jobs report it. */
  onRunMs?: (ms: number) => void;
  /** Output format when OUT's extension does not name one (gallery temp files). */
  format?: 'png' | 'jpeg';
}

export interface NightResult extends NightReport {
  out: string;
  tone: boolean;
  denoise: boolean;
}

export function nightOutputFormat(out: string): 'png' | 'jpeg' {
  const ext = path.extname(out).toLowerCase();
  if (ext === '.png') return 'png';
  if (ext === '.jpg' || ext === '.jpeg') return 'jpeg';
  throw new ValidationError(`unsupported output type ${ext || '(none)'}: OUT must end in .png, .jpg or .jpeg`);
}

/**
 * `pinhole night`: merge a burst, then optionally denoise and tone it, and write OUT atomically. Denoise runs
 * before the tone curve: the curve lifts the shadows, and with them whatever noise is left.
 */
export async function runNight(o: NightRunOptions): Promise<NightResult> {
  const t0 = performance.now();
  const format = o.format ?? nightOutputFormat(o.out);
  if (o.frames.some((f) => path.resolve(f) === path.resolve(o.out)))
    throw new ValidationError('refusing to overwrite a frame of the burst: choose another OUT', undefined, 'same-file');
  if (o.denoise) {
    if (!o.models) throw new UnavailableError('--denoise needs the filter models', 'filter-unavailable');
    const p = await o.models.problem(DENOISE_MODELS.normal);
    if (p) throw new UnavailableError(`--denoise: ${p}`, 'filter-unavailable');
  }
  await fs.mkdir(o.workDir, { recursive: true });
  const temps: string[] = [];
  const temp = (suffix: string) => {
    const f = path.join(o.workDir, `${TEMP_MARK}night-${process.pid}-${randomBytes(5).toString('hex')}${suffix}`);
    temps.push(f);
    return f;
  };
  const extra = (o.denoise ? 1 : 0) + (o.tone ? 0.1 : 0);
  const share = 1 / (1 + extra);
  const report = (base: number, span: number) => (f: number) => o.onProgress?.(Math.min(1, base + f * span));
  try {
    let current = temp('.v');
    const weights = o.denoise ? temp('.w') : undefined;
    let noise: NoiseProfile | undefined;
    const merged = await mergeBurst(o.frames, current, {
      workDir: o.workDir,
      weightsOut: weights,
      onNoise: (n) => {
        noise = n;
      },
      maxInputMegapixels: o.maxInputMegapixels,
      signal: o.signal,
      onProgress: report(0, share),
    });
    let done = share;
    if (o.denoise && o.models) {
      const next = temp('.v');
      const ctx: FilterContext = {
        signal: o.signal,
        onProgress: report(done, share),
        onRunMs: o.onRunMs,
        models: o.models,
        tileSize: o.tileSize ?? 256,
        maxOutputMegapixels: 400,
        tempFile: temp,
      };
      await runModelFile(DENOISE_MODELS.normal, current, next, 1, denoiseTiling(ctx.tileSize), ctx);
      const blended = temp('.v');
      await blendByResidualNoise(
        current,
        next,
        weights as string,
        noise as NoiseProfile,
        blended,
        DENOISE_DETAIL_SIGMA,
      );
      current = blended;
      done += share;
    }
    if (o.tone) {
      const next = temp('.v');
      const { lut } = lowlightCurve(await imageStats(current), 0.46);
      await mapRows(current, next, (rows, _y, n, w) => applyLut(rows, n, w, [lut, lut, lut]), {
        signal: o.signal,
        onProgress: report(done, 0.1 * share),
      });
      current = next;
    }
    const tmpOut = tempPathFor(o.out);
    try {
      await encodeFromV(current, tmpOut, format);
      await commitFile(tmpOut, o.out);
    } catch (e) {
      await fs.rm(tmpOut, { force: true });
      throw e;
    }
    o.onProgress?.(1);
    return {
      ...merged,
      out: o.out,
      tone: Boolean(o.tone),
      denoise: Boolean(o.denoise),
      ms: Math.round(performance.now() - t0),
    };
  } finally {
    await Promise.all(temps.map((t) => fs.rm(t, { force: true })));
  }
}

/**
 * The "light" IRCNN pass: per pixel, IRCNN's result weighted by how much noise the merge left there, in the spirit
 * of HDR+'s spatial denoise that is stronger where fewer frames were merged. Residual σ² = σ²(brightness) / Σw;
 * weight = residual / (residual + detail²): the borders only the reference saw and the moving parts (Σw ≈ 1) get
 * IRCNN in full, the well-merged static scene keeps its detail.
 */
export async function blendByResidualNoise(
  mergedV: string,
  denoisedV: string,
  weightsFile: string,
  noise: NoiseProfile,
  outV: string,
  detailSigma: number,
): Promise<void> {
  const den = await RowReader.open(denoisedV);
  const wf = await fs.open(weightsFile, 'r');
  const detail2 = detailSigma * detailSigma;
  const resid = new Float32Array(256);
  for (let l = 0; l < 256; l++) resid[l] = (noise.at(l, 0) + noise.at(l, 1) + noise.at(l, 2)) / 3;
  try {
    let wbuf = Buffer.alloc(0);
    await mapRows(mergedV, outV, async (rows, y, n, w) => {
      const d = await den.read(y, n);
      if (wbuf.length < n * w) wbuf = Buffer.allocUnsafe(n * w);
      await wf.read(wbuf, 0, n * w, y * w);
      for (let i = 0; i < n * w; i++) {
        const k = i * 3;
        const l = (0.299 * rows[k] + 0.587 * rows[k + 1] + 0.114 * rows[k + 2] + 0.5) | 0;
        const sw = Math.max(1, wbuf[i] / WEIGHT_SCALE);
        const r2 = resid[l] / sw;
        const a = r2 / (r2 + detail2);
        for (let c = 0; c < 3; c++) rows[k + c] = Math.round(rows[k + c] + a * (d[k + c] - rows[k + c]));
      }
    });
  } finally {
    await den.close();
    await wf.close();
  }
}

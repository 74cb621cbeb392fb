import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { commitFile, TEMP_MARK, tempPathFor } from '../util/atomic-write.js';
import { UnavailableError, ValidationError } from '../util/errors.js';
import { decodeToV, encodeFromV, isSupportedOutput, probeImage } from './raw-image.js';
import type { FilterRegistry, ResolvedStep } from './registry.js';
import { abortError } from './tiled-model.js';
import type { FaceFinder, FilterContext, ModelProvider } from './types.js';

export interface PipelineDeps {
  registry: FilterRegistry;
  models: ModelProvider;
  faces?: FaceFinder;
  limits: { maxInputMegapixels: number; maxOutputMegapixels: number; tileSize: number };
  /** Where intermediate `.v` files go (same disk as the output is best; never the repo). */
  workDir: string;
  /** The portrait filter's person segmentation model (vision.analysis.maskModel). */
  personMaskModel?: string;
}

export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
  onRunMs?: (ms: number) => void;
  /** Output format when the output name has no telling extension (gallery temp files). */
  format?: string;
}

const COST_WEIGHT = { light: 1, medium: 2, heavy: 10 } as const;

/**
 * Runs filter steps on a photo and writes the result atomically to `output`. The input is never modified; every
 * intermediate is a `.v` file in workDir, removed afterwards whatever happens.
 */
export async function runPipeline(
  deps: PipelineDeps,
  steps: ResolvedStep[],
  input: string,
  output: string,
  opts: RunOptions = {},
): Promise<{ width: number; height: number }> {
  if (steps.length === 0) throw new ValidationError('nothing to do: no filter steps');
  if (path.resolve(input) === path.resolve(output))
    throw new ValidationError('refusing to overwrite the original: choose another output file', undefined, 'same-file');
  if (!opts.format && !isSupportedOutput(output))
    throw new ValidationError(
      `unsupported output type ${path.extname(output) || '(none)'}: use .jpg, .png, .webp or .tif`,
    );
  const size = await probeImage(input, deps.limits.maxInputMegapixels);
  // Check the whole chain before any work: sizes (upscale cap) and models/faces.
  let s = { width: size.width, height: size.height };
  for (const { filter, params } of steps) s = filter.outputSize?.(s, params, deps.limits) ?? s;
  const problems = await deps.registry.problems(steps, deps.models, deps.faces);
  if (problems.length) throw new UnavailableError(problems.join('; '), 'filter-unavailable');

  await fs.mkdir(deps.workDir, { recursive: true });
  const temps: string[] = [];
  const tempFile = (suffix: string) => {
    const f = path.join(deps.workDir, `${TEMP_MARK}filter-${process.pid}-${randomBytes(5).toString('hex')}${suffix}`);
    temps.push(f);
    return f;
  };
  const weights = steps.map((st) => COST_WEIGHT[st.filter.cost]);
  const total = weights.reduce((a, b) => a + b, 0) + 2; // + decode and encode
  let doneWeight = 0;
  const report = (f: number) => opts.onProgress?.(Math.min(1, doneWeight / total + f / total));
  const check = () => {
    if (opts.signal?.aborted) throw abortError(opts.signal);
  };
  try {
    let current = tempFile('.v');
    await decodeToV(input, current);
    doneWeight += 1;
    report(0);
    for (let i = 0; i < steps.length; i++) {
      check();
      const { filter, params } = steps[i];
      const next = tempFile('.v');
      const w = weights[i];
      const ctx: FilterContext = {
        signal: opts.signal,
        onProgress: (f) => report(Math.max(0, Math.min(1, f)) * w),
        models: deps.models,
        faces: deps.faces,
        tileSize: deps.limits.tileSize,
        maxOutputMegapixels: deps.limits.maxOutputMegapixels,
        tempFile,
        onRunMs: opts.onRunMs,
        personMaskModel: deps.personMaskModel,
      };
      await filter.apply(current, next, params, ctx);
      await fs.rm(current, { force: true });
      current = next;
      doneWeight += w;
      report(0);
    }
    check();
    const format = opts.format ?? path.extname(output).slice(1);
    const tmpOut = tempPathFor(output);
    try {
      await encodeFromV(current, tmpOut, format);
      check();
      await commitFile(tmpOut, output);
    } catch (e) {
      await fs.rm(tmpOut, { force: true });
      throw e;
    }
    opts.onProgress?.(1);
    return s;
  } finally {
    await Promise.all(temps.map((t) => fs.rm(t, { force: true })));
  }
}

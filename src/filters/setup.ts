import type { PinholeConfig } from '../config/schema.js';
import { dirResolver, FilterModels } from './models.js';
import type { PipelineDeps } from './pipeline.js';
import { BUILTIN_FILTERS, FilterRegistry } from './registry.js';
import { YuNetFaceFinder } from './yunet-finder.js';

/** Everything the filter pipeline needs, built from the config (the CLI and the daemon share this). */
export function filterDepsFromConfig(
  config: PinholeConfig,
  opts: { modelsDir?: string; workDir: string },
): PipelineDeps & { models: FilterModels } {
  const modelsDir = opts.modelsDir ?? config.models.dir;
  const resolve = dirResolver(modelsDir);
  const session = {
    threads: config.vision.threads,
    optimization: config.vision.optimization,
    memArena: config.vision.memArena,
  };
  const idleMs = config.filters.idleReleaseSeconds * 1000;
  const f = config.vision.faces;
  return {
    registry: new FilterRegistry(BUILTIN_FILTERS, config.filters.recipes),
    models: new FilterModels(resolve, session, idleMs),
    faces: f.enabled
      ? new YuNetFaceFinder(() => resolve(f.model), session, { maxSide: f.maxSide, threshold: f.threshold }, idleMs)
      : undefined,
    limits: {
      maxInputMegapixels: config.filters.maxInputMegapixels,
      maxOutputMegapixels: config.filters.maxOutputMegapixels,
      tileSize: config.filters.tileSize,
    },
    workDir: opts.workDir,
    personMaskModel: config.vision.analysis.maskModel,
  };
}

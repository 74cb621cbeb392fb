import type { Component } from '../component.js';
import type { PinholeConfig } from '../config/schema.js';
import { dirResolver } from '../models/resolver.js';
import { errorMessage } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { FaceAnalyzer, type FaceAnalyzerOptions } from './analyzer.js';
import { ANALYSIS_FEATURES, type AnalysisStatus, type Expression, type Face, type ImageAnalysis } from './types.js';

/** A face as the sidecar keeps it: the detection plus its expression (no descriptor, ever). */
export type SidecarFace = Face & { smile?: number; expression?: Expression };

const r4 = (v: number) => Math.round(v * 1e4) / 1e4;

const log = createLogger('analysis');

/** The analyzer as the config describes it (the daemon, `pinhole faces` and the bench share this). */
export function analyzerFromConfig(
  config: PinholeConfig,
  opts: { modelsDir?: string } & Partial<FaceAnalyzerOptions> = {},
): FaceAnalyzer {
  const a = config.vision.analysis;
  return new FaceAnalyzer({
    resolve: dirResolver(opts.modelsDir ?? config.models.dir),
    session: {
      threads: config.vision.threads,
      optimization: config.vision.optimization,
      memArena: config.vision.memArena,
    },
    maxSessions: a.maxSessions,
    idleMs: a.idleReleaseSeconds * 1000,
    maxSide: a.maxSide,
    ...opts,
    models: { mask: a.maskModel, ...opts.models },
  });
}

export interface AnalysisComponentDeps {
  config: PinholeConfig;
  /** Injectable for tests. */
  createAnalyzer?: (config: PinholeConfig) => FaceAnalyzer;
}

/**
 * The daemon's face analysis: one FaceAnalyzer shared by photo analysis (expressions in every sidecar), the capture
 * modes (smile shutter, best shot, gesture) and People (descriptors). Starting it loads no model: sessions load on
 * the first request. Missing or corrupt models are found at start so status says why at once.
 */
export class AnalysisComponent implements Component {
  readonly name = 'analysis';
  readonly configSections = ['vision', 'models'] as const;
  private current?: FaceAnalyzer;
  private checked: Promise<void> = Promise.resolve();

  constructor(private readonly deps: AnalysisComponentDeps) {}

  /** The running analyzer; throws when the component is stopped. */
  get analyzer(): FaceAnalyzer {
    if (!this.current) throw new Error('face analysis is not running');
    return this.current;
  }

  async start(): Promise<void> {
    const analyzer = (this.deps.createAnalyzer ?? ((c) => analyzerFromConfig(c)))(this.deps.config);
    this.current = analyzer;
    // Hashing the models (31 MB) takes about a second on a Zero 2 W: done in the background so the daemon is ready
    // at once; a missing or corrupt model then shows in status with its reason before anyone needs it.
    this.checked = this.checkModels(analyzer);
  }

  /** Resolves once the start-up model check is done (tests). */
  async ready(): Promise<void> {
    await this.checked;
  }

  private async checkModels(analyzer: FaceAnalyzer): Promise<void> {
    const problems: Record<string, string> = {};
    for (const f of ANALYSIS_FEATURES) {
      const p = await analyzer.problem(f).catch((e: unknown) => errorMessage(e));
      if (p) problems[f] = p;
    }
    if (Object.keys(problems).length) log.warn('some face analysis is off', problems);
    else log.info('face analysis ready', { maxSessions: this.deps.config.vision.analysis.maxSessions });
  }

  async stop(): Promise<void> {
    const a = this.current;
    this.current = undefined;
    await this.checked;
    await a?.close();
  }

  async reconfigure(next: PinholeConfig, prev: PinholeConfig): Promise<'applied' | 'restart'> {
    const changed =
      JSON.stringify(next.vision.analysis) !== JSON.stringify(prev.vision.analysis) ||
      next.vision.threads !== prev.vision.threads ||
      next.vision.optimization !== prev.vision.optimization ||
      next.vision.memArena !== prev.vision.memArena ||
      next.models.dir !== prev.models.dir;
    return changed ? 'restart' : 'applied';
  }

  /**
   * Expressions of the faces of a photo (path, original-image pixels), for its sidecar. Descriptors are never
   * computed here: they are People's business (photoDescriptors) and never go into the sidecar, the JPEG or XMP.
   */
  photoExpressions(file: string, faces: readonly Face[]): Promise<ImageAnalysis> {
    return this.analyzer.analyzeImage(file, faces, { expression: true, descriptor: false, priority: 'photo' });
  }

  /**
   * The sidecar's face items with `smile` and `expression` (4 decimals) added, and `analysis` saying which model
   * made them or why a face has none. Never throws: a photo is recorded with its faces whatever analysis manages.
   */
  async sidecarExpressions(
    file: string,
    faces: readonly Face[],
  ): Promise<{ items: SidecarFace[]; analysis: { expression: string; skipped?: string[] } }> {
    const model = this.current?.models.expression ?? 'fer_mini_xception';
    try {
      if (faces.length === 0) return { items: [], analysis: { expression: model } };
      const res = await this.photoExpressions(file, faces);
      const skipped = [...new Set(res.faces.flatMap((f) => (f.skipped?.expression ? [f.skipped.expression] : [])))];
      return {
        items: res.faces.map((f) => ({
          ...f.face,
          ...(f.expression && f.smile !== undefined
            ? {
                smile: r4(f.smile),
                expression: Object.fromEntries(Object.entries(f.expression).map(([k, v]) => [k, r4(v)])) as Expression,
              }
            : {}),
        })),
        analysis: { expression: model, ...(skipped.length ? { skipped } : {}) },
      };
    } catch (e) {
      log.warn('expressions of the photo failed', { file, error: errorMessage(e) });
      return { items: [...faces], analysis: { expression: model, skipped: [errorMessage(e)] } };
    }
  }

  /**
   * Descriptors of the faces of a photo, for People only (it keeps them in its own store while People is on).
   * `priority: 'background'` lets a gallery back-fill yield to live analysis and new photos.
   */
  photoDescriptors(
    file: string,
    faces: readonly Face[],
    priority: 'photo' | 'background' = 'background',
  ): Promise<ImageAnalysis> {
    return this.analyzer.analyzeImage(file, faces, { expression: false, descriptor: true, priority });
  }

  status(): AnalysisStatus | { state: 'stopped' } {
    return this.current ? this.current.status() : { state: 'stopped' };
  }
}

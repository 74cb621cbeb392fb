import { type NightResult, runNight } from '../night/night.js';
import type { Quad } from '../scan/geometry.js';
import { runScan, type ScanResult, type ScanStep } from '../scan/scan.js';
import type { PipelineDeps } from './pipeline.js';
import { runPipeline } from './pipeline.js';
import type { ParamValue } from './types.js';

/**
 * The night merge of a burst (src/night) as a job: plain data, because it crosses into the worker process. The
 * frames are JPEGs on the data disk; the first is the reference.
 */
export interface NightJobSpec {
  frames: string[];
  tone: boolean;
  denoise: boolean;
}

/**
 * A scan restoration of a stored photo (src/scan) as a job: the steps to run and, when the owner dragged them, the
 * print's corners in the photo's pixels (clockwise from top-left); without them the print is looked for.
 */
export interface ScanJobSpec {
  steps: ScanStep[];
  corners?: Quad;
}

/**
 * One filter job as a runner sees it: a recipe (or filter) with params, from a source file to a temp JPEG; or, with
 * `night`, the merge of a burst to that JPEG (recipe is then only the job's label).
 */
export interface JobSpec {
  id: string;
  recipe: string;
  params: Record<string, ParamValue>;
  /** The original photo (read only). */
  source: string;
  /** Where the JPEG result goes (written atomically); the queue moves it into the gallery. */
  output: string;
  night?: NightJobSpec;
  scan?: ScanJobSpec;
}

export interface JobRunOptions {
  signal: AbortSignal;
  onProgress: (fraction: number) => void;
}

export interface JobOutcome {
  width: number;
  height: number;
  /** Sum of the models' run() times (ms): the bench compares it with the job's wall time. */
  runMs: number;
  /** The process that ran it (the worker's pid under the daemon). */
  pid: number;
  /** A night job's report: shifts, rejected tiles, fell back and why. */
  night?: NightResult;
  /** A scan job's report: the corners used and every step's parameters. */
  scan?: Omit<ScanResult, 'out'>;
}

/**
 * Where filter jobs execute. The queue (FilterJobs) owns ordering, persistence and events; a runner only runs one
 * job at a time per call, reports progress and honours the abort signal. Filters need nothing from the runner:
 * every filter of the registry runs the same way in each of them.
 */
export interface JobRunner {
  run(spec: JobSpec, opts: JobRunOptions): Promise<JobOutcome>;
  /** Frees what the runner holds (model sessions, a worker process). */
  close(): Promise<void>;
  /** For status: how jobs run (`in-process`, or the worker's priority and pid). */
  describe(): Record<string, unknown>;
}

/** Runs jobs in this process (the CLI, tests). The daemon uses the low-priority worker (worker/child-runner.ts). */
export class InProcessRunner implements JobRunner {
  constructor(private readonly deps: PipelineDeps) {}

  async run(spec: JobSpec, opts: JobRunOptions): Promise<JobOutcome> {
    if (spec.night) return this.runNight(spec, spec.night, opts);
    if (spec.scan) return this.runScan(spec, spec.scan, opts);
    const steps = this.deps.registry.resolve(spec.recipe, spec.params);
    let runMs = 0;
    const size = await runPipeline(this.deps, steps, spec.source, spec.output, {
      signal: opts.signal,
      format: 'jpeg',
      onProgress: opts.onProgress,
      onRunMs: (ms) => {
        runMs += ms;
      },
    });
    return { ...size, runMs, pid: process.pid };
  }

  private async runNight(spec: JobSpec, night: NightJobSpec, opts: JobRunOptions): Promise<JobOutcome> {
    let runMs = 0;
    const r = await runNight({
      frames: night.frames,
      out: spec.output,
      tone: night.tone,
      denoise: night.denoise,
      workDir: this.deps.workDir,
      models: this.deps.models,
      tileSize: this.deps.limits.tileSize,
      maxInputMegapixels: this.deps.limits.maxInputMegapixels,
      format: 'jpeg',
      signal: opts.signal,
      onProgress: opts.onProgress,
      onRunMs: (ms) => {
        runMs += ms;
      },
    });
    return { width: r.width, height: r.height, runMs, pid: process.pid, night: r };
  }

  private async runScan(spec: JobSpec, scan: ScanJobSpec, opts: JobRunOptions): Promise<JobOutcome> {
    const t0 = performance.now();
    const { out: _out, ...r } = await runScan({
      input: spec.source,
      out: spec.output,
      steps: scan.steps,
      corners: scan.corners,
      workDir: this.deps.workDir,
      models: this.deps.models,
      faces: this.deps.faces,
      tileSize: this.deps.limits.tileSize,
      maxInputMegapixels: this.deps.limits.maxInputMegapixels,
      maxOutputMegapixels: this.deps.limits.maxOutputMegapixels,
      signal: opts.signal,
      onProgress: opts.onProgress,
    });
    return { width: r.width, height: r.height, runMs: performance.now() - t0, pid: process.pid, scan: r };
  }

  async close(): Promise<void> {
    await this.deps.models.releaseAll?.();
  }

  describe(): Record<string, unknown> {
    return { mode: 'in-process' };
  }
}

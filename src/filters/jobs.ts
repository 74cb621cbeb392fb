import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Component } from '../component.js';
import type { EventBus } from '../events.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { errorMessage, NotFoundError, RateLimitedError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { InProcessRunner, type JobOutcome, type JobRunner, type JobSpec } from './job-runner.js';
import type { PipelineDeps } from './pipeline.js';
import type { ParamValue } from './types.js';

const log = createLogger('filters.jobs');

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobProgress {
  jobId: string;
  photoId: string;
  recipe: string;
  progress: number;
  state: JobState;
  error?: string;
}

declare module '../events.js' {
  interface PinholeEvents {
    'job.progress': JobProgress;
  }
}

/** Where variants come from and go: the gallery adapts itself to this (src/store/ is not ours). */
export interface VariantTarget {
  sourcePath(photoId: string): Promise<string>;
  /** Takes ownership of tmpFilePath (a JPEG): moves it beside the original and records the recipe in the sidecar. */
  writeVariant(
    photoId: string,
    name: string,
    tmpFilePath: string,
    info: { recipe: string; params: Record<string, ParamValue>; ms: number },
  ): Promise<void>;
}

export interface Job {
  id: string;
  photoId: string;
  recipe: string;
  params: Record<string, ParamValue>;
  state: JobState;
  createdAt: string;
  progress: number;
  error?: string;
  /** Finished jobs: wall time and the sum of the models' run() times (ms). */
  ms?: number;
  runMs?: number;
  /** A task job (enqueueTask): its daemon-side steps; never persisted, never shown. */
  task?: QueuedTask;
}

/**
 * Work that is not a recipe on a stored photo but runs as a filter job, in the runner (the low-priority worker in
 * the daemon), with the filter jobs' queue, bounds, progress and cancel: the night merge of a burst. Only
 * `prepare` and `import` run in the daemon and must stay light; the heavy part is the runner's, described by the
 * serialisable spec `prepare` returns (JobSpec.night), since a closure cannot cross into the worker process.
 */
export interface JobTask {
  /** When the job starts: what the runner runs (it may still decide options, e.g. skip a missing model). */
  prepare(signal: AbortSignal): Promise<Pick<JobSpec, 'source' | 'night' | 'scan'>>;
  /** After the runner wrote `output` (a temp file the queue removes afterwards): stores the result. */
  import(output: string, outcome: JobOutcome, signal: AbortSignal): Promise<void>;
}

interface QueuedTask extends JobTask {
  settle: { ok: () => void; fail: (e: Error) => void };
}

interface JobsFile {
  version: 1;
  jobs: Pick<Job, 'id' | 'photoId' | 'recipe' | 'params' | 'createdAt'>[];
}

export interface FilterJobsOptions {
  deps: PipelineDeps;
  target: VariantTarget;
  bus: EventBus;
  /** JSON file of unfinished jobs, e.g. `<dataDir>/filter-jobs.json`. */
  stateFile: string;
  workers: number;
  queueLimit: number;
  onCapture?: string | null;
  /**
   * Where jobs execute. Default: in this process. The daemon passes the low-priority worker process
   * (worker/child-runner.ts), so a long job never competes with the shutter, the preview or live faces.
   */
  runner?: JobRunner;
}

const HISTORY = 20;

/**
 * The filter job queue: bounded, `workers` jobs at a time, persisted so a job pending or running at shutdown (or a
 * power cut) is run again at the next start. Finished jobs are dropped from the file and kept briefly in memory
 * for status().
 */
export class FilterJobs implements Component {
  readonly name = 'filters';
  readonly configSections = ['filters', 'vision', 'models'] as const;
  private readonly pending: Job[] = [];
  private readonly running = new Map<string, { job: Job; abort: AbortController; done: Promise<void> }>();
  private readonly finished: Job[] = [];
  private stopping = false;
  private started = false;
  private saveChain: Promise<void> = Promise.resolve();
  private readonly runner: JobRunner;

  constructor(private readonly opts: FilterJobsOptions) {
    this.runner = opts.runner ?? new InProcessRunner(opts.deps);
  }

  /** The models and work folder the jobs use (a task's daemon side checks the same models the runner loads). */
  get pipelineDeps(): PipelineDeps {
    return this.opts.deps;
  }

  async start(): Promise<void> {
    this.stopping = false;
    let saved: JobsFile | undefined;
    try {
      saved = JSON.parse(await fs.readFile(this.opts.stateFile, 'utf8')) as JobsFile;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        log.warn('job file unreadable, starting empty', { file: this.opts.stateFile, error: e });
    }
    for (const j of saved?.jobs ?? []) {
      if (this.findActive(j.photoId, j.recipe, j.params)) continue;
      this.pending.push({ ...j, params: j.params ?? {}, state: 'queued', progress: 0 });
    }
    if (this.pending.length) log.info('resuming filter jobs', { count: this.pending.length });
    this.started = true;
    this.pump();
  }

  /** Aborts running jobs; they stay in the file and run again at the next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.started = false;
    for (const r of this.running.values()) r.abort.abort(new Error('shutting down'));
    // queued tasks are not resumed at the next start (their inputs are temporary): settle them so callers clean up
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const t = this.pending[i].task;
      if (!t) continue;
      this.pending.splice(i, 1);
      t.settle.fail(new Error('shutting down'));
    }
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
    await this.saveChain;
    await this.runner.close();
    await this.opts.deps.models.releaseAll?.();
  }

  /**
   * Queues a filter or recipe for a photo. The same photo + recipe + params already queued or running returns that
   * job instead of a second one. Validation (unknown filter, bad param) happens here, before anything is queued.
   */
  async enqueue(photoId: string, recipe: string, params: Record<string, unknown> = {}): Promise<Job> {
    const steps = this.opts.deps.registry.resolve(recipe, params);
    // Full params (defaults filled) so `denoise` and `denoise strength=normal` count as the same job.
    const given = this.opts.deps.registry.get(recipe) ? steps[0].params : {};
    const existing = this.findActive(photoId, recipe, given);
    if (existing) return { ...existing };
    if (this.pending.length >= this.opts.queueLimit)
      throw new RateLimitedError(30, `filter queue is full (${this.opts.queueLimit} jobs, filters.queueLimit)`);
    const job: Job = {
      id: randomUUID(),
      photoId,
      recipe,
      params: given,
      state: 'queued',
      createdAt: new Date().toISOString(),
      progress: 0,
    };
    this.pending.push(job);
    await this.save();
    this.emit(job);
    this.pump();
    return { ...job };
  }

  /**
   * Queues a task (see JobTask) with the same worker count, queue limit, progress events and cancel as a filter job.
   * `label` is the job's `recipe` in status and events; `photoId` may be '' when the task makes the photo. Tasks are
   * not written to the job file: their inputs are temporary. `done` settles with the task (rejects when it fails
   * or is cancelled, including by shutdown).
   */
  enqueueTask(label: string, photoId: string, task: JobTask): { job: Job; done: Promise<void> } {
    if (this.pending.length >= this.opts.queueLimit)
      throw new RateLimitedError(30, `filter queue is full (${this.opts.queueLimit} jobs, filters.queueLimit)`);
    let settle!: QueuedTask['settle'];
    const done = new Promise<void>((ok, fail) => {
      settle = { ok, fail };
    });
    const job: Job = {
      id: randomUUID(),
      photoId,
      recipe: label,
      params: {},
      state: 'queued',
      createdAt: new Date().toISOString(),
      progress: 0,
      task: { prepare: (s) => task.prepare(s), import: (o, r, s) => task.import(o, r, s), settle },
    };
    this.pending.push(job);
    this.emit(job);
    this.pump();
    return { job: publicJob(job), done };
  }

  /** For the capture pipeline: applies `filters.onCapture` to a new photo, if set. */
  async onCaptured(photoId: string): Promise<Job | undefined> {
    if (!this.opts.onCapture) return undefined;
    return this.enqueue(photoId, this.opts.onCapture);
  }

  cancel(jobId: string): void {
    const i = this.pending.findIndex((j) => j.id === jobId);
    if (i >= 0) {
      const [job] = this.pending.splice(i, 1);
      // a queued task's caller waits on it (and cleans up when it settles)
      job.task?.settle.fail(new Error('cancelled'));
      this.finish(job, 'cancelled');
      void this.save();
      return;
    }
    const r = this.running.get(jobId);
    if (!r) throw new NotFoundError(`no active filter job ${jobId}`);
    r.abort.abort(new Error('cancelled'));
  }

  status() {
    return {
      workers: this.opts.workers,
      queueLimit: this.opts.queueLimit,
      runner: this.runner.describe(),
      running: [...this.running.values()].map((r) => publicJob(r.job)),
      queued: this.pending.map(publicJob),
      recent: this.finished.map(publicJob),
    };
  }

  controlMethods() {
    return {
      'filters.enqueue': async (p: Record<string, unknown>) =>
        this.enqueue(String(p.photoId), String(p.recipe), (p.params as Record<string, unknown>) ?? {}),
      'filters.cancel': async (p: Record<string, unknown>) => {
        this.cancel(String(p.jobId));
        return { ok: true };
      },
      'filters.status': async () => this.status(),
    };
  }

  /** Resolves when nothing is queued or running (tests, shutdown of the CLI). */
  async idle(): Promise<void> {
    while (this.pending.length || this.running.size)
      await Promise.race(
        [...this.running.values()].map((r) => r.done).concat(new Promise<void>((r) => setTimeout(r, 20))),
      );
    await this.saveChain;
  }

  private findActive(photoId: string, recipe: string, params: Record<string, unknown>): Job | undefined {
    const key = JSON.stringify(sortObj(params));
    const same = (j: Job) => j.photoId === photoId && j.recipe === recipe && JSON.stringify(sortObj(j.params)) === key;
    return this.pending.find(same) ?? [...this.running.values()].map((r) => r.job).find(same);
  }

  private pump(): void {
    while (this.started && !this.stopping && this.running.size < this.opts.workers && this.pending.length) {
      const job = this.pending.shift()!;
      const abort = new AbortController();
      job.state = 'running';
      const entry = { job, abort, done: Promise.resolve() };
      this.running.set(job.id, entry);
      entry.done = this.runJob(job, abort.signal).finally(() => {
        this.running.delete(job.id);
        this.pump();
      });
    }
  }

  private async runJob(job: Job, signal: AbortSignal): Promise<void> {
    const t0 = Date.now();
    this.emit(job);
    const dir = this.opts.deps.workDir;
    const tmp = path.join(dir, `.pinhole-tmp-variant-${job.id}.jpg`);
    let lastEmit = 0;
    try {
      if (job.task) {
        await this.runTask(job, job.task, tmp, signal, t0, (f) => {
          job.progress = f;
          const now = Date.now();
          if (now - lastEmit > 250) {
            lastEmit = now;
            this.emit(job);
          }
        });
        return;
      }
      const source = await this.opts.target.sourcePath(job.photoId);
      const outcome = await this.runner.run(
        { id: job.id, recipe: job.recipe, params: job.params, source, output: tmp },
        {
          signal,
          onProgress: (f) => {
            job.progress = f;
            const now = Date.now();
            if (now - lastEmit > 250) {
              lastEmit = now;
              this.emit(job);
            }
          },
        },
      );
      await this.opts.target.writeVariant(job.photoId, job.recipe, tmp, {
        recipe: job.recipe,
        params: job.params,
        ms: Date.now() - t0,
      });
      job.progress = 1;
      job.ms = Date.now() - t0;
      job.runMs = Math.round(outcome.runMs);
      this.finish(job, 'done');
      log.info('filter job done', {
        job: job.id,
        photo: job.photoId,
        recipe: job.recipe,
        ms: job.ms,
        modelRunMs: job.runMs,
      });
    } catch (e) {
      if (job.task) {
        const err = e instanceof Error ? e : new Error(String(e));
        job.task.settle.fail(signal.aborted && signal.reason instanceof Error ? signal.reason : err);
        // a task is not resumed: its inputs are temporary and its caller cleans them up now
        this.finish(job, signal.aborted ? 'cancelled' : 'failed', signal.aborted ? undefined : errorMessage(e));
        if (!signal.aborted) log.warn('job failed', { job: job.id, task: job.recipe, error: e });
        return;
      }
      if (signal.aborted && this.stopping) {
        // Left in the job file: it runs again at the next start.
        job.state = 'queued';
        log.info('filter job interrupted by shutdown, will resume', { job: job.id });
        return;
      }
      this.finish(job, signal.aborted ? 'cancelled' : 'failed', signal.aborted ? undefined : errorMessage(e));
      if (!signal.aborted)
        log.warn('filter job failed', { job: job.id, photo: job.photoId, recipe: job.recipe, error: e });
    } finally {
      await fs.rm(tmp, { force: true });
      this.running.delete(job.id);
      if (!this.stopping) await this.save();
    }
  }

  /** A task's turn: prepare (daemon), the runner's heavy part (worker), import (daemon). */
  private async runTask(
    job: Job,
    task: QueuedTask,
    tmp: string,
    signal: AbortSignal,
    t0: number,
    onProgress: (f: number) => void,
  ): Promise<void> {
    const part = await task.prepare(signal);
    signal.throwIfAborted();
    const outcome = await this.runner.run(
      { id: job.id, recipe: job.recipe, params: job.params, ...part, output: tmp },
      { signal, onProgress },
    );
    signal.throwIfAborted();
    await task.import(tmp, outcome, signal);
    job.progress = 1;
    job.ms = Date.now() - t0;
    job.runMs = Math.round(outcome.runMs);
    this.finish(job, 'done');
    task.settle.ok();
    log.info('job done', { job: job.id, task: job.recipe, ms: job.ms, pid: outcome.pid });
  }

  private finish(job: Job, state: JobState, error?: string): void {
    job.state = state;
    if (error) job.error = error;
    this.finished.unshift(publicJob(job));
    this.finished.length = Math.min(this.finished.length, HISTORY);
    this.emit(job);
  }

  private emit(job: Job): void {
    this.opts.bus.emit('job.progress', {
      jobId: job.id,
      photoId: job.photoId,
      recipe: job.recipe,
      progress: job.progress,
      state: job.state,
      ...(job.error ? { error: job.error } : {}),
    });
  }

  /** Writes queued + running jobs; serialised so an older snapshot never lands after a newer one. */
  private save(): Promise<void> {
    const snapshot: JobsFile = {
      version: 1,
      jobs: [...[...this.running.values()].map((r) => r.job), ...this.pending]
        .filter((j) => !j.task)
        .map(({ id, photoId, recipe, params, createdAt }) => ({ id, photoId, recipe, params, createdAt })),
    };
    this.saveChain = this.saveChain
      .then(async () => {
        await fs.mkdir(path.dirname(this.opts.stateFile), { recursive: true });
        await writeFileAtomic(this.opts.stateFile, `${JSON.stringify(snapshot, null, 2)}\n`);
      })
      .catch((e: unknown) => log.error('cannot save filter jobs', { file: this.opts.stateFile, error: e }));
    return this.saveChain;
  }
}

function sortObj(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

/** A job as status and callers see it (without its task's functions). */
function publicJob({ task: _task, ...j }: Job): Job {
  return j;
}

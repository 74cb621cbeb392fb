import type { NightConfig } from '../config/sections/night.js';
import type { JobOutcome } from '../filters/job-runner.js';
import type { JobTask } from '../filters/jobs.js';
import { errorMessage, UnavailableError, ValidationError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { alternateName, type BurstResult } from './best-shot.js';

const log = createLogger('capture.night');

/** The sidecar's `night` key: what the merge did, so a strange result can be explained later. */
export interface NightMeta {
  /** Frames taken; `merged` of them went into the photo (the others were dropped: nothing lined up). */
  frames: number;
  merged: number;
  /** Per frame: [dx, dy, angleDeg] of its content relative to the reference (frame 1). */
  shifts: [number, number, number][];
  /** (frame, tile) pairs mostly left out of the merge, out of `tilesPerFrame × (frames − 1)`. */
  rejectedTiles: number;
  tilesPerFrame: number;
  tile: number;
  droppedFrames: number[];
  /** Nothing lined up: the photo is the reference frame alone (`reason` says why). */
  fellBack: boolean;
  reason?: string;
  noiseSigma: number;
  tone: boolean;
  denoise: boolean;
  /** Present when the IRCNN pass was asked for but could not run (the merge is kept without it). */
  denoiseSkipped?: string;
  /** ms from the request to the burst's last frame; the merge job's own time. */
  burstMs: number;
  mergeMs: number;
  /** Variant names of the kept frames (camera.capture.night.keepFrames). */
  keptFrames?: string[];
}

export interface NightShotDeps {
  config: () => NightConfig;
  /** N full-resolution frames with identical settings as fast as the camera path allows (the capture service's). */
  burst: (req: { source: string; frames: number }) => Promise<BurstResult>;
  /**
   * Queues `task` as a filter job: its spec (JobSpec.night) runs in the job runner, the low-priority worker process
   * under the daemon; `done` settles with it.
   */
  enqueue: (task: JobTask) => { job: { id: string }; done: Promise<void> };
  /** Why the IRCNN pass cannot run now (models missing), or undefined. */
  denoiseProblem: () => Promise<string | undefined>;
  /** Stores the merged JPEG as a new photo (the reference frame's EXIF and timing) with `night` in its sidecar. */
  commit: (merged: string, burst: BurstResult, req: { source: string; night: NightMeta }) => Promise<{ id: string }>;
  /** Stores a burst frame with the photo under `name` (keepFrames). */
  addFrame: (photoId: string, name: string, file: string) => Promise<void>;
  now?: () => number;
}

export interface NightShotStarted {
  /** The merge job (GET /api/filters/jobs, `job.progress` events). */
  jobId: string;
  frames: number;
  burstMs: number;
  /** Resolves when the merged photo is stored. */
  done: Promise<{ id: string; night: NightMeta }>;
}

/** Merges waiting or running at once: each holds its burst's JPEGs on disk (≈ 5 MB a frame at 12 MP). */
export const MAX_PENDING_MERGES = 2;

/**
 * Night mode: a burst (the shutter's queue, so a single shot still goes first), then the merge as a filter job
 * (low priority: the preview and the next shutter press are not held up), then the merged photo stored like a
 * capture. The frames are deleted once the photo is stored unless keepFrames.
 */
export class NightShot {
  private bursting = false;
  private merges = 0;

  constructor(private readonly deps: NightShotDeps) {}

  get busy(): boolean {
    return this.bursting;
  }

  get pendingMerges(): number {
    return this.merges;
  }

  async take(source: string): Promise<NightShotStarted> {
    if (this.bursting) throw new UnavailableError('a night burst is already being taken', 'busy');
    if (this.merges >= MAX_PENDING_MERGES)
      throw new UnavailableError(
        `${this.merges} night photos are still being merged; try again when one is done`,
        'busy',
      );
    const now = this.deps.now ?? (() => performance.now());
    const cfg = this.deps.config();
    const t0 = now();
    this.bursting = true;
    let burst: BurstResult;
    try {
      burst = await this.deps.burst({ source, frames: cfg.frames });
    } finally {
      this.bursting = false;
    }
    const burstMs = Math.round(now() - t0);
    if (burst.files.length === 0) {
      await burst.cleanup().catch(() => {});
      throw new ValidationError('the burst returned no frames');
    }
    let result: { id: string; night: NightMeta } | undefined;
    let denoiseSkipped: string | undefined;
    let t0Merge = 0;
    const task: JobTask = {
      prepare: async () => {
        t0Merge = Date.now();
        denoiseSkipped = cfg.denoise ? await this.deps.denoiseProblem() : undefined;
        // the merge alone is most of the gain: keep it rather than refusing the photo
        if (denoiseSkipped) log.warn('night: IRCNN pass skipped', { reason: denoiseSkipped });
        return {
          source: burst.files[0],
          night: { frames: burst.files, tone: cfg.tone, denoise: cfg.denoise && !denoiseSkipped },
        };
      },
      import: async (merged, outcome) => {
        result = await this.store(merged, outcome, burst, source, cfg, {
          burstMs,
          mergeMs: Date.now() - t0Merge,
          denoiseSkipped,
        });
      },
    };
    let queued: ReturnType<NightShotDeps['enqueue']>;
    try {
      queued = this.deps.enqueue(task);
    } catch (e) {
      await burst.cleanup().catch(() => {});
      throw e;
    }
    this.merges++;
    const done = queued.done
      .then(() => result as { id: string; night: NightMeta })
      .finally(async () => {
        this.merges--;
        await burst.cleanup().catch(() => {});
      });
    // the caller may not wait (a button press): failures are logged here as well
    done.catch((e: unknown) => log.warn('night merge failed', { job: queued.job.id, error: errorMessage(e) }));
    log.info('night burst taken, merging', { frames: burst.files.length, burstMs, job: queued.job.id, source });
    return { jobId: queued.job.id, frames: burst.files.length, burstMs, done };
  }

  /** The daemon's part after the merge job: the sidecar record, the photo, the kept frames. */
  private async store(
    merged: string,
    outcome: JobOutcome,
    burst: BurstResult,
    source: string,
    cfg: NightConfig,
    t: { burstMs: number; mergeMs: number; denoiseSkipped?: string },
  ): Promise<{ id: string; night: NightMeta }> {
    const r = outcome.night;
    if (!r) throw new ValidationError('the night merge job returned no report');
    const { burstMs, mergeMs, denoiseSkipped } = t;
    if (r.fellBack) log.warn('night: merge fell back to the reference frame', { reason: r.reason });
    const night: NightMeta = {
      frames: burst.files.length,
      merged: r.frames - r.droppedFrames.length,
      shifts: r.shifts,
      rejectedTiles: r.rejectedTiles,
      tilesPerFrame: r.tilesPerFrame,
      tile: r.tile,
      droppedFrames: r.droppedFrames,
      fellBack: r.fellBack,
      ...(r.reason ? { reason: r.reason } : {}),
      noiseSigma: r.noiseSigma,
      tone: r.tone,
      denoise: r.denoise,
      ...(denoiseSkipped ? { denoiseSkipped } : {}),
      burstMs,
      mergeMs,
      ...(cfg.keepFrames ? { keptFrames: burst.files.map((_f, i) => alternateName(i)) } : {}),
    };
    const photo = await this.deps.commit(merged, burst, { source, night });
    if (cfg.keepFrames)
      for (let i = 0; i < burst.files.length; i++) {
        try {
          await this.deps.addFrame(photo.id, alternateName(i), burst.files[i]);
        } catch (e) {
          log.warn('night frame not kept', { id: photo.id, frame: i, error: errorMessage(e) });
        }
      }
    log.info('night photo', {
      id: photo.id,
      frames: night.frames,
      merged: night.merged,
      rejectedTiles: night.rejectedTiles,
      fellBack: night.fellBack,
      mergeMs: night.mergeMs,
    });
    return { id: photo.id, night };
  }
}

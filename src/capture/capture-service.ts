import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { CameraConfig } from '../config/sections/camera.js';
import type { EventBus } from '../events.js';
import type { BurstTiming, CameraDriver, FrameControls, StillTiming } from '../hw/camera/types.js';
import type { GalleryStore, PendingPhoto } from '../store/gallery.js';
import type { PhotoMeta, PhotoRecord, ShutterLag } from '../store/types.js';
import { ConflictError, errorMessage, StorageError, UnavailableError, ValidationError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';

declare module '../events.js' {
  interface PinholeEvents {
    /** A photo is committed to the gallery (face detection and filters hook here). */
    'photo.captured': PhotoRecord;
    /** A capture was accepted (running or queued): background work (sync) steps aside until `capture.ended`. */
    'capture.started': { source?: string };
    'capture.ended': { source?: string; ok: boolean };
  }
}

const log = createLogger('capture');

/**
 * Runs on the final JPEG in its temp folder, before the thumbnail is made and the photo is committed: the place
 * to rewrite the file (e.g. embed XMP face regions). A hook that throws is logged; the photo is kept.
 */
export type BeforeCommitHook = (jpegPath: string, meta: PhotoMeta) => Promise<void>;

export interface CaptureRequest {
  /** Who asked: 'button', 'web', 'cli' (stored in the sidecar). */
  source?: string;
  /** Extra sidecar keys (a capture mode's record, e.g. best shot's score breakdown). */
  meta?: Record<string, unknown>;
}

export interface CaptureResult {
  id: string;
  seq: number;
  path: string;
  thumbPath: string;
  width: number;
  height: number;
  lag: ShutterLag;
}

export interface BurstRequest {
  source?: string;
  /** Frames to take (1–32). */
  frames: number;
  /** Also store every frame in the gallery as a photo (camera EXIF merged with Pinhole's, like any capture). */
  keep?: boolean;
  /** Fixed exposure for every frame; default: metered on the first frame, then locked. */
  lock?: { shutterUs: number; gain: number; awbGains?: [number, number] };
}

export interface BurstFrameResult {
  index: number;
  /** Full-resolution JPEG from the camera (its own EXIF), inside `dir`. */
  path: string;
  /** ms after the trigger. */
  lag: Omit<ShutterLag, 'strategy' | 'durableMs'>;
  /** Exposure, gains and colour gains the camera reports for this frame. */
  controls?: FrameControls;
}

export interface BurstResult {
  /** A temporary folder under `<dataDir>/tmp/bursts/` that the caller owns and must delete. */
  dir: string;
  frames: BurstFrameResult[];
  locked?: BurstTiming['locked'];
  /** Ended early because a single shot was requested (the shutter has priority). */
  interrupted: boolean;
  /** With `keep`: the gallery photos, one per frame. */
  photos?: CaptureResult[];
}

export interface CaptureServiceDeps {
  camera: CameraDriver;
  store: GalleryStore;
  bus?: EventBus;
  /** Read at each capture, so busyPolicy / queueLimit changes apply live. */
  config: () => CameraConfig;
  /** EXIF Software of every photo, e.g. "Pinhole 0.1.0". */
  software?: string;
  /** The daemon's clock source: capture time in the sidecar and EXIF DateTimeOriginal. */
  now?: () => Date;
  /** Where bursts put their frames (on the data disk). Default: `<gallery>/../tmp/bursts`. */
  burstDir?: string;
}

/** A still of the full 12 MP sensor at quality 93 is 4–8 MB; this much room after a failed write means "not the disk". */
const STILL_ESTIMATE_MB = 16;
export const MAX_BURST_FRAMES = 32;

type Waiter = { kind: 'single' | 'burst'; resolve: () => void };

/**
 * Trigger → still (or burst) → gallery. One camera operation at a time (the camera has one owner); others are
 * queued up to camera.capture.queueLimit or refused with a busy error, per camera.capture.busyPolicy. Single shots
 * have priority over bursts: they are served first from the queue and end a running burst after its current frame.
 */
export class CaptureService {
  private running = false;
  private readonly waiting: Waiter[] = [];
  private readonly hooks = new Set<BeforeCommitHook>();

  constructor(private readonly deps: CaptureServiceDeps) {}

  addBeforeCommitHook(hook: BeforeCommitHook): () => void {
    this.hooks.add(hook);
    return () => this.hooks.delete(hook);
  }

  /** Captures queued behind the running one. */
  get queued(): number {
    return this.waiting.length;
  }

  get busy(): boolean {
    return this.running;
  }

  private checkCamera(): void {
    const state = this.deps.camera.status().state;
    if (state === 'disabled')
      throw new UnavailableError('the camera is disabled (camera.backend: none)', 'camera-disabled');
    if (state === 'absent')
      throw new UnavailableError(
        `no camera available: ${this.deps.camera.status().lastError ?? 'not detected'}`,
        'camera-absent',
      );
    if (state === 'stopped') throw new UnavailableError('the camera is not running', 'camera-stopped');
  }

  /** Waits for the camera per the busy policy; the returned function hands it to the next waiter. */
  private async acquire(kind: Waiter['kind']): Promise<() => void> {
    const cfg = this.deps.config().capture;
    if (this.running) {
      if (cfg.busyPolicy === 'refuse') throw new ConflictError('a capture is already in progress');
      if (this.waiting.length >= cfg.queueLimit)
        throw new ConflictError(
          `a capture is in progress and ${this.waiting.length} are waiting (camera.capture.queueLimit)`,
        );
      await new Promise<void>((resolve) => this.waiting.push({ kind, resolve }));
    } else {
      this.running = true;
    }
    return () => {
      const i = this.waiting.findIndex((w) => w.kind === 'single');
      const next = this.waiting.splice(Math.max(i, 0), 1)[0];
      if (next) next.resolve();
      else this.running = false;
    };
  }

  async capture(req: CaptureRequest = {}): Promise<CaptureResult> {
    const trigger = performance.now();
    this.checkCamera();
    // Background work (sync) pauses from the press to the durable file: started/ended always come in pairs.
    this.deps.bus?.emit('capture.started', { source: req.source });
    let ok = false;
    try {
      const release = await this.acquire('single');
      try {
        const r = await this.run(trigger, req).catch((e: unknown) => {
          throw diskFullAsStorageError(e);
        });
        ok = true;
        return r;
      } finally {
        release();
      }
    } finally {
      this.deps.bus?.emit('capture.ended', { source: req.source, ok });
    }
  }

  /**
   * A camera failure while writing: rpicam-still says only "failed to write file - output probably corrupt", so the
   * free space decides whether the disk is the reason (507) or the camera (503).
   */
  private async cameraOrStorage(e: unknown, needMB: number): Promise<unknown> {
    if (!(e instanceof UnavailableError) || e.code !== 'camera-failed') return e;
    if (!(await this.deps.store.lowOnSpace(needMB))) return e;
    return new StorageError(
      `the camera could not write the photo and the data disk is (nearly) full: ${e.message}. Delete photos to free space.`,
    );
  }

  /**
   * Stores a JPEG the camera already took (best shot's chosen burst frame) as a new photo, exactly like a capture:
   * EXIF, sidecar (with `req.meta`), thumbnail, atomic commit, `photo.captured`. Not queued behind captures: the
   * camera is not involved. `lag` is the frame's own timing after `trigger`.
   */
  async importFrame(
    file: string,
    req: CaptureRequest,
    lag: Omit<ShutterLag, 'durableMs'>,
    trigger: number,
  ): Promise<CaptureResult> {
    const capturedAt = this.deps.now?.() ?? new Date();
    const pending = await this.deps.store.reserve();
    try {
      await fs.copyFile(file, pending.rawPath);
    } catch (e) {
      await this.deps.store.abort(pending);
      throw diskFullAsStorageError(e);
    }
    return this.commit(pending, trigger, capturedAt, req.source, { ...lag }, {}, req.meta).catch((e: unknown) => {
      throw diskFullAsStorageError(e);
    });
  }

  private async run(trigger: number, req: CaptureRequest): Promise<CaptureResult> {
    const { store, camera } = this.deps;
    const capturedAt = this.deps.now?.() ?? new Date();
    const pending = await store.reserve(); // throws StorageError when full or not writable
    let timing: StillTiming;
    try {
      timing = await camera.captureStill(pending.rawPath);
    } catch (e) {
      await store.abort(pending);
      throw await this.cameraOrStorage(e, STILL_ESTIMATE_MB);
    }
    return this.commit(
      pending,
      trigger,
      capturedAt,
      req.source,
      {
        strategy: timing.strategy,
        commandIssuedMs: round(timing.commandIssuedAt - trigger),
        exposureDoneMs: round(timing.exposureDoneAt - trigger),
        writtenMs: round(timing.writtenAt - trigger),
      },
      {},
      req.meta,
    );
  }

  private async commit(
    pending: PendingPhoto,
    trigger: number,
    capturedAt: Date,
    source: string | undefined,
    lag: ShutterLag,
    extra: Record<string, unknown> = {},
    /** Extra top-level sidecar keys (a capture mode's record), in place before `photo.captured`. */
    meta: Record<string, unknown> = {},
  ): Promise<CaptureResult> {
    const { store } = this.deps;
    const cfg = this.deps.config();
    const settings = {
      strategy: lag.strategy,
      width: cfg.still.width,
      height: cfg.still.height,
      quality: cfg.still.quality,
      controls: cfg.controls,
      extraArgs: cfg.extraArgs,
      ...extra,
    };
    const committed = await store.commit(pending, {
      capturedAt,
      source,
      settings,
      lag,
      exif: {
        model: 'Pinhole camera',
        ...(this.deps.software ? { software: this.deps.software } : {}),
        description: `Pinhole capture: ${JSON.stringify({ strategy: lag.strategy, ...cfg.controls })}`,
        exposureUs: cfg.controls.shutterUs || undefined,
        gain: cfg.controls.gain || undefined,
        ev: cfg.controls.ev,
      },
      beforeCommit: this.hooks.size ? (p, m) => this.runHooks(p, m) : undefined,
    });
    lag.durableMs = round(committed.durableAt - trigger);
    const stored = await store.update(committed.id, { ...meta, lag });
    const record: PhotoRecord = {
      id: committed.id,
      seq: committed.seq,
      path: committed.path,
      thumbPath: committed.thumbPath,
      meta: stored,
    };
    log.info('photo captured', {
      id: record.id,
      strategy: lag.strategy,
      commandMs: lag.commandIssuedMs,
      exposureMs: lag.exposureDoneMs,
      durableMs: lag.durableMs,
      source,
    });
    this.deps.bus?.emit('photo.captured', record);
    return {
      id: record.id,
      seq: record.seq,
      path: record.path,
      thumbPath: record.thumbPath,
      width: stored.width,
      height: stored.height,
      lag,
    };
  }

  /**
   * N full-resolution frames with identical exposure (see CameraDriver.captureBurst) into a folder the caller owns,
   * with per-frame timing; `keep` also stores each frame as a gallery photo. Queued like a capture; a single shot
   * requested meanwhile ends the burst after its current frame and goes first.
   */
  async captureBurst(req: BurstRequest): Promise<BurstResult> {
    const trigger = performance.now();
    const n = Math.floor(req.frames);
    if (!Number.isFinite(n) || n < 1 || n > MAX_BURST_FRAMES)
      throw new ValidationError(`a burst takes 1 to ${MAX_BURST_FRAMES} frames, not ${req.frames}`);
    this.checkCamera();
    this.deps.bus?.emit('capture.started', { source: req.source });
    let release: (() => void) | undefined;
    let ok = false;
    try {
      release = await this.acquire('burst');
      const r = await this.burst(req, n, trigger);
      ok = true;
      return r;
    } finally {
      release?.();
      this.deps.bus?.emit('capture.ended', { source: req.source, ok });
    }
  }

  private async burst(req: BurstRequest, n: number, trigger: number): Promise<BurstResult> {
    const capturedAt = this.deps.now?.() ?? new Date();
    const base = this.deps.burstDir ?? path.join(path.dirname(this.deps.store.root), 'tmp', 'bursts');
    const dir = path.join(base, `burst-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`);
    try {
      // Room for every frame (twice with `keep`: the frames and their gallery copies).
      const needMB = n * STILL_ESTIMATE_MB * (req.keep ? 2 : 1);
      await this.deps.store.assertCanWrite(needMB);
      let timing: BurstTiming;
      try {
        timing = await this.deps.camera.captureBurst({
          dir,
          frames: n,
          lock: req.lock,
          shouldStop: () => this.waiting.some((w) => w.kind === 'single'),
        });
      } catch (e) {
        await fs.rm(dir, { recursive: true, force: true });
        throw await this.cameraOrStorage(e, STILL_ESTIMATE_MB);
      }
      const frames: BurstFrameResult[] = timing.frames.map((f) => ({
        index: f.index,
        path: f.path,
        lag: {
          commandIssuedMs: round(f.commandIssuedAt - trigger),
          exposureDoneMs: round(f.exposureDoneAt - trigger),
          writtenMs: round(f.writtenAt - trigger),
        },
        ...(f.controls ? { controls: f.controls } : {}),
      }));
      log.info('burst captured', {
        frames: frames.length,
        requested: n,
        interrupted: timing.interrupted,
        lastMs: frames[frames.length - 1]?.lag.writtenMs,
        source: req.source,
      });
      const result: BurstResult = { dir, frames, interrupted: timing.interrupted };
      if (timing.locked) result.locked = timing.locked;
      if (req.keep) {
        result.photos = [];
        for (const f of frames) {
          const pending = await this.deps.store.reserve();
          try {
            await fs.copyFile(f.path, pending.rawPath);
          } catch (e) {
            await this.deps.store.abort(pending);
            throw e;
          }
          result.photos.push(
            await this.commit(
              pending,
              trigger,
              capturedAt,
              req.source,
              { strategy: 'signal', ...f.lag },
              { burst: { index: f.index, of: n, locked: timing.locked ?? null } },
            ),
          );
        }
      }
      return result;
    } catch (e) {
      throw diskFullAsStorageError(e);
    }
  }

  private async runHooks(jpegPath: string, meta: PhotoMeta): Promise<void> {
    for (const hook of this.hooks) {
      try {
        await hook(jpegPath, meta);
      } catch (e) {
        log.error('before-commit hook failed; photo kept unchanged by it', { id: meta.id, error: errorMessage(e) });
      }
    }
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** Our own write that hit a full disk (errno, not message text) is "storage full" (507) for the caller. */
export function diskFullAsStorageError(e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new StorageError(`the data disk is full: ${errorMessage(e)}. Delete photos to free space.`);
  return e;
}

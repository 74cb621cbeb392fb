import { performance } from 'node:perf_hooks';
import type { CameraConfig } from '../config/sections/camera.js';
import type { EventBus } from '../events.js';
import type { CameraDriver } from '../hw/camera/types.js';
import type { GalleryStore } from '../store/gallery.js';
import type { PhotoMeta, PhotoRecord, ShutterLag } from '../store/types.js';
import { ConflictError, errorMessage, StorageError, UnavailableError } from '../util/errors.js';
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

export interface CaptureServiceDeps {
  camera: CameraDriver;
  store: GalleryStore;
  bus?: EventBus;
  /** Read at each capture, so busyPolicy / queueLimit changes apply live. */
  config: () => CameraConfig;
}

/**
 * Trigger → still → gallery. One capture at a time (the camera has one owner); others are queued up to
 * camera.capture.queueLimit or refused with a busy error, per camera.capture.busyPolicy.
 */
export class CaptureService {
  private running = false;
  private readonly waiting: Array<() => void> = [];
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

  async capture(req: CaptureRequest = {}): Promise<CaptureResult> {
    const trigger = performance.now();
    const state = this.deps.camera.status().state;
    if (state === 'disabled')
      throw new UnavailableError('the camera is disabled (camera.backend: none)', 'camera-disabled');
    if (state === 'absent')
      throw new UnavailableError(
        `no camera available: ${this.deps.camera.status().lastError ?? 'not detected'}`,
        'camera-absent',
      );
    if (state === 'stopped') throw new UnavailableError('the camera is not running', 'camera-stopped');
    const cfg = this.deps.config().capture;
    if (this.running) {
      if (cfg.busyPolicy === 'refuse') throw new ConflictError('a capture is already in progress');
      if (this.waiting.length >= cfg.queueLimit)
        throw new ConflictError(
          `a capture is in progress and ${this.waiting.length} are waiting (camera.capture.queueLimit)`,
        );
    }
    this.deps.bus?.emit('capture.started', { source: req.source });
    let ok = false;
    try {
      if (this.running) await new Promise<void>((resolve) => this.waiting.push(resolve));
      else this.running = true;
      try {
        const r = await this.run(trigger, req).catch((e: unknown) => {
          throw diskFullAsStorageError(e);
        });
        ok = true;
        return r;
      } finally {
        const next = this.waiting.shift();
        if (next) next();
        else this.running = false;
      }
    } finally {
      this.deps.bus?.emit('capture.ended', { source: req.source, ok });
    }
  }

  private async run(trigger: number, req: CaptureRequest): Promise<CaptureResult> {
    const { store, camera } = this.deps;
    const capturedAt = new Date();
    const cfg = this.deps.config();
    const pending = await store.reserve(); // throws StorageError when full or not writable
    let timing: Awaited<ReturnType<CameraDriver['captureStill']>>;
    try {
      timing = await camera.captureStill(pending.rawPath);
    } catch (e) {
      await store.abort(pending);
      throw e;
    }
    const lag: ShutterLag = {
      strategy: timing.strategy,
      commandIssuedMs: round(timing.commandIssuedAt - trigger),
      exposureDoneMs: round(timing.exposureDoneAt - trigger),
      writtenMs: round(timing.writtenAt - trigger),
    };
    const settings = {
      strategy: timing.strategy,
      width: cfg.still.width,
      height: cfg.still.height,
      quality: cfg.still.quality,
      controls: cfg.controls,
      extraArgs: cfg.extraArgs,
    };
    const committed = await store.commit(pending, {
      capturedAt,
      source: req.source,
      settings,
      lag,
      exif: {
        model: 'Pinhole camera',
        description: `Pinhole capture: ${JSON.stringify({ strategy: timing.strategy, ...cfg.controls })}`,
        exposureUs: cfg.controls.shutterUs || undefined,
        gain: cfg.controls.gain || undefined,
        ev: cfg.controls.ev,
      },
      beforeCommit: this.hooks.size ? (p, m) => this.runHooks(p, m) : undefined,
    });
    lag.durableMs = round(committed.durableAt - trigger);
    const meta = await store.update(committed.id, { lag });
    const record: PhotoRecord = {
      id: committed.id,
      seq: committed.seq,
      path: committed.path,
      thumbPath: committed.thumbPath,
      meta,
    };
    log.info('photo captured', {
      id: record.id,
      strategy: lag.strategy,
      commandMs: lag.commandIssuedMs,
      exposureMs: lag.exposureDoneMs,
      durableMs: lag.durableMs,
      source: req.source,
    });
    this.deps.bus?.emit('photo.captured', record);
    return {
      id: record.id,
      seq: record.seq,
      path: record.path,
      thumbPath: record.thumbPath,
      width: meta.width,
      height: meta.height,
      lag,
    };
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

/**
 * A disk that fills up between the free-space check and the last write (or a camera app that cannot write its file)
 * is "storage full" (507) for the caller, not an internal error or a camera fault.
 */
export function diskFullAsStorageError(e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || /\bENOSPC\b|no space left on device/i.test(errorMessage(e)))
    return new StorageError(`the data disk is full: ${errorMessage(e)}. Delete photos to free space.`);
  return e;
}

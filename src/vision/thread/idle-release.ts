import { createLogger } from '../../util/logger.js';
import type { DetectFrameResult, DetectImageResult } from '../yunet.js';
import type { FaceDetector } from './threaded-detector.js';

const log = createLogger('vision.faces');

/**
 * A face detector that gives its memory back when nobody uses it: released `idleMs` after its last call (0 = kept
 * for good) and loaded again by the next call. The live detector's thread (its V8 isolate, session and arena) held
 * ~45 MB of a Zero 2 W's RSS for the daemon's whole life, also while no viewer watched and no photo was taken. Live
 * frames come several times a second while someone watches, so it stays loaded then.
 */
export class IdleReleasingDetector implements FaceDetector {
  private current?: Promise<FaceDetector>;
  private inFlight = 0;
  private timer?: NodeJS.Timeout;
  private closed = false;
  /** Loads after the first (tests, status). */
  reloads = 0;

  constructor(
    private readonly load: () => Promise<FaceDetector>,
    private readonly idleMs: number,
    /** An already loaded detector (the component loads one at start to say whether detection works at all). */
    loaded?: FaceDetector,
  ) {
    if (loaded) {
      this.current = Promise.resolve(loaded);
      this.arm();
    }
  }

  /** True while a detector is loaded (or loading). */
  get resident(): boolean {
    return this.current !== undefined;
  }

  detectFrame(jpeg: Buffer, opts: { maxSide: number; threshold: number }): Promise<DetectFrameResult> {
    return this.use((d) => d.detectFrame(jpeg, opts));
  }

  detectImage(input: string | Buffer, opts: { maxSide: number; threshold: number }): Promise<DetectImageResult> {
    return this.use((d) => d.detectImage(input, opts));
  }

  /** Releases the detector for good (component stop). */
  async release(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.unload();
  }

  private async use<T>(fn: (d: FaceDetector) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('face detector released');
    clearTimeout(this.timer);
    this.inFlight++;
    try {
      if (!this.current) {
        this.reloads++;
        log.debug('loading the face detector again');
        const p = this.load();
        this.current = p;
        p.catch(() => {
          if (this.current === p) this.current = undefined;
        });
      }
      return await fn(await this.current);
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) this.arm();
    }
  }

  private arm(): void {
    if (this.idleMs <= 0 || this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.inFlight === 0) void this.unload().then((did) => did && log.debug('face detector released (idle)'));
    }, this.idleMs);
    this.timer.unref();
  }

  private async unload(): Promise<boolean> {
    const p = this.current;
    if (!p) return false;
    this.current = undefined;
    try {
      await (await p).release();
    } catch {
      // a detector that failed to load has nothing to release
    }
    return true;
  }
}

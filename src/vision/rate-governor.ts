export interface RateGovernorOptions {
  /** The configured detection rate (vision.faces.fps). */
  targetFps: number;
  /** The frame rate the preview should deliver (camera.preview.fps). */
  previewFps: number;
  /** Length of one measurement window (ms). */
  windowMs?: number;
  /** A window with fewer than this share of the expected frames means the preview is losing frames. */
  lossRatio?: number;
  /** Healthy windows in a row before the rate steps back up. */
  recoverWindows?: number;
  /** Never below this rate (fps). */
  minFps?: number;
}

export interface RateStatus {
  /** The configured rate. */
  targetFps: number;
  /** The rate in force now. */
  fps: number;
  reduced: boolean;
  /** Why it is reduced, e.g. `preview delivered 11.2 of 15 fps`. */
  reason?: string;
  /** Frame rate the preview delivered in the last complete window. */
  previewFps?: number;
}

/** A gap longer than this is a pause of the preview (a capture switched modes, the camera restarted), not a loss. */
const PAUSE_MS = 1000;

/**
 * Live analysis gives way when the preview would lose frames: each window of preview frames is compared with the
 * rate the camera was asked for, and a window short of frames halves the detection rate (down to `minFps`); after
 * `recoverWindows` healthy windows in a row it steps back up by a quarter of the target. Additive increase and
 * multiplicative decrease settle below the rate at which the preview starts to suffer instead of oscillating around
 * it. Pure logic over frame timestamps: no timer, no clock of its own.
 */
export class RateGovernor {
  private fps: number;
  private windowStart?: number;
  private frames = 0;
  private lastFrame?: number;
  private healthy = 0;
  private reason?: string;
  private measured?: number;
  private readonly windowMs: number;
  private readonly lossRatio: number;
  private readonly recoverWindows: number;
  private readonly minFps: number;

  constructor(private opts: RateGovernorOptions) {
    this.fps = opts.targetFps;
    this.windowMs = opts.windowMs ?? 2000;
    this.lossRatio = opts.lossRatio ?? 0.9;
    this.recoverWindows = opts.recoverWindows ?? 3;
    this.minFps = Math.min(opts.targetFps, opts.minFps ?? 0.5);
  }

  /** New settings (config reload): the target changes at once, the measurement starts over. */
  configure(opts: Pick<RateGovernorOptions, 'targetFps' | 'previewFps'>): void {
    const changed = opts.targetFps !== this.opts.targetFps || opts.previewFps !== this.opts.previewFps;
    this.opts = { ...this.opts, ...opts };
    if (!changed) return;
    this.fps = opts.targetFps;
    this.reason = undefined;
    this.healthy = 0;
    this.windowStart = undefined;
  }

  /** Every preview frame, at its arrival time (ms). Returns true when the rate in force changed. */
  onFrame(t: number): boolean {
    const gap = this.lastFrame === undefined ? 0 : t - this.lastFrame;
    this.lastFrame = t;
    if (this.windowStart === undefined || gap > PAUSE_MS) {
      this.windowStart = t;
      this.frames = 0;
      return false;
    }
    this.frames++;
    const span = t - this.windowStart;
    if (span < this.windowMs) return false;
    const rate = (this.frames * 1000) / span;
    this.windowStart = t;
    this.frames = 0;
    this.measured = rate;
    return this.evaluate(rate);
  }

  /** The rate in force (detections per second). */
  get currentFps(): number {
    return this.fps;
  }

  status(): RateStatus {
    return {
      targetFps: this.opts.targetFps,
      fps: Math.round(this.fps * 100) / 100,
      reduced: this.fps < this.opts.targetFps,
      ...(this.fps < this.opts.targetFps && this.reason ? { reason: this.reason } : {}),
      ...(this.measured === undefined ? {} : { previewFps: Math.round(this.measured * 10) / 10 }),
    };
  }

  private evaluate(rate: number): boolean {
    const expected = this.opts.previewFps;
    const before = this.fps;
    if (rate < this.lossRatio * expected) {
      this.healthy = 0;
      this.reason = `preview delivered ${rate.toFixed(1)} of ${expected} fps`;
      this.fps = Math.max(this.minFps, this.fps / 2);
    } else if (this.fps < this.opts.targetFps && ++this.healthy >= this.recoverWindows) {
      this.healthy = 0;
      this.fps = Math.min(this.opts.targetFps, this.fps + this.opts.targetFps / 4);
    }
    return this.fps !== before;
  }
}

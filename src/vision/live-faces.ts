import type { Component, ControlHandler } from '../component.js';
import type { PinholeConfig } from '../config/schema.js';
import type { EventBus } from '../events.js';
import { errorMessage, isPinholeError, UnavailableError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import type { Face } from './face.js';
import { RateGovernor, type RateStatus } from './rate-governor.js';
import { IdleReleasingDetector } from './thread/idle-release.js';
import { type FaceDetector, ThreadedDetector } from './thread/threaded-detector.js';
import type { DetectImageResult } from './yunet.js';

/** The camera's preview frame hub (complete JPEGs; placeholder frames stand in while the camera is away; `at` =
 *  performance.now() when the frame arrived). */
export interface FrameSource {
  subscribe(cb: (jpeg: Buffer, frame?: { placeholder?: boolean; at?: number }) => void): () => void;
}

/**
 * An extra step on live frames after detection (the smile shutter's expressions): gets the frame and its faces,
 * returns the faces with extra fields (e.g. `smile`). While one is set, frames are analysed even with live boxes off.
 */
export type FrameAnalysis = (jpeg: Buffer, result: DetectImageResult) => Promise<Face[]>;

export interface FacesEvent {
  /** Size of the frame the boxes refer to. */
  width: number;
  height: number;
  faces: Face[];
  /** Epoch ms when the frame's detection finished. */
  at: number;
  /** performance.now() when the preview frame arrived (capture-mode latency is measured from it). */
  frameAt?: number;
  /** Set when a FrameAnalysis ran on this frame (the faces carry its fields). */
  analysed?: boolean;
}

declare module '../events.js' {
  interface PinholeEvents {
    faces: FacesEvent;
  }
}

export type FacesState = 'disabled' | 'loading' | 'running' | 'unavailable' | 'stopped';

export interface LiveFacesStatus {
  enabled: boolean;
  state: FacesState;
  reason?: string;
  model: string;
  fps: number;
  processed: number;
  dropped: number;
  failed: number;
  lastMs?: number;
  /** The rate in force: lowered by itself while the preview loses frames (`reduced`, with the reason). */
  rate: RateStatus;
  /** Whether the detector (its thread, session and arena) is loaded now: it is released while unused. */
  resident: boolean;
  /** Medians of the last detections' steps (ms): JPEG decode at detection size, and detection proper. */
  timing?: { decodeMs: number; detectMs: number };
}

export interface LiveFacesDeps {
  config: PinholeConfig;
  bus: EventBus;
  frames: FrameSource;
  /** Injectable for tests; defaults to the verified manifest model from models.dir, on its own thread. */
  loadDetector?: (config: PinholeConfig) => Promise<FaceDetector>;
  now?: () => number;
}

const log = createLogger('vision.faces');

/**
 * The detector runs on its own thread at `analysis` priority (see thread/detector-thread.ts). Its activations stay
 * in onnxruntime's arena whatever vision.memArena says: it runs several times a second on frames of one size, and
 * mapping and unmapping them afresh for every frame cost more CPU than the inference (measured: 263 vs 10 ms of CPU
 * per 640×480 run on a loaded 2-core machine; 217–248 vs 16–17 ms at 480×360). The arena is sized by the warm-up
 * run, so that run uses the preview's frame size as detected (a Zero 2 W's 480×360 preview needs about half of
 * 640×480's activations). Photos go through the same session: a photo detected larger than the preview grows the
 * arena for good (onnxruntime-node 1.30 ignores the run option that would shrink it).
 */
const defaultLoader = (c: PinholeConfig) =>
  ThreadedDetector.load({
    model: c.vision.faces.model,
    modelsDir: c.models.dir,
    threads: c.vision.threads,
    optimization: c.vision.optimization,
    memArena: true,
    inputSize: detectionSize(c),
  });

/** The size a preview frame is detected at (detectFrame: fit inside maxSide×maxSide, never enlarged). */
export function detectionSize(c: PinholeConfig): { width: number; height: number } {
  const { width, height } = c.camera.preview;
  const scale = Math.min(1, c.vision.faces.maxSide / width, c.vision.faces.maxSide / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** Steps of the last detections kept for the timing medians in status(). */
const TIMING_SAMPLES = 16;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Live face detection on preview frames: at most `vision.faces.fps` detections a second and never more than one in
 * flight; frames that arrive while busy or too early are dropped, not queued, so memory stays flat whatever the
 * camera's frame rate. When the preview delivers fewer frames than the camera was asked for, the rate comes down by
 * itself (RateGovernor) and status() says so: the preview comes first. The detector (one shared onnxruntime session)
 * also serves `detectPhoto` for captures. A missing or corrupt model disables only face detection, with the reason
 * in status(); the daemon runs on.
 */
export class LiveFaces implements Component {
  readonly name = 'faces';
  readonly configSections = ['vision', 'models'] as const;

  private config: PinholeConfig;
  private detector?: IdleReleasingDetector;
  private readonly governor: RateGovernor;
  private readonly timing: { decodeMs: number; detectMs: number }[] = [];
  private enabled: boolean;
  private state: FacesState = 'stopped';
  private reason?: string;
  private unsubscribe?: () => void;
  private inFlight?: Promise<void>;
  /**
   * The time slot of the last detection started. Detections follow a cadence of 1/fps from slot to slot, not 1/fps
   * after the frame that started the last one: frames come every 1/15 s, so "250 ms after the last start" waited for
   * the 4th frame (267 ms) and ran 3.75 detections a second at best at `fps: 4`, fewer with any jitter.
   */
  private lastSlot = Number.NEGATIVE_INFINITY;
  private stats = { processed: 0, dropped: 0, failed: 0, lastMs: undefined as number | undefined };
  private analysis?: FrameAnalysis;
  private readonly now: () => number;

  constructor(private readonly deps: LiveFacesDeps) {
    this.config = deps.config;
    this.enabled = deps.config.vision.faces.enabled;
    this.now = deps.now ?? Date.now;
    this.governor = new RateGovernor({
      targetFps: deps.config.vision.faces.fps,
      previewFps: deps.config.camera.preview.fps,
    });
  }

  async start(): Promise<void> {
    this.state = 'loading';
    try {
      const load = this.deps.loadDetector ?? defaultLoader;
      // loaded once here to say whether detection works at all, then released while unused and loaded again on
      // demand (a viewer's first frame, a photo)
      const first = await load(this.config);
      this.detector = new IdleReleasingDetector(
        () => load(this.config),
        this.config.vision.analysis.idleReleaseSeconds * 1000,
        first,
      );
      this.state = this.enabled ? 'running' : 'disabled';
      this.reason = undefined;
      log.info('face detection ready', { model: this.config.vision.faces.model, enabled: this.enabled });
    } catch (e) {
      this.state = 'unavailable';
      this.reason = errorMessage(e);
      log.warn('face detection unavailable', { reason: this.reason });
    }
    this.unsubscribe = this.deps.frames.subscribe((jpeg, frame) =>
      this.onFrame(jpeg, frame?.placeholder === true, frame?.at),
    );
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.inFlight;
    const d = this.detector;
    this.detector = undefined;
    this.state = 'stopped';
    await d?.release();
  }

  async reconfigure(next: PinholeConfig, prev: PinholeConfig): Promise<'applied' | 'restart'> {
    const a = next.vision;
    const b = prev.vision;
    if (
      a.threads !== b.threads ||
      a.optimization !== b.optimization ||
      a.memArena !== b.memArena ||
      a.faces.model !== b.faces.model ||
      a.analysis.idleReleaseSeconds !== b.analysis.idleReleaseSeconds ||
      next.models.dir !== prev.models.dir
    ) {
      return 'restart';
    }
    this.config = next;
    this.governor.configure({ targetFps: a.faces.fps, previewFps: next.camera.preview.fps });
    if (a.faces.enabled !== b.faces.enabled) this.setEnabled(a.faces.enabled);
    return 'applied';
  }

  /** toggle-faces: live detection on or off (the detector stays loaded for captures). */
  setEnabled(on: boolean): void {
    if (this.enabled === on) return;
    this.enabled = on;
    if (this.state === 'running' || this.state === 'disabled') this.state = on ? 'running' : 'disabled';
    log.info(on ? 'live faces on' : 'live faces off');
    // clear the boxes drawn on the viewfinder
    if (!on) this.deps.bus.emit('faces', { width: 0, height: 0, faces: [], at: this.now() });
  }

  isEnabled(): boolean {
    return this.enabled;
  }

  /** Sets (or clears) the extra step on live frames. Throws when detection cannot run. */
  setAnalysis(analysis: FrameAnalysis | undefined): void {
    if (analysis && !this.detector)
      throw new UnavailableError(`face detection unavailable: ${this.reason ?? this.state}`, 'faces-unavailable');
    this.analysis = analysis;
    if (!analysis && !this.enabled) this.deps.bus.emit('faces', { width: 0, height: 0, faces: [], at: this.now() });
  }

  /** Faces in a captured photo (downscaled to vision.faces.maxSide), or undefined when face detection is unavailable. */
  async detectPhoto(input: string | Buffer): Promise<DetectImageResult | undefined> {
    if (!this.detector) return undefined;
    const f = this.config.vision.faces;
    return this.detector.detectImage(input, { maxSide: f.maxSide, threshold: f.threshold });
  }

  /** Resolves when no detection is in flight (tests, shutdown). */
  async idle(): Promise<void> {
    await this.inFlight;
  }

  status(): LiveFacesStatus {
    return {
      enabled: this.enabled,
      state: this.state,
      ...(this.reason ? { reason: this.reason } : {}),
      model: this.config.vision.faces.model,
      fps: this.config.vision.faces.fps,
      processed: this.stats.processed,
      dropped: this.stats.dropped,
      failed: this.stats.failed,
      ...(this.stats.lastMs === undefined ? {} : { lastMs: this.stats.lastMs }),
      rate: this.governor.status(),
      resident: this.detector?.resident ?? false,
      ...(this.timing.length
        ? {
            timing: {
              decodeMs: Math.round(median(this.timing.map((x) => x.decodeMs)) * 100) / 100,
              detectMs: Math.round(median(this.timing.map((x) => x.detectMs)) * 100) / 100,
            },
          }
        : {}),
    };
  }

  controlMethods(): Record<string, ControlHandler> {
    return {
      'toggle-faces': async (params) => {
        if (this.state === 'unavailable')
          throw new UnavailableError(`face detection unavailable: ${this.reason}`, 'faces-unavailable');
        this.setEnabled(typeof params.enabled === 'boolean' ? params.enabled : !this.enabled);
        return { enabled: this.enabled };
      },
    };
  }

  private onFrame(jpeg: Buffer, placeholder: boolean, frameAt?: number): void {
    const det = this.detector;
    const analysis = this.analysis;
    if ((!this.enabled && !analysis) || !det || placeholder || this.state === 'unavailable') return;
    const t = this.now();
    const before = this.governor.currentFps;
    if (this.governor.onFrame(t)) {
      const r = this.governor.status();
      if (r.fps < before) log.info('live faces slowed down for the preview', { fps: r.fps, reason: r.reason });
      else if (r.reduced) log.debug('live faces speeding up again', { fps: r.fps });
      else log.info('live faces back at full rate', { fps: r.fps });
    }
    const period = 1000 / this.governor.currentFps;
    const slot = this.lastSlot + period;
    if (this.inFlight || t < slot) {
      this.stats.dropped++;
      return;
    }
    // on time (less than a period late): keep the cadence; after a stall, start afresh from now (no catch-up burst)
    this.lastSlot = t - slot < period ? slot : t;
    const f = this.config.vision.faces;
    this.inFlight = det
      .detectFrame(jpeg, { maxSide: f.maxSide, threshold: f.threshold })
      .then(async (r) => {
        const faces = analysis && r.faces.length > 0 ? await analysis(jpeg, r) : r.faces;
        this.stats.processed++;
        this.stats.lastMs = Math.round((this.now() - t) * 10) / 10;
        if (Number.isFinite(r.decodeMs)) {
          this.timing.push({ decodeMs: r.decodeMs, detectMs: r.detectMs });
          if (this.timing.length > TIMING_SAMPLES) this.timing.shift();
        }
        if (this.enabled || this.analysis)
          this.deps.bus.emit('faces', {
            width: r.width,
            height: r.height,
            faces,
            at: this.now(),
            ...(frameAt === undefined ? {} : { frameAt }),
            ...(analysis ? { analysed: true } : {}),
          });
      })
      .catch((e: unknown) => {
        this.stats.failed++;
        if (isPinholeError(e) && e.code === 'faces-unavailable' && this.state === 'running') {
          // the detector's thread died: say so instead of failing every frame
          this.state = 'unavailable';
          this.reason = e.message;
          log.error('face detection stopped', { reason: e.message });
          return;
        }
        log.debug('frame detection failed', { error: e });
      })
      .finally(() => {
        this.inFlight = undefined;
      });
  }
}

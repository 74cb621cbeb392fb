import type { Component, ControlHandler } from '../component.js';
import type { PinholeConfig } from '../config/schema.js';
import type { EventBus } from '../events.js';
import { errorMessage, UnavailableError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import type { Face } from './face.js';
import { loadFaceDetector } from './face-model.js';
import type { DetectImageResult, YuNetDetector } from './yunet.js';

/** The camera's preview frame hub (complete JPEGs; `at` = performance.now() when the frame arrived). */
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
}

export interface LiveFacesDeps {
  config: PinholeConfig;
  bus: EventBus;
  frames: FrameSource;
  /** Injectable for tests; defaults to the verified manifest model from models.dir. */
  loadDetector?: (config: PinholeConfig) => Promise<YuNetDetector>;
  now?: () => number;
}

const log = createLogger('vision.faces');

const defaultLoader = (c: PinholeConfig) =>
  loadFaceDetector({
    model: c.vision.faces.model,
    modelsDir: c.models.dir,
    threads: c.vision.threads,
    optimization: c.vision.optimization,
    memArena: c.vision.memArena,
    inputSize: { width: Math.min(640, c.vision.faces.maxSide), height: Math.min(480, c.vision.faces.maxSide) },
  });

/**
 * Live face detection on preview frames: at most `vision.faces.fps` detections a second and never more than one in
 * flight; frames that arrive while busy or too early are dropped, not queued, so memory stays flat whatever the
 * camera's frame rate. The detector (one shared onnxruntime session) also serves `detectPhoto` for captures. A
 * missing or corrupt model disables only face detection, with the reason in status(); the daemon runs on.
 */
export class LiveFaces implements Component {
  readonly name = 'faces';
  readonly configSections = ['vision', 'models'] as const;

  private config: PinholeConfig;
  private detector?: YuNetDetector;
  private enabled: boolean;
  private state: FacesState = 'stopped';
  private reason?: string;
  private unsubscribe?: () => void;
  private inFlight?: Promise<void>;
  private lastStart = Number.NEGATIVE_INFINITY;
  private stats = { processed: 0, dropped: 0, failed: 0, lastMs: undefined as number | undefined };
  private analysis?: FrameAnalysis;
  private readonly now: () => number;

  constructor(private readonly deps: LiveFacesDeps) {
    this.config = deps.config;
    this.enabled = deps.config.vision.faces.enabled;
    this.now = deps.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.state = 'loading';
    try {
      this.detector = await (this.deps.loadDetector ?? defaultLoader)(this.config);
      this.state = this.enabled ? 'running' : 'disabled';
      this.reason = undefined;
      log.info('face detection ready', { model: this.config.vision.faces.model, enabled: this.enabled });
    } catch (e) {
      this.state = 'unavailable';
      this.reason = errorMessage(e);
      log.warn('face detection unavailable', { reason: this.reason });
    }
    this.unsubscribe = this.deps.frames.subscribe((jpeg, frame) => this.onFrame(jpeg, frame?.at));
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
      next.models.dir !== prev.models.dir
    ) {
      return 'restart';
    }
    this.config = next;
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

  private onFrame(jpeg: Buffer, frameAt?: number): void {
    const det = this.detector;
    const analysis = this.analysis;
    if ((!this.enabled && !analysis) || !det) return;
    const t = this.now();
    if (this.inFlight || t - this.lastStart < 1000 / this.config.vision.faces.fps) {
      this.stats.dropped++;
      return;
    }
    this.lastStart = t;
    const f = this.config.vision.faces;
    this.inFlight = det
      .detectImage(jpeg, { maxSide: f.maxSide, threshold: f.threshold })
      .then(async (r) => {
        const faces = analysis && r.faces.length > 0 ? await analysis(jpeg, r) : r.faces;
        this.stats.processed++;
        this.stats.lastMs = Math.round((this.now() - t) * 10) / 10;
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
        log.debug('frame detection failed', { error: e });
      })
      .finally(() => {
        this.inFlight = undefined;
      });
  }
}

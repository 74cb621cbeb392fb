/**
 * What the rest of the daemon (web server, capture pipeline, vision) sees of the camera. The driver behind it is
 * rpicam-apps subprocesses (real or the bundled fakes); nothing outside src/hw/camera knows about processes.
 */

export type CameraState =
  | 'starting'
  | 'streaming'
  | 'capturing'
  | 'busy'
  | 'absent'
  | 'crashed'
  | 'stopped'
  | 'disabled';

/**
 * Which process currently owns the camera: `preview` = rpicam-vid MJPEG, `armed` = rpicam-still kept open in
 * signal mode (strategy `signal`, nobody watching the preview), `still` = a one-shot rpicam-still (strategy `switch`).
 */
export type CameraMode = 'preview' | 'armed' | 'still' | null;

/**
 * How the armed rpicam-still runs (strategy `signal`): `zsl` (--zsl, still mode all along), `viewfinder` (a mode
 * switch per capture) or `off` (no armed process: each capture starts rpicam-still), with the reason: the board
 * profile's choice, the config, or a buffer allocation that failed and made the driver fall back.
 */
export interface ZslStatus {
  mode: 'zsl' | 'viewfinder' | 'off';
  bufferCount?: number;
  reason: string;
}

export interface CameraStatus {
  state: CameraState;
  mode: CameraMode;
  zsl?: ZslStatus;
  /** Why the camera is not streaming (with the child's last stderr lines), cleared once frames flow again. */
  lastError?: string;
  /** Camera process restarts since the daemon started (crash, hang, busy or absent retries). */
  restarts: number;
  /** ISO time of the last state change. */
  since: string;
}

/** One complete JPEG frame of the preview. `data` is shared by every consumer: never mutate it. */
export interface Frame {
  readonly data: Buffer;
  /** Increases by one per frame published by the hub. */
  readonly seq: number;
  /** performance.now() when the frame was split out of the stream. */
  readonly at: number;
  /** True for a generated placeholder ("NO CAMERA"), not a camera image. */
  readonly placeholder?: boolean;
}

/**
 * A consumer gets at most one frame at a time. If it returns a promise, frames published while it is pending are
 * not queued: only the newest one is delivered once it settles (latest-frame semantics, bounded memory).
 */
export type FrameConsumer = (frame: Frame) => void | Promise<void>;

export interface FrameSource {
  /** The newest frame, if any (for snapshots and the first frame of a new stream). */
  latest(): Frame | undefined;
  /**
   * Returns the unsubscribe function. Subscribing wakes the preview up when it is idle (strategy `signal`); a
   * `passive` subscriber (live face detection) gets frames only while someone else keeps the preview running.
   */
  subscribe(consumer: FrameConsumer, opts?: { passive?: boolean }): () => void;
  readonly subscriberCount: number;
}

/** Timestamps (performance.now(), ms) of one still capture, filled by the driver. */
export interface StillTiming {
  strategy: 'switch' | 'signal';
  /** The capture command was issued (process spawned or SIGUSR1 sent). */
  commandIssuedAt: number;
  /** The camera reported the still was received (end of exposure + readout). */
  exposureDoneAt: number;
  /** The JPEG file is fully written by the camera process. */
  writtenAt: number;
}

/** The controls a frame was taken with, from the app's --metadata output (core/rpicam_app metadata, JSON). */
export interface FrameControls {
  exposureUs: number;
  analogueGain: number;
  digitalGain: number;
  colourGains?: [number, number];
}

export interface BurstFrame extends Omit<StillTiming, 'strategy'> {
  index: number;
  /** The frame's JPEG, in the caller's folder. */
  path: string;
  controls?: FrameControls;
}

export interface BurstOptions {
  /** Full-resolution JPEGs land here as frame-000.jpg, frame-001.jpg, …; the caller owns the folder. */
  dir: string;
  frames: number;
  /** Fixed exposure for every frame; default: metered on the first frame and locked for the rest. */
  lock?: { shutterUs: number; gain: number; awbGains?: [number, number] };
  /** Asked between frames: true ends the burst early (a single shutter press has priority). */
  shouldStop?: () => boolean;
}

export interface BurstTiming {
  frames: BurstFrame[];
  /** The exposure every frame after the first was locked to. */
  locked?: { shutterUs: number; gain: number; awbGains?: [number, number] };
  /** Stopped early by `shouldStop`. */
  interrupted: boolean;
}

export interface CameraDriver {
  readonly frames: FrameSource;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): CameraStatus;
  /** Captures one full-resolution JPEG into `outPath`. Throws UnavailableError (no camera / busy camera). */
  captureStill(outPath: string): Promise<StillTiming>;
  /** N full-resolution frames in a row with identical exposure, gain and white balance (see README). */
  captureBurst(opts: BurstOptions): Promise<BurstTiming>;
  /** Called on every status change. */
  onStatus(listener: (s: CameraStatus) => void): () => void;
}

import { hasPath } from './board-profile.js';
import { appName, BoostError, parseRpicamArgv, RPICAM_APPS } from './rpicam-cli.js';
import type { PinholeConfig } from './schema.js';

/**
 * Camera rules the schema cannot express: they relate keys to each other or to the rpicam command line. Run on
 * every validated config (file, web edit, reload), so `pinhole config check` and the daemon see the same errors.
 */

export interface RuleIssue {
  path: (string | number)[];
  message: string;
}

/**
 * Options Pinhole puts on the camera command lines itself: repeating one makes Boost exit with "cannot be specified
 * more than once" (a crash loop), overriding one breaks the driver. The value names the key to use instead, or
 * (after "nothing: ") why there is none.
 */
export const MANAGED_OPTIONS: Readonly<Record<string, string>> = {
  output: 'nothing: Pinhole chooses the output files',
  timeout: 'nothing: Pinhole runs the camera until it stops it',
  signal: 'camera.capture.strategy',
  immediate: 'camera.capture.strategy',
  zsl: 'camera.capture.zsl',
  'buffer-count': 'camera.capture.bufferCount',
  codec: 'nothing: the preview is MJPEG',
  flush: 'nothing: the preview is always flushed',
  nopreview: 'nothing: there is no screen',
  width: 'camera.preview.width / camera.still.width',
  height: 'camera.preview.height / camera.still.height',
  framerate: 'camera.preview.fps',
  quality: 'camera.preview.quality / camera.still.quality',
  rotation: 'camera.controls.rotation',
  hflip: 'camera.controls.hflip',
  vflip: 'camera.controls.vflip',
  ev: 'camera.controls.ev',
  awb: 'camera.controls.awb',
  awbgains: 'camera.controls.awb (bursts lock the white balance themselves)',
  denoise: 'camera.controls.denoise',
  shutter: 'camera.controls.shutterUs',
  gain: 'camera.controls.gain',
  analoggain: 'camera.controls.gain',
  metering: 'camera.controls.metering',
  verbose: 'nothing: the driver reads the per-frame lines of -v 2',
  encoding: 'nothing: photos are JPEG',
  metadata: 'nothing: Pinhole reads the capture metadata itself',
  'metadata-format': 'nothing: Pinhole reads the capture metadata itself',
  framestart: 'nothing: Pinhole numbers the captures',
};

/** Options that would make the supervised camera process misbehave, whatever their value. */
export const FORBIDDEN_OPTIONS: Readonly<Record<string, string>> = {
  help: 'the app prints its help and exits',
  version: 'the app prints its version and exits',
  'list-cameras': 'the app lists the cameras and exits',
  keypress: 'the app would read the keyboard',
  timelapse: 'rpicam-still refuses --timelapse together with --signal',
  datetime: 'captures would be named by date, not by the number Pinhole waits for',
  timestamp: 'captures would be named by time, not by the number Pinhole waits for',
  wrap: 'capture numbers would wrap',
  latest: 'the app would create a symlink in its working directory',
  raw: 'DNG files would pile up beside the photos',
  frames: 'the preview would stop after that many frames',
  segment: 'the preview would be split into files',
  split: 'the preview would be split into files',
  circular: 'the preview would go to a circular buffer',
  initial: 'the preview could start paused',
  listen: 'the preview would wait for a network client',
};

/**
 * camera.extraArgs is appended to every rpicam-vid and rpicam-still command line. Each entry is read the way Boost
 * reads it in both apps (abbreviations, `-v2`, `--width=640`, a following value) and refused when it names an
 * option Pinhole manages or one that would break the camera process, or when either app would refuse it.
 */
export function checkExtraArgs(extra: readonly string[]): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const at = (i: number, message: string) => issues.push({ path: ['camera', 'extraArgs', i], message });
  extra.forEach((a, i) => {
    if (/[\0\n\r]/.test(a)) at(i, 'contains a control character');
  });
  if (issues.length) return issues;
  // A managed or forbidden option is the more useful message; an app's refusal is reported when there is none.
  const hits = new Map<number, string>();
  const refusals = new Map<number, string>();
  for (const app of RPICAM_APPS) {
    try {
      for (const p of parseRpicamArgv(app, extra)) {
        const spelled = p.token === `--${p.name}` ? `--${p.name}` : `"${p.token}" (--${p.name})`;
        if (Object.hasOwn(MANAGED_OPTIONS, p.name)) {
          const use = MANAGED_OPTIONS[p.name];
          hits.set(
            p.index,
            `${spelled} is set by Pinhole on the camera command line; ${use.startsWith('nothing: ') ? `remove it (${use.slice(9)})` : `use ${use}`}`,
          );
        } else if (Object.hasOwn(FORBIDDEN_OPTIONS, p.name)) {
          hits.set(p.index, `${spelled} cannot be used with Pinhole: ${FORBIDDEN_OPTIONS[p.name]}`);
        }
      }
    } catch (e) {
      if (!(e instanceof BoostError)) throw e;
      if (!refusals.has(e.index))
        refusals.set(
          e.index,
          `${appName(app)} would refuse it: ${e.message} (camera.extraArgs go to rpicam-vid and rpicam-still)`,
        );
    }
  }
  for (const [i, message] of refusals) if (!hits.has(i)) at(i, message);
  for (const [i, message] of hits) at(i, message);
  return issues.sort((a, b) => (a.path[2] as number) - (b.path[2] as number));
}

// ---- timeouts and long exposures ---------------------------------------------------------------------------------

/** Defaults of the schema, used as the floor of the derived values. */
export const TIMING_DEFAULTS = { frameTimeoutMs: 5000, captureTimeoutMs: 20000 } as const;

/**
 * With a still stream configured (ZSL, or the still of a capture) rpicam-apps let a frame last as long as the
 * exposure (FrameDurationLimits 100 µs–1000 s, core/rpicam_app.cpp StartCamera), so one frame takes at least the
 * shutter time. The watchdog must wait longer than one frame; a capture waits for up to two frames (the signal is
 * seen at the end of one frame, the still is the next one) plus the process start or mode switch.
 */
export function minFrameTimeoutMs(shutterUs: number): number {
  return Math.ceil(shutterUs / 1000) + 1000;
}

export function minCaptureTimeoutMs(shutterUs: number): number {
  return 2 * Math.ceil(shutterUs / 1000) + 2000;
}

export function derivedFrameTimeoutMs(shutterUs: number): number {
  return Math.max(TIMING_DEFAULTS.frameTimeoutMs, Math.ceil(shutterUs / 1000) + TIMING_DEFAULTS.frameTimeoutMs);
}

export function derivedCaptureTimeoutMs(shutterUs: number): number {
  return Math.max(TIMING_DEFAULTS.captureTimeoutMs, 2 * Math.ceil(shutterUs / 1000) + TIMING_DEFAULTS.captureTimeoutMs);
}

/**
 * Fills `camera.frameTimeoutMs` and `camera.capture.timeoutMs` from the shutter when the file does not set them
 * (`raw` is the document before defaults), and reports explicit values too short for the shutter.
 */
export function applyCameraTiming(cfg: PinholeConfig, raw: unknown): RuleIssue[] {
  const shutterUs = cfg.camera.controls.shutterUs;
  const issues: RuleIssue[] = [];
  const explicitFrame = hasPath(raw, ['camera', 'frameTimeoutMs']);
  const explicitCapture = hasPath(raw, ['camera', 'capture', 'timeoutMs']);
  if (!explicitFrame) cfg.camera.frameTimeoutMs = derivedFrameTimeoutMs(shutterUs);
  if (!explicitCapture) cfg.camera.capture.timeoutMs = derivedCaptureTimeoutMs(shutterUs);
  if (shutterUs <= 0) return issues;
  const s = `${shutterUs} µs (${shutterUs / 1e6} s)`;
  if (explicitFrame && cfg.camera.frameTimeoutMs < minFrameTimeoutMs(shutterUs))
    issues.push({
      path: ['camera', 'controls', 'shutterUs'],
      message: `${s} is longer than camera.frameTimeoutMs (${cfg.camera.frameTimeoutMs} ms) allows: every camera frame lasts at least the shutter time, so the watchdog would kill the camera. Set camera.frameTimeoutMs to at least ${minFrameTimeoutMs(shutterUs)}, or remove it to have it derived from the shutter`,
    });
  if (explicitCapture && cfg.camera.capture.timeoutMs < minCaptureTimeoutMs(shutterUs))
    issues.push({
      path: ['camera', 'controls', 'shutterUs'],
      message: `${s} is longer than camera.capture.timeoutMs (${cfg.camera.capture.timeoutMs} ms) allows: a capture waits for up to two frames of the shutter time. Set camera.capture.timeoutMs to at least ${minCaptureTimeoutMs(shutterUs)}, or remove it to have it derived from the shutter`,
    });
  return issues;
}

/** Every camera rule; may fill derived values into `cfg`. */
export function cameraRules(cfg: PinholeConfig, raw: unknown): RuleIssue[] {
  return [...checkExtraArgs(cfg.camera.extraArgs), ...applyCameraTiming(cfg, raw)];
}

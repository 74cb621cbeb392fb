import { checkExtraArgs } from '../../config/camera-rules.js';
import type { CameraConfig } from '../../config/sections/camera.js';
import { ConfigError } from '../../util/errors.js';

/**
 * rpicam command lines from the camera config. Only settings that differ from the apps' defaults are passed, so
 * the command in the log reads as "what is special here". `extraArgs` are appended; the config check
 * (config/camera-rules.ts) has already refused any that spell an option Pinhole manages, in any of Boost's
 * spellings; the driver checks again so a config built in code cannot bypass it.
 */
export function validateExtraArgs(extra: readonly string[]): void {
  const issues = checkExtraArgs(extra);
  if (issues.length) throw new ConfigError(issues.map((i) => `${i.path.join('.')}: ${i.message}`));
}

/** Exposure, gain and white balance fixed for every frame (a burst after its metering frame). */
export interface LockedExposure {
  shutterUs: number;
  gain: number;
  /** Red and blue colour gains (--awbgains); 0 = leave the white balance to the config. */
  awbGains?: [number, number];
}

function controls(cfg: CameraConfig, lock?: LockedExposure): string[] {
  const c = lock ? { ...cfg.controls, shutterUs: Math.round(lock.shutterUs), gain: lock.gain } : cfg.controls;
  const a: string[] = [];
  if (c.rotation !== 0) a.push('--rotation', String(c.rotation));
  if (c.hflip) a.push('--hflip');
  if (c.vflip) a.push('--vflip');
  if (c.ev !== 0) a.push('--ev', String(c.ev));
  if (c.awb !== 'auto') a.push('--awb', c.awb);
  if (c.denoise !== 'auto') a.push('--denoise', c.denoise);
  if (c.shutterUs > 0) a.push('--shutter', String(c.shutterUs));
  if (c.gain > 0) a.push('--gain', String(c.gain));
  if (c.metering !== 'centre') a.push('--metering', c.metering);
  if (lock?.awbGains?.[0] && lock.awbGains[1]) a.push('--awbgains', `${lock.awbGains[0]},${lock.awbGains[1]}`);
  return a;
}

function stillSize(cfg: CameraConfig): string[] {
  const a: string[] = [];
  // 0 = the sensor's full resolution, which is rpicam-still's default.
  if (cfg.still.width > 0) a.push('--width', String(cfg.still.width));
  if (cfg.still.height > 0) a.push('--height', String(cfg.still.height));
  a.push('-q', String(cfg.still.quality));
  return a;
}

/** rpicam-vid MJPEG preview on stdout, forever. */
export function previewArgv(cfg: CameraConfig): string[] {
  const p = cfg.preview;
  return [
    '-t',
    '0',
    '--codec',
    'mjpeg',
    '--width',
    String(p.width),
    '--height',
    String(p.height),
    '--framerate',
    String(p.fps),
    '-q',
    String(p.quality),
    '--flush',
    '--nopreview',
    ...controls(cfg),
    ...cfg.extraArgs,
    '-o',
    '-',
  ];
}

/** One-shot full-resolution still (strategy `switch`). */
export function stillArgv(cfg: CameraConfig, outFile: string): string[] {
  return ['--immediate', '--nopreview', ...stillSize(cfg), ...controls(cfg), ...cfg.extraArgs, '-o', outFile];
}

export interface ArmedOptions {
  /** --zsl: still mode all along (no mode switch per capture). */
  zsl: boolean;
  /** --buffer-count (the board profile's choice for small camera memory). */
  bufferCount?: number;
  /** --metadata FILE: the controls of the last capture (exposure, gains), rewritten at each capture. */
  metadata?: string;
  /** --framestart: the number of the first capture (a burst continues the numbering of its metering frame). */
  framestart?: number;
  lock?: LockedExposure;
}

/**
 * A still process kept open in signal mode (strategy `signal`, and bursts): each SIGUSR1 captures into `outPattern`
 * (`%04d` = capture number). `-v 2` makes it log one line per viewfinder frame (our liveness signal) and
 * "Saved image … to file …" once a capture's file is complete.
 */
export function armedArgv(cfg: CameraConfig, outPattern: string, o: ArmedOptions = { zsl: true }): string[] {
  return [
    '-t',
    '0',
    '--signal',
    ...(o.zsl ? ['--zsl'] : []),
    ...(o.bufferCount ? ['--buffer-count', String(o.bufferCount)] : []),
    '--nopreview',
    '-v',
    '2',
    ...stillSize(cfg),
    ...controls(cfg, o.lock),
    ...(o.metadata ? ['--metadata', o.metadata, '--metadata-format', 'json'] : []),
    ...(o.framestart ? ['--framestart', String(o.framestart)] : []),
    ...cfg.extraArgs,
    '-o',
    outPattern,
  ];
}

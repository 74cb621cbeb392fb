/**
 * What the simulated rpicam-vid / rpicam-still make of their command line: Boost's parse (config/rpicam-cli.ts),
 * then the checks of OptsInternal::Parse, ParseVideo and ParseStill (rpicam-apps core/options.cpp, HEAD 9270b60;
 * the same messages in video_options.hpp / still_options.hpp of v1.5.0–v1.9.1). Any failure is an Error whose
 * message the app prints as `ERROR: *** <message> ***` before exiting with status 255.
 */
import {
  optionValues,
  type ParsedOption,
  parseRpicamArgv,
  parseTimeVal,
  type RpicamApp,
} from '../../../config/rpicam-cli.js';

export type App = RpicamApp;

export const AWB_MODES = [
  'auto',
  'normal',
  'incandescent',
  'tungsten',
  'fluorescent',
  'indoor',
  'daylight',
  'cloudy',
  'custom',
] as const;
export const METERING_MODES = ['centre', 'spot', 'average', 'matrix', 'custom'] as const;
export const EXPOSURE_MODES = ['normal', 'sport', 'short', 'long', 'custom'] as const;
/** configureDenoise (core/rpicam_app.cpp) checks this at configure time, after the camera is opened. */
export const DENOISE_MODES = ['auto', 'off', 'cdn_off', 'cdn_fast', 'cdn_hq'] as const;
export const CODECS = ['h264', 'libav', 'yuv420', 'mjpeg'] as const;
export const ENCODINGS = ['jpg', 'yuv420', 'rgb24', 'rgb48', 'png', 'bmp'] as const;

export interface FakeOptions {
  app: App;
  help: boolean;
  version: boolean;
  listCameras: boolean;
  camera: number;
  verbose: number;
  /** Empty when --nopreview and --info-text was not given (OptsInternal::Parse). */
  infoText: string;
  width: number;
  height: number;
  timeoutMs: number;
  output?: string;
  nopreview: boolean;
  rotation: number;
  hflip: boolean;
  vflip: boolean;
  shutterUs: number;
  gain: number;
  ev: number;
  awb: string;
  awbGains: [number, number];
  metering: string;
  exposure: string;
  denoise: string;
  framerate?: number;
  flush: boolean;
  wrap: number;
  bufferCount: number;
  viewfinderBufferCount: number;
  viewfinderWidth: number;
  viewfinderHeight: number;
  metadata?: string;
  metadataFormat: 'json' | 'txt';
  quality: number;
  signal: boolean;
  keypress: boolean;
  // still
  exif: string[];
  timelapseMs: number;
  framestart: number;
  datetime: boolean;
  timestamp: boolean;
  thumb: { width: number; height: number; quality: number } | null;
  encoding: (typeof ENCODINGS)[number];
  raw: boolean;
  latest?: string;
  immediate: boolean;
  zsl: boolean;
  // vid
  codec: (typeof CODECS)[number];
  frames: number;
  segment: number;
  split: boolean;
  circular: number;
  pause: boolean;
  libavFormat?: string;
  /** Every option as parsed, for anything not modelled above. */
  parsed: readonly ParsedOption[];
}

/** The throw-away error type of the fakes: the message is what the real app prints between the asterisks. */
export class ArgError extends Error {}

const ciEq = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export function parseArgs(app: App, argv: readonly string[]): FakeOptions {
  let parsed: ParsedOption[];
  try {
    parsed = parseRpicamArgv(app, argv);
  } catch (e) {
    throw new ArgError((e as Error).message);
  }
  const v = optionValues(parsed);
  const str = (k: string, d: string) => (v.has(k) ? String(v.get(k)) : d);
  const num = (k: string, d: number) => (v.has(k) ? Number(v.get(k)) : d);
  const bool = (k: string) => v.get(k) === true;

  // OptsInternal::Parse, in its order.
  const lens = str('lens-position', '');
  if (lens && lens !== 'default' && !/^\s*[+-]?(\d+\.?\d*|\.\d+)/.test(lens))
    throw new ArgError(`Invalid lens position: ${lens}`);
  let timeoutMs: number;
  let shutterUs: number;
  try {
    timeoutMs = parseTimeVal(str('timeout', '5sec'), 1e6) / 1e6;
    shutterUs = parseTimeVal(str('shutter', '0'), 1e3) / 1e3;
    parseTimeVal(str('flicker-period', '0s'), 1e3);
  } catch (e) {
    throw new ArgError((e as Error).message);
  }
  const hdr = str('hdr', 'off');
  if (!['off', 'single-exp', 'sensor', 'auto'].includes(hdr)) throw new ArgError(`Invalid HDR option provided: ${hdr}`);
  const rotation = num('rotation', 0);
  const norm = ((rotation % 360) + 360) % 360;
  if (norm % 90 !== 0) throw new ArgError('illegal rotation value');
  if (norm === 90 || norm === 270) throw new ArgError('transforms requiring transpose not supported');
  const metering = str('metering', 'centre');
  if (!(METERING_MODES as readonly string[]).includes(metering))
    throw new ArgError(`Invalid metering mode: ${metering}`);
  const exposure = str('exposure', 'normal');
  if (!(EXPOSURE_MODES as readonly string[]).includes(exposure))
    throw new ArgError(`Invalid exposure mode:${exposure}`);
  const af = str('autofocus-mode', 'default');
  if (!['default', 'manual', 'auto', 'continuous'].includes(af)) throw new ArgError(`Invalid AfMode:${af}`);
  // The upstream message names the exposure mode here (a copy-paste slip kept for fidelity).
  if (!['normal', 'macro', 'full'].includes(str('autofocus-range', 'normal')))
    throw new ArgError(`Invalid AfRange mode:${exposure}`);
  const afSpeed = str('autofocus-speed', 'normal');
  if (!['normal', 'fast'].includes(afSpeed)) throw new ArgError(`Invalid afSpeed mode:${afSpeed}`);
  const awb = str('awb', 'auto');
  if (!(AWB_MODES as readonly string[]).includes(awb)) throw new ArgError(`Invalid AWB mode: ${awb}`);
  const gains = /^\s*([+-]?[\d.eE+-]+)\s*,\s*([+-]?[\d.eE+-]+)/.exec(str('awbgains', '0,0'));
  if (!gains || Number.isNaN(Number.parseFloat(gains[1])) || Number.isNaN(Number.parseFloat(gains[2])))
    throw new ArgError('Invalid AWB gains');
  const ccm = str('ccm', '');
  if (ccm && ccm.split(',').filter((x) => !Number.isNaN(Number.parseFloat(x))).length < 9)
    throw new ArgError('Invalid CCM - expect 9 comma-separated floating point numbers');
  const mf = str('metadata-format', 'json');
  if (!ciEq(mf, 'json') && !ciEq(mf, 'txt')) throw new ArgError(`unrecognised metadata format ${mf}`);
  for (const k of ['mode', 'viewfinder-mode']) {
    const m = str(k, '');
    if (!m) continue;
    const parts = m.split(':');
    if (parts.length < 2 || !/^\d+$/.test(parts[0]) || !/^\d+$/.test(parts[1])) throw new ArgError('Invalid mode');
    if (parts.length >= 4 && !/^[PpUu]/.test(parts[3])) throw new ArgError('Packing indicator should be P or U');
  }

  const nopreview = bool('nopreview');
  const infoGiven = v.has('info-text');
  const opts: FakeOptions = {
    app,
    help: bool('help'),
    version: bool('version'),
    listCameras: bool('list-cameras'),
    camera: num('camera', 0),
    verbose: num('verbose', 1),
    infoText: nopreview && !infoGiven ? '' : str('info-text', '#%frame (%fps fps) exp %exp ag %ag dg %dg'),
    width: num('width', 0),
    height: num('height', 0),
    timeoutMs,
    output: v.has('output') ? String(v.get('output')) : undefined,
    nopreview,
    rotation: norm,
    hflip: bool('hflip'),
    vflip: bool('vflip'),
    shutterUs,
    gain: num('gain', num('analoggain', 0)),
    ev: num('ev', 0),
    awb,
    awbGains: [Number.parseFloat(gains[1]), Number.parseFloat(gains[2])],
    metering,
    exposure,
    denoise: str('denoise', 'auto'),
    framerate: v.has('framerate') && num('framerate', -1) !== -1 ? num('framerate', 30) : undefined,
    flush: bool('flush'),
    wrap: num('wrap', 0),
    bufferCount: num('buffer-count', 0),
    viewfinderBufferCount: num('viewfinder-buffer-count', 0),
    viewfinderWidth: num('viewfinder-width', 0),
    viewfinderHeight: num('viewfinder-height', 0),
    metadata: v.has('metadata') ? String(v.get('metadata')) : undefined,
    metadataFormat: ciEq(mf, 'txt') ? 'txt' : 'json',
    quality: num('quality', app === 'still' ? 93 : 50),
    signal: bool('signal'),
    keypress: bool('keypress'),
    exif: (v.get('exif') as string[] | undefined) ?? [],
    timelapseMs: 0,
    framestart: num('framestart', 0),
    datetime: bool('datetime'),
    timestamp: bool('timestamp'),
    thumb: { width: 320, height: 240, quality: 70 },
    encoding: 'jpg',
    raw: bool('raw'),
    latest: v.has('latest') ? String(v.get('latest')) : undefined,
    immediate: bool('immediate'),
    zsl: bool('zsl'),
    codec: 'h264',
    frames: num('frames', 0),
    segment: num('segment', 0),
    split: bool('split'),
    circular: num('circular', 0),
    pause: false,
    libavFormat: v.has('libav-format') ? String(v.get('libav-format')) : undefined,
    parsed,
  };

  if (app === 'vid') {
    // ParseVideo (core/options.cpp at HEAD; video_options.hpp before v1.6): names compared with strcasecmp.
    if (opts.width === 0) opts.width = 640;
    if (opts.height === 0) opts.height = 480;
    const codec = str('codec', 'h264');
    const c = CODECS.find((x) => ciEq(x, codec));
    if (!c) throw new ArgError(`unrecognised codec ${codec}`);
    opts.codec = c;
    const initial = str('initial', 'record');
    if (ciEq(initial, 'pause')) opts.pause = true;
    else if (!ciEq(initial, 'record')) throw new ArgError(`incorrect initial value ${initial}`);
    const sync = str('sync', 'off');
    if (!['off', 'server', 'client'].some((x) => ciEq(x, sync))) throw new ArgError(`incorrect sync value ${sync}`);
  } else {
    // ParseStill.
    try {
      opts.timelapseMs = parseTimeVal(str('timelapse', '0ms'), 1e6) / 1e6;
    } catch (e) {
      throw new ArgError((e as Error).message);
    }
    if ((opts.keypress || opts.signal) && opts.timelapseMs)
      throw new ArgError('keypress/signal and timelapse options are mutually exclusive');
    const thumb = str('thumb', '320:240:70');
    if (ciEq(thumb, 'none')) opts.thumb = null;
    else {
      const m = /^\s*(\d+):\s*(\d+):\s*(\d+)/.exec(thumb);
      if (!m) throw new ArgError(`bad thumbnail parameters ${thumb}`);
      opts.thumb = { width: Number(m[1]), height: Number(m[2]), quality: Number(m[3]) };
      if (opts.thumb.quality === 0) opts.thumb = null;
    }
    const enc = str('encoding', 'jpg');
    const e = ciEq(enc, 'rgb') ? 'rgb24' : ENCODINGS.find((x) => ciEq(x, enc));
    if (!e) throw new ArgError(`invalid encoding format ${enc}`);
    opts.encoding = e;
  }
  return opts;
}

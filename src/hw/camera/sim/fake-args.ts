/**
 * Command-line parsing of the fake rpicam-vid / rpicam-still, modelled on rpicam-apps (boost::program_options):
 * `--name value`, `--name=value`, short aliases, switches with an implicit value; an unknown option or a bad value
 * is an error that the fake prints as `ERROR: *** ... ***` and exits 255, like the real apps.
 */
export type App = 'vid' | 'still';

type Kind = 'switch' | 'int' | 'number' | 'string' | 'time' | 'enum';

interface OptSpec {
  kind: Kind;
  apps: App[] | 'both';
  values?: readonly string[];
  short?: string;
  repeat?: boolean;
}

const both = 'both' as const;

export const AWB_MODES = [
  'auto',
  'incandescent',
  'tungsten',
  'fluorescent',
  'indoor',
  'daylight',
  'cloudy',
  'custom',
] as const;
export const DENOISE_MODES = ['auto', 'off', 'cdn_off', 'cdn_fast', 'cdn_hq'] as const;
export const METERING_MODES = ['centre', 'spot', 'average', 'custom'] as const;

const SPEC: Record<string, OptSpec> = {
  help: { kind: 'switch', apps: both, short: 'h' },
  version: { kind: 'switch', apps: both },
  'list-cameras': { kind: 'switch', apps: both },
  camera: { kind: 'int', apps: both },
  verbose: { kind: 'int', apps: both, short: 'v' },
  timeout: { kind: 'time', apps: both, short: 't' },
  output: { kind: 'string', apps: both, short: 'o' },
  nopreview: { kind: 'switch', apps: both, short: 'n' },
  width: { kind: 'int', apps: both },
  height: { kind: 'int', apps: both },
  quality: { kind: 'int', apps: both, short: 'q' },
  framerate: { kind: 'number', apps: both },
  rotation: { kind: 'int', apps: both },
  hflip: { kind: 'switch', apps: both },
  vflip: { kind: 'switch', apps: both },
  ev: { kind: 'number', apps: both },
  awb: { kind: 'enum', apps: both, values: AWB_MODES },
  denoise: { kind: 'enum', apps: both, values: DENOISE_MODES },
  shutter: { kind: 'time', apps: both },
  gain: { kind: 'number', apps: both },
  analoggain: { kind: 'number', apps: both },
  metering: { kind: 'enum', apps: both, values: METERING_MODES },
  exposure: { kind: 'enum', apps: both, values: ['normal', 'sport', 'short', 'long', 'custom'] },
  brightness: { kind: 'number', apps: both },
  contrast: { kind: 'number', apps: both },
  saturation: { kind: 'number', apps: both },
  sharpness: { kind: 'number', apps: both },
  mode: { kind: 'string', apps: both },
  roi: { kind: 'string', apps: both },
  'autofocus-mode': { kind: 'enum', apps: both, values: ['default', 'manual', 'auto', 'continuous'] },
  'lens-position': { kind: 'string', apps: both },
  'info-text': { kind: 'string', apps: both },
  signal: { kind: 'switch', apps: both, short: 's' },
  // rpicam-vid
  codec: { kind: 'enum', apps: ['vid'], values: ['h264', 'mjpeg', 'yuv420', 'libav'] },
  flush: { kind: 'switch', apps: ['vid'] },
  inline: { kind: 'switch', apps: ['vid'] },
  intra: { kind: 'int', apps: ['vid'], short: 'g' },
  bitrate: { kind: 'string', apps: ['vid'], short: 'b' },
  // rpicam-still
  immediate: { kind: 'switch', apps: ['still'] },
  zsl: { kind: 'switch', apps: ['still'] },
  encoding: { kind: 'enum', apps: ['still'], values: ['jpg', 'png', 'bmp', 'rgb', 'yuv420'], short: 'e' },
  exif: { kind: 'string', apps: ['still'], short: 'x', repeat: true },
  thumb: { kind: 'string', apps: ['still'] },
  latest: { kind: 'string', apps: ['still'] },
  raw: { kind: 'switch', apps: ['still'], short: 'r' },
};

const SHORT = new Map(Object.entries(SPEC).flatMap(([name, s]) => (s.short ? [[s.short, name] as const] : [])));

export type ParsedValue = string | number | boolean | string[];
export type ParsedArgs = Record<string, ParsedValue>;

export class ArgError extends Error {}

/** Milliseconds from rpicam's time syntax: a bare number (ms for --timeout, µs for --shutter) or with units. */
function parseTime(raw: string, bareUnitMs: number): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(min|ms|us|s)?$/.exec(raw);
  if (!m) return undefined;
  const v = Number(m[1]);
  const unit = m[2];
  if (!unit) return v * bareUnitMs;
  return unit === 'min' ? v * 60_000 : unit === 's' ? v * 1000 : unit === 'ms' ? v : v / 1000;
}

export function parseArgs(app: App, argv: readonly string[]): ParsedArgs {
  const out: ParsedArgs = {};
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i];
    let name: string;
    let inline: string | undefined;
    if (tok.startsWith('--')) {
      const eq = tok.indexOf('=');
      name = eq >= 0 ? tok.slice(2, eq) : tok.slice(2);
      inline = eq >= 0 ? tok.slice(eq + 1) : undefined;
    } else if (/^-[a-zA-Z]$/.test(tok)) {
      const long = SHORT.get(tok.slice(1));
      if (!long) throw new ArgError(`unrecognised option '${tok}'`);
      name = long;
    } else {
      throw new ArgError(`too many positional options have been specified on the command line`);
    }
    const spec = SPEC[name];
    if (!spec || (spec.apps !== 'both' && !spec.apps.includes(app)))
      throw new ArgError(`unrecognised option '${tok.split('=')[0]}'`);
    if (name in out && !spec.repeat) throw new ArgError(`option '--${name}' cannot be specified more than once`);
    let raw: string;
    if (spec.kind === 'switch') {
      raw = inline ?? 'true';
      if (!['true', 'false', '1', '0'].includes(raw))
        throw new ArgError(`the argument ('${raw}') for option '--${name}' is invalid`);
      out[name] = raw === 'true' || raw === '1';
      continue;
    }
    if (inline !== undefined) raw = inline;
    else {
      if (i + 1 >= argv.length) throw new ArgError(`the required argument for option '--${name}' is missing`);
      raw = argv[++i];
    }
    const bad = () => new ArgError(`the argument ('${raw}') for option '--${name}' is invalid`);
    let value: ParsedValue;
    switch (spec.kind) {
      case 'int':
        if (!/^-?\d+$/.test(raw)) throw bad();
        value = Number(raw);
        break;
      case 'number':
        if (!/^-?\d+(\.\d+)?$/.test(raw)) throw bad();
        value = Number(raw);
        break;
      case 'time': {
        const t = parseTime(raw, name === 'shutter' ? 0.001 : 1);
        if (t === undefined) throw bad();
        value = t;
        break;
      }
      case 'enum':
        if (!spec.values?.includes(raw)) throw new ArgError(`Invalid ${name} mode ${raw}`);
        value = raw;
        break;
      case 'string':
        value = raw;
        break;
    }
    if (spec.repeat) out[name] = [...((out[name] as string[] | undefined) ?? []), String(value)];
    else out[name] = value;
  }
  if (out.rotation !== undefined && out.rotation !== 0 && out.rotation !== 180)
    throw new ArgError('Unable to set rotation, only 0 or 180 supported');
  for (const k of ['width', 'height'] as const) {
    if (out[k] !== undefined && ((out[k] as number) < 0 || (out[k] as number) > 16384))
      throw new ArgError(`the argument ('${out[k]}') for option '--${k}' is invalid`);
  }
  return out;
}

/** `img%04d.jpg` with counter 7 → `img0007.jpg` (the printf subset rpicam-still supports in output names). */
export function formatOutputName(pattern: string, n: number): string {
  return pattern.replace(/%(0?)(\d*)d/g, (_m, zero: string, width: string) =>
    String(n).padStart(Number(width || 0), zero ? '0' : ' '),
  );
}

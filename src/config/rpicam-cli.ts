/**
 * The command-line grammar of rpicam-vid and rpicam-still: their option tables and the way Boost.Program_options
 * reads a command line with the style they use. One module serves three readers: the `camera.extraArgs` check of the
 * config (which must know every spelling Boost accepts), the argv builder of the driver and the simulated apps.
 * It lives in config/ because the config check needs it and config/ imports nothing from hw/.
 *
 * Sources (see src/hw/camera/sim/FIDELITY.md):
 * - options: raspberrypi/rpicam-apps 9270b60 (HEAD, after v1.13.0) core/options.cpp, core/still_options.hpp,
 *   core/video_options.hpp; the same names since v1.5.0 except where `since` says otherwise.
 * - grammar: `parse_command_line(argc, argv, desc)` (core/options.cpp, Options::Parse) uses Boost's default style,
 *   `command_line_style::unix_style` (boostorg/program_options boost-1.74.0 = bookworm, boost-1.83.0 = trixie,
 *   include/boost/program_options/cmdline.hpp): allow_short | short_allow_adjacent | short_allow_next | allow_long
 *   | long_allow_adjacent | long_allow_next | allow_sticky | allow_guessing | allow_dash_for_short. The parser is
 *   src/cmdline.cpp (parse_long_option, parse_short_option, finish_option, the positional second pass),
 *   options_description.cpp (find_nothrow: unique prefixes) and value_semantic.cpp (value conversion, messages).
 */

export type RpicamApp = 'vid' | 'still';
export const RPICAM_APPS: readonly RpicamApp[] = ['vid', 'still'];
export const appName = (app: RpicamApp) => `rpicam-${app}`;

/** The C++ type behind `value<T>`: decides which strings Boost's `validate()` accepts. */
export type ValueType = 'bool' | 'uint' | 'int' | 'float' | 'size' | 'string' | 'strings';

export interface RpicamOption {
  name: string;
  short?: string;
  type: ValueType;
  /** `implicit_value(...)`: the option may stand alone (min_tokens 0) and takes this value. */
  implicit?: string;
  apps: readonly RpicamApp[];
  /** First release that has it, when later than v1.5.0. */
  since?: string;
}

const BOTH: readonly RpicamApp[] = ['vid', 'still'];
const VID: readonly RpicamApp[] = ['vid'];
const STILL: readonly RpicamApp[] = ['still'];
const o = (name: string, type: ValueType, apps = BOTH, extra: Partial<RpicamOption> = {}): RpicamOption => ({
  name,
  type,
  apps,
  ...extra,
});
const sw = (name: string, apps = BOTH, extra: Partial<RpicamOption> = {}) =>
  o(name, 'bool', apps, { implicit: 'true', ...extra });

/** Every option of rpicam-vid and rpicam-still, in declaration order (Boost lists ambiguities in sorted order). */
export const RPICAM_OPTIONS: readonly RpicamOption[] = [
  // core/options.cpp
  sw('help', BOTH, { short: 'h' }),
  sw('version'),
  sw('list-cameras'),
  o('camera', 'uint'),
  o('verbose', 'uint', BOTH, { short: 'v', implicit: '2' }),
  o('config', 'string', BOTH, { short: 'c', implicit: 'config.txt' }),
  o('info-text', 'string'),
  o('width', 'uint'),
  o('height', 'uint'),
  o('timeout', 'string', BOTH, { short: 't' }),
  o('output', 'string', BOTH, { short: 'o' }),
  o('post-process-file', 'string'),
  o('post-process-libs', 'string'),
  sw('nopreview', BOTH, { short: 'n' }),
  o('preview', 'string', BOTH, { short: 'p' }),
  sw('fullscreen', BOTH, { short: 'f' }),
  sw('qt-preview'),
  o('preview-libs', 'string', BOTH, { since: 'v1.9.0' }),
  o('preview-backend', 'string', BOTH, { since: 'v1.13.0' }),
  sw('hflip'),
  sw('vflip'),
  o('rotation', 'int'),
  o('roi', 'string'),
  o('shutter', 'string'),
  o('analoggain', 'float'),
  o('gain', 'float'),
  o('metering', 'string'),
  o('exposure', 'string'),
  o('ev', 'float'),
  o('awb', 'string'),
  o('awbgains', 'string'),
  o('ccm', 'string', BOTH, { since: 'v1.9.0' }),
  sw('flush'),
  o('wrap', 'uint'),
  o('brightness', 'float'),
  o('contrast', 'float'),
  o('saturation', 'float'),
  o('sharpness', 'float'),
  o('framerate', 'float'),
  o('denoise', 'string'),
  o('viewfinder-width', 'uint'),
  o('viewfinder-height', 'uint'),
  o('tuning-file', 'string'),
  o('lores-width', 'uint'),
  o('lores-height', 'uint'),
  sw('lores-par', BOTH, { since: 'v1.6.0' }),
  o('mode', 'string'),
  o('viewfinder-mode', 'string'),
  o('buffer-count', 'uint'),
  o('viewfinder-buffer-count', 'uint'),
  sw('no-raw'),
  o('autofocus-mode', 'string'),
  o('autofocus-range', 'string'),
  o('autofocus-speed', 'string'),
  o('autofocus-window', 'string'),
  o('lens-position', 'string'),
  o('hdr', 'string', BOTH, { implicit: 'auto' }),
  o('metadata', 'string'),
  o('metadata-format', 'string'),
  o('flicker-period', 'string'),
  // core/still_options.hpp
  o('quality', 'int', BOTH, { short: 'q' }), // rpicam-still default 93, rpicam-vid (video_options.hpp) 50
  o('exif', 'strings', STILL, { short: 'x' }),
  o('timelapse', 'string', STILL),
  o('framestart', 'uint', STILL),
  sw('datetime', STILL),
  sw('timestamp', STILL),
  o('restart', 'uint', STILL),
  sw('keypress', BOTH, { short: 'k' }),
  sw('signal', BOTH, { short: 's' }),
  o('thumb', 'string', STILL),
  o('encoding', 'string', STILL, { short: 'e' }),
  sw('raw', STILL, { short: 'r' }),
  o('latest', 'string', STILL),
  sw('immediate', STILL),
  sw('autofocus-on-capture', STILL),
  sw('zsl', STILL),
  // core/video_options.hpp
  o('bitrate', 'string', VID, { short: 'b' }),
  o('profile', 'string', VID),
  o('level', 'string', VID),
  o('intra', 'uint', VID, { short: 'g' }),
  sw('inline', VID),
  o('codec', 'string', VID),
  o('encoder-libs', 'string', VID, { since: 'v1.9.0' }),
  o('save-pts', 'string', VID),
  sw('listen', VID, { short: 'l' }),
  o('initial', 'string', VID, { short: 'i' }),
  sw('split', VID),
  o('segment', 'uint', VID),
  o('circular', 'size', VID, { implicit: '4' }),
  o('frames', 'uint', VID),
  o('libav-video-codec', 'string', VID),
  o('libav-video-codec-opts', 'string', VID),
  o('libav-format', 'string', VID),
  sw('libav-audio', VID),
  o('audio-codec', 'string', VID),
  o('audio-source', 'string', VID),
  o('audio-device', 'string', VID),
  o('audio-channels', 'uint', VID),
  o('audio-bitrate', 'string', VID),
  o('audio-samplerate', 'uint', VID),
  o('av-sync', 'string', VID),
  sw('low-latency', VID, { since: 'v1.6.0' }),
  o('sync', 'string', VID, { since: 'v1.6.0' }),
];

const tables = new Map<RpicamApp, RpicamOption[]>(
  RPICAM_APPS.map((app) => [app, RPICAM_OPTIONS.filter((opt) => opt.apps.includes(app))]),
);

export function optionsOf(app: RpicamApp): readonly RpicamOption[] {
  return tables.get(app) ?? [];
}

/** A Boost error: the text `what()` returns; the apps print it as `ERROR: *** <text> ***` and exit 255. */
export class BoostError extends Error {
  constructor(
    message: string,
    /** Index in argv of the token the error is about. */
    readonly index: number,
  ) {
    super(message);
  }
}

export interface ParsedOption {
  /** The canonical (long) name. */
  name: string;
  option: RpicamOption;
  /** The converted value: the implicit value when the option stood alone. */
  value: string | number | boolean | string[];
  /** Index in argv of the token that named the option. */
  index: number;
  /** The token as written (`-v2`, `--wid=640`, `--hflip`). */
  token: string;
}

interface RawOption {
  key: string; // "-v" for a short option, the (possibly abbreviated) name for a long one
  values: string[];
  tokens: string[];
  index: number;
  isShort: boolean;
}

/**
 * Boost's options_description::find_nothrow with allow_guessing: an exact long or short name wins; otherwise the
 * one option whose long name starts with the text; several → ambiguous.
 */
function find(table: readonly RpicamOption[], key: string, isShort: boolean, token: string, index: number) {
  if (isShort) return table.find((opt) => opt.short !== undefined && `-${opt.short}` === key);
  const full = table.find((opt) => opt.name === key);
  if (full) return full;
  const approx = table.filter((opt) => opt.name.startsWith(key));
  if (approx.length > 1) {
    const alts = [...new Set(approx.map((a) => a.name))].sort();
    const list = `${alts
      .slice(0, -1)
      .map((a) => `'--${a}', `)
      .join('')}and '--${alts[alts.length - 1]}'`;
    throw new BoostError(`option '${token}' is ambiguous and matches ${list}`, index);
  }
  return approx[0];
}

/** parse_long_option / parse_short_option: does this token name an option (even an unknown one)? */
function looksLikeOption(tok: string): boolean {
  return (tok.length >= 3 && tok.startsWith('--')) || (tok.length >= 2 && tok[0] === '-' && tok[1] !== '-');
}

/** cmdline::run() for one app's table: tokens → options with their raw values; positional tokens are dropped. */
function tokenize(table: readonly RpicamOption[], argv: readonly string[]): RawOption[] {
  const out: (RawOption | { positional: string; index: number; final: boolean })[] = [];
  let i = 0;
  while (i < argv.length) {
    const tok = argv[i];
    let opt: RawOption | undefined;
    if (tok === '--') {
      // parse_terminator: everything after `--` is positional for good.
      for (let j = i + 1; j < argv.length; j++) out.push({ positional: argv[j], index: j, final: true });
      break;
    }
    if (tok.length >= 3 && tok.startsWith('--')) {
      const eq = tok.indexOf('=');
      const key = eq >= 0 ? tok.slice(2, eq) : tok.slice(2);
      if (eq >= 0 && eq === tok.length - 1)
        throw new BoostError(`the argument for option '--${key}' should follow immediately after the equal sign`, i);
      opt = { key, values: eq >= 0 ? [tok.slice(eq + 1)] : [], tokens: [tok], index: i, isShort: false };
    } else if (tok.length >= 2 && tok[0] === '-' && tok[1] !== '-') {
      // No rpicam option has max_tokens 0 (every switch has an implicit value), so "sticky" grouping never
      // applies: whatever follows the letter is its value (`-v2`, `-q90`, `-nv` = --nopreview "v").
      const rest = tok.slice(2);
      opt = { key: tok.slice(0, 2), values: rest ? [rest] : [], tokens: [tok], index: i, isShort: true };
    }
    i++;
    if (!opt) {
      out.push({ positional: tok, index: i - 1, final: false });
      continue;
    }
    // finish_option: validate the name, then take min_tokens values from the following tokens.
    const def = find(table, opt.key, opt.isShort, tok, opt.index);
    if (!def) throw new BoostError(`unrecognised option '${tok}'`, opt.index);
    const minTokens = def.implicit === undefined ? 1 : 0;
    if (opt.values.length < minTokens) {
      if (i >= argv.length)
        throw new BoostError(`the required argument for option '--${def.name}' is missing`, opt.index);
      const next = argv[i];
      // Boost looks the whole token up as a name: only a bare known short option (`-o`) matches, so `--width`
      // or `-v2` after `-o` are taken as its value.
      if (looksLikeOption(next) && table.some((d) => d.short !== undefined && `-${d.short}` === next))
        throw new BoostError(`the required argument for option '--${def.name}' is missing`, opt.index);
      opt.values.push(next);
      opt.tokens.push(next);
      i++;
    }
    opt.key = def.name;
    out.push(opt);
  }
  // Second pass: an option that may take one more value (implicit value, none given) takes a following positional.
  const result: RawOption[] = [];
  for (let k = 0; k < out.length; k++) {
    const item = out[k];
    if ('positional' in item) continue; // no positional options are declared: Boost drops them
    const def = table.find((d) => d.name === item.key) as RpicamOption;
    if (def.implicit !== undefined && item.values.length === 0) {
      const nxt = out[k + 1];
      if (nxt && 'positional' in nxt && !nxt.final) {
        item.values.push(nxt.positional);
        item.tokens.push(nxt.positional);
        k++;
      }
    }
    result.push(item);
  }
  return result;
}

const lower = (s: string) => s.toLowerCase();

/** value_semantic.cpp `validate()` for each C++ type (lexical_cast underneath). */
function convert(def: RpicamOption, raw: string): string | number | boolean {
  const bad = () => new Error(`the argument ('${raw}') for option '--${def.name}' is invalid`);
  switch (def.type) {
    case 'bool': {
      const s = lower(raw);
      if (['', 'on', 'yes', '1', 'true'].includes(s)) return true;
      if (['off', 'no', '0', 'false'].includes(s)) return false;
      throw new Error(
        `the argument ('${raw}') for option '--${def.name}' is invalid. Valid choices are 'on|off', 'yes|no', '1|0' and 'true|false'`,
      );
    }
    case 'uint':
    case 'size': {
      // lexical_cast<unsigned> takes a sign and wraps a negative number around.
      const m = /^([+-]?)(\d+)$/.exec(raw);
      if (!m) throw bad();
      const bits = def.type === 'size' ? 64n : 32n;
      const max = (1n << bits) - 1n;
      let v = BigInt(m[2]);
      if (v > max) throw bad();
      if (m[1] === '-') v = (max + 1n - v) & max;
      return Number(v);
    }
    case 'int': {
      if (!/^[+-]?\d+$/.test(raw)) throw bad();
      const v = Number(raw);
      if (v < -(2 ** 31) || v > 2 ** 31 - 1) throw bad();
      return v;
    }
    case 'float': {
      if (/^[+-]?(inf|infinity|nan)$/i.test(raw)) return Number(raw.replace(/inf(inity)?/i, 'Infinity'));
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) throw bad();
      return Number(raw);
    }
    case 'string':
    case 'strings':
      return raw;
  }
}

/**
 * Parses argv exactly as the app would, up to `store()` and `notify()`: unknown and ambiguous names, missing values,
 * bad values and repeated options throw a BoostError with Boost's own message. Values are converted to their C++
 * type; checks the apps make later (codec names, rotation, time strings) are not made here.
 */
export function parseRpicamArgv(app: RpicamApp, argv: readonly string[]): ParsedOption[] {
  const table = optionsOf(app);
  const raw = tokenize(table, argv);
  const seen = new Map<string, ParsedOption>();
  const parsed: ParsedOption[] = [];
  for (const r of raw) {
    const def = table.find((d) => d.name === r.key) as RpicamOption;
    const prev = seen.get(def.name);
    let value: ParsedOption['value'];
    if (r.values.length === 0) {
      // typed_value::xparse: an implicit value is stored without the first-occurrence check.
      value = def.type === 'bool' ? true : def.type === 'string' ? (def.implicit as string) : Number(def.implicit);
    } else {
      if (def.type === 'strings') {
        value = [...((prev?.value as string[] | undefined) ?? []), r.values[0]];
      } else {
        if (prev) throw new BoostError(`option '--${def.name}' cannot be specified more than once`, r.index);
        try {
          value = convert(def, r.values[0]);
        } catch (e) {
          throw new BoostError((e as Error).message, r.index);
        }
      }
    }
    const p: ParsedOption = { name: def.name, option: def, value, index: r.index, token: r.tokens[0] };
    seen.set(def.name, p);
    parsed.push(p);
  }
  return parsed;
}

/** The last value of each option, by name (what the app's variables hold after parsing). */
export function optionValues(parsed: readonly ParsedOption[]): Map<string, ParsedOption['value']> {
  const m = new Map<string, ParsedOption['value']>();
  for (const p of parsed) m.set(p.name, p.value);
  return m;
}

/**
 * rpicam's TimeVal<DEFAULT>::set (core/options.hpp): `std::stof` reads the leading number, then a unit suffix
 * (min, sec, s, ms, us, ns) is honoured only when it ends the string; anything else keeps the default unit. No
 * number at all → "Invalid time string provided". Returns nanoseconds.
 */
export function parseTimeVal(s: string, defaultUnitNs: number): number {
  const m = /^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf(?:inity)?|nan))/i.exec(s);
  if (!m) throw new Error('Invalid time string provided');
  const f = Math.fround(Number(m[1].replace(/inf(inity)?/i, 'Infinity')));
  const rest = s.slice(m[0].length);
  const units: Record<string, number> = { min: 60e9, sec: 1e9, s: 1e9, ms: 1e6, us: 1e3, ns: 1 };
  const unit = Object.hasOwn(units, rest) ? units[rest] : defaultUnitNs;
  return Math.trunc(f * unit);
}

import type { Level, Pull } from './backend.js';

/**
 * libgpiod command-line syntax, v1 (Bookworm, 1.6) and v2 (trixie). Pure functions so both dialects are tested
 * without the tools.
 */
export type GpiodVersion = 1 | 2;

/** A libgpiod release as its tools print it. */
export interface GpiodRelease {
  dialect: GpiodVersion;
  /** e.g. "1.6.3" (bookworm) or "2.2.1" (trixie). */
  version: string;
}

/**
 * `--version` output, first line `gpiomon (libgpiod) v1.6.3` (1.6: print_version in tools/tools-common.c, from
 * gpiod_version_string()) or `gpiomon (libgpiod) v2.2.1` (2.x: gpiod_api_version()).
 */
export function parseGpiodRelease(text: string): GpiodRelease | null {
  const m =
    /\(libgpiod\)\s*v(\d+)\.(\d+)(\.\d+)?(-[\w.]+)?/i.exec(text) ?? /\bv(\d+)\.(\d+)(\.\d+)?(-[\w.]+)?/.exec(text);
  if (!m) return null;
  const major = Number(m[1]);
  if (major < 1) return null;
  return { dialect: major === 1 ? 1 : 2, version: `${m[1]}.${m[2]}${m[3] ?? ''}${m[4] ?? ''}` };
}

/** The dialect alone (1 or 2) from `--version` output. */
export function parseGpiodVersion(text: string): GpiodVersion | null {
  return parseGpiodRelease(text)?.dialect ?? null;
}

/** Explicit output formats, so we never depend on the default layout (which differs between versions). */
export const MONITOR_FORMAT: Record<GpiodVersion, string> = {
  // %e: 1 rising, 0 falling. Seconds and nanoseconds as separate fields: v1 prints %n without zero padding.
  1: '%e %o %s %n',
  2: '%E %o %S', // %E: rising/falling; %S: seconds.nanoseconds
};

export function monitorArgs(
  v: GpiodVersion,
  chip: string,
  offset: number,
  pull: Pull,
  glitchFilterUs: number,
): string[] {
  if (v === 1) {
    const bias = { up: 'pull-up', down: 'pull-down', off: 'disable' }[pull];
    // -b: line-buffered stdout, or events sit in a pipe buffer. v1 has no debounce option.
    return ['-b', '-B', bias, '-F', MONITOR_FORMAT[1], chip, String(offset)];
  }
  const bias = { up: 'pull-up', down: 'pull-down', off: 'disabled' }[pull];
  const args = ['-c', chip, '-b', bias, '-e', 'both', '-F', MONITOR_FORMAT[2]];
  if (glitchFilterUs > 0) args.push('-p', `${glitchFilterUs}us`);
  args.push(String(offset));
  return args;
}

/** Holds the line at a level until the process is signalled (v1 needs --mode=signal; v2 does it by default). */
export function setArgs(v: GpiodVersion, chip: string, offset: number, level: Level): string[] {
  return v === 1 ? ['--mode=signal', chip, `${offset}=${level}`] : ['-c', chip, `${offset}=${level}`];
}

export interface MonitorEvent {
  level: Level;
  offset?: number;
  /** Kernel timestamp in milliseconds. */
  ts?: number;
}

/**
 * Parses one gpiomon output line: our explicit formats of both versions, and the default formats too
 *   v1: `event:  RISING EDGE offset: 17 timestamp: [1700000000.123456789]`
 *   v2: `1700000000.123456789\tfalling\t"GPIO17"` (or `gpiochip0 17` as the line id)
 * Anything else (banners, blank lines) gives null.
 */
export function parseMonitorLine(line: string): MonitorEvent | null {
  const text = line.trim();
  if (!text) return null;
  let level: Level | undefined;
  const word = /\b(rising|falling)\b/i.exec(text);
  if (word) level = word[1].toLowerCase() === 'rising' ? 1 : 0;
  const tokens = text.split(/\s+/);
  if (level === undefined) {
    // v1 %e: 1 rising / 0 falling; v2 %e: 1 rising / 2 falling.
    if (tokens[0] === '1') level = 1;
    else if (tokens[0] === '0' || tokens[0] === '2') level = 0;
    else return null;
  }
  const ev: MonitorEvent = { level };
  const off = /offset:\s*(\d+)/i.exec(text);
  if (off) ev.offset = Number(off[1]);
  else if (/^(rising|falling|[012])$/i.test(tokens[0]) && /^\d+$/.test(tokens[1] ?? '')) ev.offset = Number(tokens[1]);
  else {
    const id = /gpiochip\d+\s+(\d+)\s*$/.exec(text);
    if (id) ev.offset = Number(id[1]);
  }
  const split = /^[012] \d+ (\d+) (\d+)$/.exec(text);
  const dotted = /(\d+)\.(\d{9})\b/.exec(text);
  if (split) ev.ts = Number(split[1]) * 1000 + Number(split[2]) / 1e6;
  else if (dotted) ev.ts = Number(dotted[1]) * 1000 + Number(dotted[2]) / 1e6;
  return ev;
}

/** `gpiodetect` lines are `gpiochip0 [pinctrl-bcm2711] (58 lines)` in both versions. */
export function parseGpiodetect(text: string): { chip: string; label: string }[] {
  const out: { chip: string; label: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^(gpiochip\d+)\s+\[([^\]]*)\]/.exec(line.trim());
    if (m) out.push({ chip: m[1], label: m[2] });
  }
  return out;
}

/**
 * Why a libgpiod tool failed, from its stderr. The strings are the tools' own (die()/print_error() in
 * tools/*.c and glibc getopt_long's messages), per dialect:
 *   chip-missing  1.6.3: "<tool>: error waiting for events: No such file or directory" (gpiomon) /
 *                 "error setting the GPIO line values: No such file or directory" (gpioset): the chip lookup
 *                 failed with ENOENT. 2.x: "cannot find GPIO chip character device '<id>'".
 *   busy          EBUSY: another process holds the line.
 *   permission    EACCES on /dev/gpiochip* (not in group gpio).
 *   line-missing  1.6.3: EINVAL from gpiod_chip_get_line (offset past the chip's lines); 2.x: "offset N is out of
 *                 range on chip" / "cannot find line".
 *   usage         the argv was refused before any chip was opened.
 */
export type GpiodFailure = 'chip-missing' | 'busy' | 'permission' | 'line-missing' | 'usage' | 'unknown';

const USAGE = [
  /invalid option -- /,
  /unrecognized option '/,
  /option requires an argument -- /,
  /option '--[^']+' requires an argument/,
  /option '--[^']+' doesn't allow an argument/,
  /option '--[^']+' is ambiguous/,
  /: try \S+ --help$/,
  /: invalid (bias|drive|mode|edges|event clock|period|number|GPIO offset|offset|line value|time value)/,
  /: invalid offset<->value mapping/,
  /: value must be 0 or 1/,
  /: gpiochip must be specified/,
  /: at least one GPIO line/,
  /: unrecognized argument/,
  /: can't (specify wait time|daemonize) in this mode/,
  /: maximum debounce period is/,
  /: too many lines given/,
  /: can't combine/,
];

export function classifyGpiodFailure(dialect: GpiodVersion, stderr: string): GpiodFailure {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.some((l) => USAGE.some((re) => re.test(l)))) return 'usage';
  const text = lines.join('\n');
  if (/Device or resource busy/.test(text)) return 'busy';
  if (/Permission denied/.test(text)) return 'permission';
  if (dialect === 1) {
    if (
      /: error (waiting for events|setting the GPIO line values|reading GPIO values): No such file or directory/.test(
        text,
      )
    )
      return 'chip-missing';
    if (/: error (waiting for events|setting the GPIO line values|reading GPIO values): Invalid argument/.test(text))
      return 'line-missing';
  } else {
    if (/cannot find GPIO chip character device '/.test(text)) return 'chip-missing';
    if (/offset \S+ is out of range on chip|cannot find line '/.test(text)) return 'line-missing';
  }
  return 'unknown';
}

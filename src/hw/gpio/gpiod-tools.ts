import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { UnavailableError } from '../../util/errors.js';
import { type GpiodRelease, parseGpiodetect, parseGpiodRelease } from './gpiod-format.js';
import { PI_GPIO_LABELS } from './sysfs.js';

/**
 * Facts about the installed libgpiod tools and the Pi's GPIO chip, shared by the gpiod backend and `pinhole
 * doctor`. Nothing here guesses: an unknown version or a machine without a Pi pin controller is an error that says
 * what was found.
 */

export interface ToolResult {
  /** False when the executable does not exist (ENOENT). */
  found: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
}
/** Runs a tool and never throws (doctor's `sys.exec` has this shape too). */
export type ToolRunner = (command: string, args: string[], timeoutMs?: number) => Promise<ToolResult>;

export const runTool: ToolRunner = (command, args, timeoutMs = 5000) =>
  new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      if (e && e.code === 'ENOENT') {
        resolve({ found: false, code: null, stdout: '', stderr: '' });
        return;
      }
      resolve({
        found: true,
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        stdout: String(stdout),
        stderr: String(stderr || (e && typeof e.code !== 'number' ? e.message : '')),
      });
    });
  });

export interface GpiodToolsInfo extends GpiodRelease {
  /** gpiomon filters spikes itself (`--debounce-period`, libgpiod 2.x); 1.6 has no such option. */
  debounce: boolean;
}

/**
 * The libgpiod release behind `gpiomon` (bookworm ships 1.6.3, trixie 2.2.1). Throws UnavailableError with code
 * `gpiod-missing` when the tool is not installed and `gpiod-version` when its output names no version.
 */
export async function detectGpiodTools(gpiomon = 'gpiomon', run: ToolRunner = runTool): Promise<GpiodToolsInfo> {
  const r = await run(gpiomon, ['--version']);
  if (!r.found)
    throw new UnavailableError(
      `${gpiomon} not found: install the libgpiod tools (\`sudo apt install gpiod\`)`,
      'gpiod-missing',
    );
  const text = `${r.stdout}\n${r.stderr}`;
  const release = r.code === 0 ? parseGpiodRelease(text) : null;
  if (!release)
    throw new UnavailableError(
      `cannot tell the libgpiod version from \`${gpiomon} --version\` (exit ${r.code}): ${text.trim().slice(0, 200) || 'no output'}`,
      'gpiod-version',
    );
  return { ...release, debounce: release.dialect >= 2 };
}

export interface PiChip {
  /** The character device name the tools take: `gpiochip0`, or `gpiochip4` on early-6.6 Pi 5 kernels. */
  chip: string;
  label: string;
  /** Where the label was read. */
  via: 'gpiodetect' | 'sysfs';
}

const isPiLabel = (label: string) => (PI_GPIO_LABELS as readonly string[]).includes(label);

/**
 * The Pi's own pin controller, by its label (pinctrl-bcm2835, pinctrl-bcm2711, pinctrl-rp1), from `gpiodetect`;
 * when gpiodetect cannot run (libgpiod 1.6's lists nothing if any one chip is unreadable), from the sysfs class
 * folder: `<sysfsRoot>/gpiochipBASE/label`, and the character device sits beside it under the same parent device
 * (`<sysfsRoot>/gpiochipBASE/device/gpiochipN`). Its number is never assumed: the Pi 5's RP1 was gpiochip4 before
 * raspberrypi/linux PR #6144 and gpiochip0 after it.
 */
export async function findPiChip(
  opts: { gpiodetect?: string; sysfsRoot?: string; run?: ToolRunner } = {},
): Promise<PiChip> {
  const gpiodetect = opts.gpiodetect ?? 'gpiodetect';
  const sysfsRoot = opts.sysfsRoot ?? '/sys/class/gpio';
  const r = await (opts.run ?? runTool)(gpiodetect, []);
  const wanted = PI_GPIO_LABELS.join(', ');
  if (r.found && r.code === 0) {
    const chips = parseGpiodetect(r.stdout);
    const pi = chips.find((c) => isPiLabel(c.label));
    if (pi) return { chip: pi.chip, label: pi.label, via: 'gpiodetect' };
    throw new UnavailableError(
      `no Raspberry Pi GPIO controller (${wanted}) in \`${gpiodetect}\` output; found: ${chips.map((c) => `${c.chip} [${c.label}]`).join(', ') || 'no GPIO chips'}. Pinhole does not guess a chip: is this a Raspberry Pi? (gpio.backend: sim simulates buttons)`,
      'gpio-no-chip',
    );
  }
  const why = r.found
    ? `\`${gpiodetect}\` failed (exit ${r.code}): ${r.stderr.trim().split('\n')[0] || 'no output'}`
    : `${gpiodetect} not found`;
  const fromSysfs = await chipFromSysfs(sysfsRoot);
  if (fromSysfs.chip) return fromSysfs.chip;
  throw new UnavailableError(
    `cannot find the Raspberry Pi GPIO controller (${wanted}): ${why}; ${fromSysfs.why}`,
    'gpio-no-chip',
  );
}

async function chipFromSysfs(root: string): Promise<{ chip?: PiChip; why: string }> {
  let entries: string[];
  try {
    entries = (await fs.readdir(root)).filter((e) => /^gpiochip\d+$/.test(e)).sort();
  } catch (e) {
    return { why: `${root} is not readable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  const seen: string[] = [];
  for (const entry of entries) {
    const label = (await fs.readFile(path.join(root, entry, 'label'), 'utf8').catch(() => '')).trim();
    seen.push(`${entry}=${label || '?'}`);
    if (!isPiLabel(label)) continue;
    const siblings = await fs.readdir(path.join(root, entry, 'device')).catch(() => [] as string[]);
    const cdev = siblings.filter((s) => /^gpiochip\d+$/.test(s));
    if (cdev.length === 1) return { chip: { chip: cdev[0], label, via: 'sysfs' }, why: '' };
    return {
      why: `${root}/${entry} is ${label} but its character device is not beside it (${cdev.join(', ') || 'none'})`,
    };
  }
  return { why: `${root} has no such label (found: ${seen.join(' ') || 'no gpiochips'})` };
}

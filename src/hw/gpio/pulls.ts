import { promises as fs } from 'node:fs';
import type { ButtonConfig } from '../../config/sections/gpio.js';
import type { Pull } from './backend.js';

/**
 * Pull resistors for backends that cannot set them (onoff: the sysfs interface has no bias control). Then a pin
 * keeps the pull it had at boot: the BCM2835 reset default (BCM 0-8 pulled up, 9-27 pulled down; BCM2835 ARM
 * Peripherals p.102, kept by the later Pis) unless a `gpio=` line in config.txt changes it. A button to ground on
 * BCM 9-27 with its default pull-down reads 0 whether pressed or not: it never fires.
 */

/** Where the firmware reads config.txt: bookworm and trixie, then the older location. */
export const BOOT_CONFIG_PATHS = ['/boot/firmware/config.txt', '/boot/config.txt'];

export function bootDefaultPull(pin: number): Pull {
  return pin <= 8 ? 'up' : 'down';
}

const CODE: Record<Pull, string> = { up: 'pu', down: 'pd', off: 'pn' };

/** The config.txt line that gives `pin` this pull at boot (Raspberry Pi docs, "GPIO control in config.txt"). */
export function configTxtLine(pin: number, pull: Pull): string {
  return `gpio=${pin}=ip,${CODE[pull]}`;
}

/**
 * Pulls set by `gpio=<pins>=<attrs>` lines: pins `3`, `3-4`, `3-4,6,8`; attrs `pu`, `pd`, `pn`/`np` among others;
 * later lines override earlier ones. Conditional sections (`[pi4]`, `[all]` ...) are not evaluated: a pull set in
 * any section counts.
 */
export function parseBootPulls(text: string): Map<number, Pull> {
  const pulls = new Map<number, Pull>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^gpio\s*=\s*([\d,\s-]+)=\s*([a-z0-9,\s]+)$/i.exec(line);
    if (!m) continue;
    const attrs = m[2].split(',').map((a) => a.trim().toLowerCase());
    let pull: Pull | undefined;
    for (const a of attrs) {
      if (a === 'pu') pull = 'up';
      else if (a === 'pd') pull = 'down';
      else if (a === 'pn' || a === 'np') pull = 'off';
    }
    if (!pull) continue;
    for (const part of m[1].split(',')) {
      const range = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(part);
      if (!range) continue;
      const from = Number(range[1]);
      const to = range[2] === undefined ? from : Number(range[2]);
      for (let pin = from; pin <= to && pin <= 63; pin++) pulls.set(pin, pull);
    }
  }
  return pulls;
}

export interface BootConfig {
  path: string;
  text: string;
}

/** The first config.txt that exists, or null (not a Pi, or /boot not mounted). */
export async function readBootConfig(paths: readonly string[] = BOOT_CONFIG_PATHS): Promise<BootConfig | null> {
  for (const p of paths) {
    try {
      return { path: p, text: await fs.readFile(p, 'utf8') };
    } catch {
      // next candidate
    }
  }
  return null;
}

export interface PullProblem {
  button: string;
  pin: number;
  wanted: Pull;
  /** The pull the pin has at boot without the fix. */
  atBoot: Pull;
  /** The line to add to config.txt. */
  line: string;
  message: string;
}

const WORD: Record<Pull, string> = { up: 'a pull-up', down: 'a pull-down', off: 'no pull' };

/**
 * Buttons whose configured pull differs from what the pin gets at boot, for a backend that cannot set pulls.
 * `boot` is the config.txt read (null: none found, the reset defaults apply).
 */
export function pullProblems(
  buttons: readonly Pick<ButtonConfig, 'name' | 'pin' | 'pull' | 'activeLow'>[],
  boot: BootConfig | null,
): PullProblem[] {
  const set = boot ? parseBootPulls(boot.text) : new Map<number, Pull>();
  const file = boot?.path ?? BOOT_CONFIG_PATHS[0];
  const out: PullProblem[] = [];
  for (const b of buttons) {
    const atBoot = set.get(b.pin) ?? bootDefaultPull(b.pin);
    if (atBoot === b.pull) continue;
    const line = configTxtLine(b.pin, b.pull);
    const effect =
      b.activeLow && atBoot === 'down'
        ? 'a button to ground there reads 0 pressed or not, so it never fires'
        : !b.activeLow && atBoot === 'up'
          ? 'a button to 3.3 V there reads 1 pressed or not, so it never fires'
          : 'the line may float or fight the pull you wired';
    out.push({
      button: b.name,
      pin: b.pin,
      wanted: b.pull,
      atBoot,
      line,
      message: `button "${b.name}" on BCM ${b.pin} wants ${WORD[b.pull]} but the onoff backend cannot set pulls, and BCM ${b.pin} has ${WORD[atBoot]} at boot: ${effect}. Add \`${line}\` to ${file} and reboot, or install the libgpiod tools (\`sudo apt install gpiod\`) so the gpiod backend sets it`,
    });
  }
  return out;
}

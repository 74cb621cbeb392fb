import { promises as fs } from 'node:fs';
import path from 'node:path';
import { UnavailableError } from '../../util/errors.js';

/** Labels of the Pi's own pin controller: Pi 1-3 and Zero, Pi 4, Pi 5 (RP1). */
export const PI_GPIO_LABELS = ['pinctrl-bcm2835', 'pinctrl-bcm2711', 'pinctrl-rp1'] as const;

export interface SysfsChip {
  chip: string;
  label: string;
  base: number;
  ngpio: number;
}

/**
 * Finds the Pi pin controller under the sysfs GPIO root. Kernel 6.6 moved its base from 0 to 512 (571 on the
 * Pi 5), so the sysfs number of BCM pin N is `base + N`; hard-coding N fails with EINVAL.
 */
export async function findPiGpioChip(sysfsRoot: string): Promise<SysfsChip> {
  let entries: string[];
  try {
    entries = await fs.readdir(sysfsRoot);
  } catch (e) {
    throw new UnavailableError(
      `cannot read ${sysfsRoot} (${(e as Error).message}): is sysfs GPIO enabled in this kernel?`,
      'gpio-sysfs',
    );
  }
  const seen: string[] = [];
  for (const chip of entries.filter((n) => /^gpiochip\d+$/.test(n)).sort()) {
    const dir = path.join(sysfsRoot, chip);
    const label = (await readTrim(path.join(dir, 'label'))) ?? '';
    seen.push(`${chip}=${label}`);
    if (!(PI_GPIO_LABELS as readonly string[]).includes(label)) continue;
    const base = Number(await readTrim(path.join(dir, 'base')));
    const ngpio = Number(await readTrim(path.join(dir, 'ngpio')));
    if (!Number.isInteger(base) || base < 0) throw new UnavailableError(`${dir}/base is not a number`, 'gpio-sysfs');
    return { chip, label, base, ngpio: Number.isInteger(ngpio) ? ngpio : 0 };
  }
  throw new UnavailableError(
    `no Raspberry Pi GPIO controller (${PI_GPIO_LABELS.join(', ')}) under ${sysfsRoot}; found: ${seen.join(' ') || 'no gpiochips'}`,
    'gpio-sysfs',
  );
}

async function readTrim(file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

import type { DoctorContext } from './checks.js';
import type { CheckResult } from './types.js';

/**
 * gpiomon/gpioset present, and which libgpiod they come from. bookworm ships 1.6.3, trixie 2.2.x; both print
 * `<tool> (libgpiod) v<version>` for --version (libgpiod tools/tools-common.c, print_version, v1.6.3 and v2.2).
 * Kept apart from the other checks so the GPIO backend's own version probe can replace `toolVersion` later.
 */
export function toolVersion(text: string): { version: string; major: number } | null {
  const m = /\(libgpiod\)\s+v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return null;
  return { version: `${m[1]}.${m[2]}${m[3] === undefined ? '' : `.${m[3]}`}`, major: Number(m[1]) };
}

export async function checkGpioTools({ sys, config, board }: DoctorContext): Promise<CheckResult> {
  const id = 'gpio-tools';
  const title = 'libgpiod tools';
  if (config.gpio.backend !== 'gpiod' && config.gpio.backend !== 'auto')
    return { id, title, status: 'skip', message: `gpio.backend is ${config.gpio.backend}` };
  if (board.id === 'not-pi') return { id, title, status: 'skip', message: 'not a Raspberry Pi: check skipped' };
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const tool of ['gpiomon', 'gpioset']) {
    const r = await sys.exec(tool, ['--version'], 5000);
    const v = r.found ? toolVersion(`${r.stdout}\n${r.stderr}`) : null;
    if (!r.found || !v) missing.push(tool);
    else found[tool] = v.version;
  }
  const fix = 'sudo apt install gpiod';
  if (missing.length)
    return {
      id,
      title,
      status: config.gpio.backend === 'gpiod' ? 'fail' : 'warn',
      message: `${missing.join(' and ')} not found${config.gpio.backend === 'auto' ? ' (gpio.backend auto falls back to onoff)' : ''}`,
      fix,
      details: found,
    };
  const versions = new Set(Object.values(found));
  if (versions.size > 1)
    return {
      id,
      title,
      status: 'warn',
      message: `gpiomon v${found.gpiomon} and gpioset v${found.gpioset} come from different libgpiod versions`,
      fix: 'sudo apt install --reinstall gpiod',
      details: found,
    };
  const v = found.gpiomon;
  return {
    id,
    title,
    status: 'ok',
    message: `gpiomon and gpioset v${v} (libgpiod ${v.startsWith('1.') ? 'v1: no debounce option' : 'v2'})`,
    details: found,
  };
}

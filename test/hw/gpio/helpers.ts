import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ButtonConfig } from '../../../src/config/sections/gpio.js';
import type { ButtonActionHandlers } from '../../../src/hw/gpio/actions.js';

export const fixturesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/gpio');

export const fakeTools = {
  gpiomon: path.join(fixturesDir, 'gpiomon'),
  gpioset: path.join(fixturesDir, 'gpioset'),
  gpiodetect: path.join(fixturesDir, 'gpiodetect'),
};

export async function tempDir(prefix = 'pinhole-gpio-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Handlers that record what the GPIO layer asked for. */
export function recordingHandlers(): ButtonActionHandlers & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    shutter: async () => calls.push('shutter'),
    burst: async (n) => calls.push(`burst:${n}`),
    timer: async (s) => calls.push(`timer:${s}`),
    nextFilter: async () => calls.push('next-filter'),
    toggleFaces: async () => calls.push('toggle-faces'),
    shutdown: async () => calls.push('shutdown'),
  };
}

/** A fake sysfs GPIO tree: one folder per chip with label/base/ngpio, like /sys/class/gpio. */
export async function fakeSysfs(
  chips: { name: string; label: string; base: number; ngpio: number }[],
): Promise<string> {
  const root = await tempDir('pinhole-sysfs-');
  await fs.writeFile(path.join(root, 'export'), '');
  await fs.writeFile(path.join(root, 'unexport'), '');
  for (const c of chips) {
    const d = path.join(root, c.name);
    await fs.mkdir(d);
    await fs.writeFile(path.join(d, 'label'), `${c.label}\n`);
    await fs.writeFile(path.join(d, 'base'), `${c.base}\n`);
    await fs.writeFile(path.join(d, 'ngpio'), `${c.ngpio}\n`);
  }
  return root;
}

/** A button config with the schema's defaults: a plain shutter unless `b` says otherwise. */
export const button = (b: Partial<ButtonConfig> & Pick<ButtonConfig, 'name' | 'pin'>): ButtonConfig => ({
  action: 'shutter',
  activeLow: true,
  pull: 'up',
  debounceMs: 30,
  longPressMs: 1000,
  longPressAction: 'none',
  doublePressAction: 'none',
  doublePressMs: 300,
  ...b,
});

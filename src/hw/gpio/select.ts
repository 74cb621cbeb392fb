import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import type { GpioConfig } from '../../config/sections/gpio.js';
import type { BackendKind } from './backend.js';
import type { PiModel } from './pi-model.js';

export interface Selection {
  kind: BackendKind;
  reason: string;
}

export interface SelectDeps {
  model: PiModel;
  env: NodeJS.ProcessEnv;
  hasExecutable(name: string): Promise<boolean>;
}

/**
 * What `gpio.backend: auto` means on this machine. libgpiod works everywhere without root; sysfs (onoff) is the
 * fallback on a Pi without the tools; pigpio is never chosen automatically (root, pigpiod conflicts, no Pi 5).
 */
export async function chooseBackend(requested: GpioConfig['backend'], deps: SelectDeps): Promise<Selection> {
  if (requested !== 'auto') return { kind: requested, reason: `gpio.backend is ${requested}` };
  const { model } = deps;
  if (!model.isPi) {
    const what = model.model ? `"${model.model}" is not a Raspberry Pi` : 'no Raspberry Pi model in the device tree';
    if (deps.env.PINHOLE_DEV === '1')
      return { kind: 'sim', reason: `${what}; PINHOLE_DEV=1 (npm start): simulated buttons` };
    return { kind: 'none', reason: `${what}: no buttons (set gpio.backend: sim to simulate them)` };
  }
  const gpiomon = await deps.hasExecutable('gpiomon');
  if (model.generation === 5) {
    if (gpiomon) return { kind: 'gpiod', reason: `${model.model}: libgpiod (pigpio does not support the Pi 5)` };
    return {
      kind: 'onoff',
      reason: `${model.model}: gpiomon not installed (\`sudo apt install gpiod\` is preferred), using sysfs`,
    };
  }
  if (gpiomon) return { kind: 'gpiod', reason: `${model.model}: libgpiod tools found` };
  return { kind: 'onoff', reason: `${model.model}: gpiomon not installed, using sysfs` };
}

/** Is `name` an executable file in one of $PATH's folders? */
export async function hasExecutableOnPath(name: string, envPath = process.env.PATH ?? ''): Promise<boolean> {
  for (const dir of envPath.split(path.delimiter).filter(Boolean)) {
    try {
      await fs.access(path.join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

import type { GpioConfig } from '../../config/sections/gpio.js';
import { type BackendKind, type GpioBackend, NoneBackend } from './backend.js';
import { GpiodBackend, type GpiodBackendOptions } from './gpiod-backend.js';
import { OnoffBackend, type OnoffModule } from './onoff-backend.js';
import type { PiModel } from './pi-model.js';
import { PigpioBackend, type PigpioModule } from './pigpio-backend.js';
import { SimBackend } from './sim-backend.js';

/** Seams for tests and unusual installs; everything has a production default. */
export interface BackendDeps {
  gpiod?: GpiodBackendOptions;
  loadOnoff?: () => Promise<OnoffModule>;
  loadPigpio?: () => Promise<PigpioModule>;
  pigpioPidFile?: string;
  getuid?: () => number;
}

export async function createBackend(
  kind: BackendKind,
  config: GpioConfig,
  model: PiModel,
  deps: BackendDeps = {},
): Promise<GpioBackend> {
  switch (kind) {
    case 'gpiod':
      return GpiodBackend.create({ sysfsRoot: config.sysfsRoot, ...deps.gpiod });
    case 'onoff':
      return OnoffBackend.create({ sysfsRoot: config.sysfsRoot, load: deps.loadOnoff });
    case 'pigpio':
      return PigpioBackend.create({ model, pidFile: deps.pigpioPidFile, getuid: deps.getuid, load: deps.loadPigpio });
    case 'sim':
      return new SimBackend();
    case 'none':
      return new NoneBackend();
  }
}

import { UnavailableError } from '../../util/errors.js';
import { createLogger } from '../../util/logger.js';
import type { GpioBackend, InputLine, InputOptions, Level, OutputLine } from './backend.js';
import { findPiGpioChip, type SysfsChip } from './sysfs.js';

const log = createLogger('gpio.onoff');

/** The part of onoff's API we use (its own types are not needed, and this keeps the mock small). */
export interface OnoffGpio {
  watch(cb: (err: Error | null | undefined, value: Level) => void): void;
  unwatchAll(): void;
  writeSync(value: Level): void;
  unexport(): void;
}
export interface OnoffModule {
  Gpio: {
    new (
      gpio: number,
      direction: 'in' | 'out' | 'high' | 'low',
      edge?: 'none' | 'both',
      options?: Record<string, unknown>,
    ): OnoffGpio;
    accessible: boolean;
  };
}

const loadOnoff = async (): Promise<OnoffModule> => {
  const mod = (await import('onoff')) as unknown as OnoffModule & { default?: OnoffModule };
  return mod.Gpio ? mod : (mod.default as OnoffModule);
};

/**
 * sysfs backend through onoff. sysfs has no pull control, so the pins keep their boot pulls (the component warns
 * and `pinhole doctor` prints the config.txt line, see pulls.ts); onoff's `debounceTimeout` delays every edge, so
 * we pass none: spikes are filtered and contacts debounced above, in software.
 */
export class OnoffBackend implements GpioBackend {
  readonly kind = 'onoff' as const;
  readonly setsPulls = false;
  private readonly open = new Set<OnoffGpio>();

  private constructor(
    private readonly mod: OnoffModule,
    readonly chip: SysfsChip,
  ) {}

  static async create(opts: { sysfsRoot: string; load?: () => Promise<OnoffModule> }): Promise<OnoffBackend> {
    const chip = await findPiGpioChip(opts.sysfsRoot);
    let mod: OnoffModule;
    try {
      mod = await (opts.load ?? loadOnoff)();
    } catch (e) {
      throw new UnavailableError(`cannot load onoff: ${(e as Error).message}`, 'gpio-onoff', e);
    }
    if (!mod.Gpio.accessible) {
      throw new UnavailableError(
        'sysfs GPIO is not writable: add the daemon user to the gpio group, or use gpio.backend: gpiod',
        'gpio-onoff',
      );
    }
    log.info('using sysfs', { chip: chip.chip, label: chip.label, base: chip.base });
    return new OnoffBackend(mod, chip);
  }

  /** BCM pin → sysfs number: kernel 6.6 puts the Pi controller at 512 (571 on a Pi 5), older ones at 0. */
  sysfsNumber(pin: number): number {
    return this.chip.base + pin;
  }

  async openInput(pin: number, opts: InputOptions): Promise<InputLine> {
    const gpio = new this.mod.Gpio(this.sysfsNumber(pin), 'in', 'both');
    this.open.add(gpio);
    gpio.watch((err, value) => {
      if (err) log.warn('watch error', { pin, error: err.message });
      else opts.onEdge(value);
    });
    return { close: async () => this.release(gpio) };
  }

  async openOutput(pin: number, initial: Level): Promise<OutputLine> {
    const gpio = new this.mod.Gpio(this.sysfsNumber(pin), initial === 1 ? 'high' : 'low');
    this.open.add(gpio);
    return {
      write: (level) => {
        try {
          gpio.writeSync(level);
        } catch (e) {
          log.warn('write failed', { pin, error: (e as Error).message });
        }
      },
      close: async () => this.release(gpio),
    };
  }

  private release(gpio: OnoffGpio): void {
    if (!this.open.delete(gpio)) return;
    try {
      gpio.unwatchAll();
      gpio.unexport();
    } catch (e) {
      log.warn('unexport failed', { error: (e as Error).message });
    }
  }

  async close(): Promise<void> {
    for (const g of [...this.open]) this.release(g);
  }

  describe(): Record<string, unknown> {
    return { chip: this.chip.chip, label: this.chip.label, base: this.chip.base };
  }
}

import { promises as fs } from 'node:fs';
import { UnavailableError } from '../../util/errors.js';
import { createLogger } from '../../util/logger.js';
import type { GpioBackend, InputLine, InputOptions, Level, OutputLine, Pull } from './backend.js';
import type { PiModel } from './pi-model.js';

const log = createLogger('gpio.pigpio');

/** The part of pigpio's API we use. */
export interface PigpioGpio {
  on(event: 'alert', cb: (level: Level, tick: number) => void): unknown;
  removeAllListeners(event?: string): unknown;
  disableAlert(): unknown;
  glitchFilter(steadyMicros: number): unknown;
  digitalWrite(level: Level): unknown;
}
export interface PigpioModule {
  Gpio: {
    new (gpio: number, options: { mode: number; pullUpDown?: number; alert?: boolean }): PigpioGpio;
    INPUT: number;
    OUTPUT: number;
    PUD_OFF: number;
    PUD_DOWN: number;
    PUD_UP: number;
  };
  initialize(): void;
  terminate(): void;
}

export const PIGPIO_PID_FILE = '/var/run/pigpio.pid';

// A variable specifier keeps tsc from requiring the optional package, and keeps its native addon (which
// prints a banner and fails off a Pi) unloaded unless this backend is chosen.
const PIGPIO_MODULE = 'pigpio';
const loadPigpio = async (): Promise<PigpioModule> => {
  const mod = (await import(PIGPIO_MODULE)) as PigpioModule & { default?: PigpioModule };
  return mod.Gpio ? mod : (mod.default as PigpioModule);
};

export interface PigpioBackendOptions {
  model: PiModel;
  pidFile?: string;
  getuid?: () => number;
  load?: () => Promise<PigpioModule>;
}

/** pigpio through its Node binding: Pi ≤ 4 only, needs root, and cannot share the hardware with pigpiod. */
export class PigpioBackend implements GpioBackend {
  readonly kind = 'pigpio' as const;
  readonly nativeFilter = 'pigpio' as const;
  private readonly open = new Set<PigpioGpio>();

  private constructor(private readonly mod: PigpioModule) {}

  static async create(opts: PigpioBackendOptions): Promise<PigpioBackend> {
    const pidFile = opts.pidFile ?? PIGPIO_PID_FILE;
    if (opts.model.generation === 5) {
      throw new UnavailableError(
        'pigpio does not work on a Raspberry Pi 5 (its GPIO is on the RP1 chip): use gpio.backend: gpiod or auto',
        'pigpio-pi5',
      );
    }
    if (!opts.model.isPi) {
      throw new UnavailableError(
        `pigpio needs a Raspberry Pi (1-4, Zero); this is ${opts.model.model ?? 'not a Pi'}`,
        'pigpio-not-pi',
      );
    }
    const uid = (opts.getuid ?? (() => process.getuid?.() ?? -1))();
    if (uid !== 0) {
      throw new UnavailableError(
        'pigpio needs root (it maps /dev/mem): run the daemon as root or use gpio.backend: gpiod',
        'pigpio-not-root',
      );
    }
    const holder = await pidFileHolder(pidFile);
    if (holder !== undefined) {
      throw new UnavailableError(
        `pigpiod (pid ${holder}) holds ${pidFile}: stop it (\`sudo systemctl disable --now pigpiod\`) or use gpio.backend: gpiod`,
        'pigpio-locked',
      );
    }
    let mod: PigpioModule;
    try {
      mod = await (opts.load ?? loadPigpio)();
      mod.initialize();
    } catch (e) {
      const msg = (e as Error).message;
      if (/lock|pigpio\.pid/i.test(msg)) {
        throw new UnavailableError(`pigpio cannot lock ${pidFile} (is pigpiod running?): ${msg}`, 'pigpio-locked', e);
      }
      throw new UnavailableError(
        `cannot start pigpio: ${msg} (install the C library: sudo apt install pigpio)`,
        'pigpio-load',
        e,
      );
    }
    return new PigpioBackend(mod);
  }

  async openInput(pin: number, opts: InputOptions): Promise<InputLine> {
    const G = this.mod.Gpio;
    const pud: Record<Pull, number> = { up: G.PUD_UP, down: G.PUD_DOWN, off: G.PUD_OFF };
    const gpio = new G(pin, { mode: G.INPUT, pullUpDown: pud[opts.pull], alert: true });
    // The glitch filter drops pulses shorter than this before they reach us; bounce is handled above.
    if (opts.glitchFilterUs > 0) gpio.glitchFilter(opts.glitchFilterUs);
    // pigpio's tick wraps every 72 minutes, so it is not passed on as an ordering timestamp; alerts arrive in order.
    gpio.on('alert', (level) => opts.onEdge(level));
    this.open.add(gpio);
    return { close: async () => this.release(gpio) };
  }

  async openOutput(pin: number, initial: Level): Promise<OutputLine> {
    const gpio = new this.mod.Gpio(pin, { mode: this.mod.Gpio.OUTPUT });
    gpio.digitalWrite(initial);
    this.open.add(gpio);
    return {
      write: (level) => {
        try {
          gpio.digitalWrite(level);
        } catch (e) {
          log.warn('write failed', { pin, error: (e as Error).message });
        }
      },
      close: async () => this.release(gpio),
    };
  }

  private release(gpio: PigpioGpio): void {
    if (!this.open.delete(gpio)) return;
    try {
      gpio.removeAllListeners('alert');
      gpio.disableAlert();
    } catch (e) {
      log.warn('release failed', { error: (e as Error).message });
    }
  }

  async close(): Promise<void> {
    for (const g of [...this.open]) this.release(g);
    try {
      this.mod.terminate();
    } catch (e) {
      log.warn('terminate failed', { error: (e as Error).message });
    }
  }
}

/** The pid in pigpio's lock file if that process is alive, else undefined (a stale file does not block). */
async function pidFileHolder(file: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

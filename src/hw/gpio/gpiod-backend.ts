import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { childEnv } from '../../util/child-env.js';
import { UnavailableError } from '../../util/errors.js';
import { createLogger } from '../../util/logger.js';
import type { GpioBackend, InputLine, InputOptions, Level, OutputLine } from './backend.js';
import {
  type GpiodVersion,
  monitorArgs,
  parseGpiodetect,
  parseGpiodVersion,
  parseMonitorLine,
  setArgs,
} from './gpiod-format.js';
import { killAndWait, SupervisedProcess } from './supervised-process.js';
import { PI_GPIO_LABELS } from './sysfs.js';

const log = createLogger('gpio.gpiod');
const run = promisify(execFile);

export interface GpiodTools {
  gpiomon: string;
  gpioset: string;
  gpiodetect: string;
}
export const DEFAULT_GPIOD_TOOLS: GpiodTools = { gpiomon: 'gpiomon', gpioset: 'gpioset', gpiodetect: 'gpiodetect' };

export interface GpiodBackendOptions {
  tools?: Partial<GpiodTools>;
  /** Grace period for a monitor to prove it started (tests shorten it). */
  graceMs?: number;
  backoffMs?: number[];
}

/**
 * libgpiod command-line tools as supervised subprocesses: works on every Pi model and kernel without root
 * (group `gpio`). One `gpiomon` per button, one `gpioset` holding each LED at its level.
 */
export class GpiodBackend implements GpioBackend {
  readonly kind = 'gpiod' as const;
  private readonly monitors = new Set<SupervisedProcess>();
  private readonly outputs = new Set<GpiosetLine>();

  private constructor(
    readonly version: GpiodVersion,
    readonly chip: string,
    private readonly tools: GpiodTools,
    private readonly opts: GpiodBackendOptions,
  ) {}

  static async create(opts: GpiodBackendOptions = {}): Promise<GpiodBackend> {
    const tools = { ...DEFAULT_GPIOD_TOOLS, ...opts.tools };
    let versionText: string;
    try {
      const r = await run(tools.gpiomon, ['--version'], { timeout: 5000 });
      versionText = `${r.stdout}\n${r.stderr}`;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT')
        throw new UnavailableError(
          `${tools.gpiomon} not found: install the libgpiod tools (\`sudo apt install gpiod\`)`,
          'gpiod-missing',
        );
      throw new UnavailableError(`\`${tools.gpiomon} --version\` failed: ${err.message}`, 'gpiod-version');
    }
    const version = parseGpiodVersion(versionText);
    if (!version)
      throw new UnavailableError(
        `cannot tell the libgpiod version from: ${versionText.trim().slice(0, 200)}`,
        'gpiod-version',
      );
    const chip = await findChip(tools.gpiodetect);
    log.info('using libgpiod tools', { version, chip });
    return new GpiodBackend(version, chip, tools, opts);
  }

  async openInput(pin: number, opts: InputOptions): Promise<InputLine> {
    const proc = new SupervisedProcess({
      command: this.tools.gpiomon,
      args: monitorArgs(this.version, this.chip, pin, opts.pull, opts.glitchFilterUs),
      log: log.child(`pin${pin}`),
      graceMs: this.opts.graceMs,
      backoffMs: this.opts.backoffMs,
      onLine: (line) => {
        const ev = parseMonitorLine(line);
        if (!ev) {
          log.debug('unparsed gpiomon line', { pin, line });
          return;
        }
        if (ev.offset !== undefined && ev.offset !== pin) return;
        opts.onEdge(ev.level, ev.ts);
      },
    });
    try {
      await proc.start();
    } catch (e) {
      throw new UnavailableError(`GPIO ${pin}: ${(e as Error).message}`, 'gpiod-monitor', e);
    }
    this.monitors.add(proc);
    return {
      close: async () => {
        this.monitors.delete(proc);
        await proc.stop();
      },
    };
  }

  async openOutput(pin: number, initial: Level): Promise<OutputLine> {
    const line = new GpiosetLine(this.tools.gpioset, this.version, this.chip, pin);
    this.outputs.add(line);
    line.write(initial);
    return {
      write: (level) => line.write(level),
      close: async () => {
        this.outputs.delete(line);
        await line.close();
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.monitors].map((m) => m.stop()));
    await Promise.all([...this.outputs].map((o) => o.close()));
    this.monitors.clear();
    this.outputs.clear();
  }

  describe(): Record<string, unknown> {
    const restarts = [...this.monitors].reduce((n, m) => n + m.restarts, 0);
    const lastError = [...this.monitors].map((m) => m.lastError).find(Boolean);
    return { libgpiod: this.version, chip: this.chip, monitorRestarts: restarts, lastMonitorError: lastError };
  }
}

/** The Pi's pin controller by label; gpiochip0 if gpiodetect is missing or lists none of them. */
async function findChip(gpiodetect: string): Promise<string> {
  try {
    const r = await run(gpiodetect, [], { timeout: 5000 });
    const chips = parseGpiodetect(r.stdout);
    const pi = chips.find((c) => (PI_GPIO_LABELS as readonly string[]).includes(c.label));
    if (pi) return pi.chip;
    log.warn('no Pi GPIO controller in gpiodetect output; using gpiochip0', {
      chips: chips.map((c) => `${c.chip}=${c.label}`).join(' '),
    });
  } catch (e) {
    log.warn('gpiodetect failed; using gpiochip0', { error: (e as Error).message });
  }
  return 'gpiochip0';
}

/**
 * An LED held by a `gpioset` process. The tool holds one level until signalled, so a change means: stop the old
 * process (the line is busy until it exits), start one with the new level. Writes made meanwhile coalesce:
 * only the latest level matters.
 */
class GpiosetLine {
  private child?: ChildProcess;
  private running?: Level;
  private wanted?: Level;
  private pumping?: Promise<void>;
  private closed = false;

  constructor(
    private readonly command: string,
    private readonly version: GpiodVersion,
    private readonly chip: string,
    private readonly pin: number,
  ) {}

  write(level: Level): void {
    if (this.closed) return;
    this.wanted = level;
    this.pumping ??= this.pump().finally(() => {
      this.pumping = undefined;
    });
  }

  private async pump(): Promise<void> {
    while (!this.closed && this.wanted !== undefined && this.wanted !== this.running) {
      const level = this.wanted;
      await killAndWait(this.child);
      if (this.closed) return;
      const child = spawn(this.command, setArgs(this.version, this.chip, this.pin, level), {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: childEnv(),
      });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => {
        if (stderr.length < 500) stderr += d.toString();
      });
      child.on('error', (e) => log.warn('gpioset failed', { pin: this.pin, error: e.message }));
      child.on('exit', (code, signal) => {
        if (this.child === child) {
          this.child = undefined;
          this.running = undefined;
        }
        if (signal !== 'SIGTERM' && signal !== 'SIGKILL')
          log.warn('gpioset exited', { pin: this.pin, code, signal, stderr: stderr.trim() });
      });
      this.child = child;
      this.running = level;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pumping;
    await killAndWait(this.child);
    this.child = undefined;
  }
}

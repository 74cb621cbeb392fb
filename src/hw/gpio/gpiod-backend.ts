import { type ChildProcess, spawn } from 'node:child_process';
import { childEnv } from '../../util/child-env.js';
import { UnavailableError } from '../../util/errors.js';
import { createLogger } from '../../util/logger.js';
import type { GpioBackend, InputLine, InputOptions, Level, NativeFilter, OutputLine } from './backend.js';
import { classifyGpiodFailure, type GpiodVersion, monitorArgs, parseMonitorLine, setArgs } from './gpiod-format.js';
import { detectGpiodTools, findPiChip, type GpiodToolsInfo, type PiChip } from './gpiod-tools.js';
import { killAndWait, SupervisedProcess } from './supervised-process.js';

const log = createLogger('gpio.gpiod');

export interface GpiodTools {
  gpiomon: string;
  gpioset: string;
  gpiodetect: string;
}
export const DEFAULT_GPIOD_TOOLS: GpiodTools = { gpiomon: 'gpiomon', gpioset: 'gpioset', gpiodetect: 'gpiodetect' };

export interface GpiodBackendOptions {
  tools?: Partial<GpiodTools>;
  /** Where to look for the chip's label when gpiodetect cannot run (gpio.sysfsRoot). */
  sysfsRoot?: string;
  /** Grace period for a monitor to prove it started (tests shorten it). */
  graceMs?: number;
  backoffMs?: number[];
  /** SIGKILL a gpioset that has not exited this long after SIGTERM (tests with slow fakes raise it). */
  killAfterMs?: number;
}

const HINT: Partial<Record<ReturnType<typeof classifyGpiodFailure>, string>> = {
  busy: 'another program holds this line (`gpioinfo` shows which)',
  permission: 'no access to /dev/gpiochip*: add the service user to group gpio',
  'chip-missing': 'the GPIO chip is gone',
  'line-missing': 'this chip has no such line',
  usage: 'the libgpiod tools refused our command line: please report this with `gpiomon --version`',
};

/**
 * libgpiod command-line tools as supervised subprocesses: works on every Pi model and kernel without root
 * (group `gpio`). One `gpiomon` per button, one `gpioset` holding each LED at its level. The chip is the Pi's pin
 * controller found by its label, never a guessed gpiochip number.
 */
export class GpiodBackend implements GpioBackend {
  readonly kind = 'gpiod' as const;
  private readonly monitors = new Set<SupervisedProcess>();
  private readonly outputs = new Set<GpiosetLine>();

  private constructor(
    readonly tools: GpiodToolsInfo,
    readonly pi: PiChip,
    private readonly paths: GpiodTools,
    private readonly opts: GpiodBackendOptions,
  ) {}

  static async create(opts: GpiodBackendOptions = {}): Promise<GpiodBackend> {
    const paths = { ...DEFAULT_GPIOD_TOOLS, ...opts.tools };
    const tools = await detectGpiodTools(paths.gpiomon);
    const pi = await findPiChip({ gpiodetect: paths.gpiodetect, sysfsRoot: opts.sysfsRoot });
    log.info('using libgpiod tools', { libgpiod: tools.version, chip: pi.chip, label: pi.label, via: pi.via });
    return new GpiodBackend(tools, pi, paths, opts);
  }

  /** The command-line dialect: 1 (libgpiod 1.6, bookworm) or 2 (2.x, trixie). */
  get version(): GpiodVersion {
    return this.tools.dialect;
  }

  get chip(): string {
    return this.pi.chip;
  }

  /** libgpiod 2's gpiomon debounces in the kernel (`--debounce-period`); 1.6 cannot. */
  get nativeFilter(): NativeFilter | undefined {
    return this.tools.debounce ? 'debounce-period' : undefined;
  }

  async openInput(pin: number, opts: InputOptions): Promise<InputLine> {
    const proc = new SupervisedProcess({
      command: this.paths.gpiomon,
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
      const msg = (e as Error).message;
      const hint = HINT[classifyGpiodFailure(this.version, msg.replace(/ \| /g, '\n'))];
      throw new UnavailableError(`GPIO ${pin}: ${msg}${hint ? ` (${hint})` : ''}`, 'gpiod-monitor', e);
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
    const line = new GpiosetLine(this.paths.gpioset, this.version, this.chip, pin, this.opts.killAfterMs);
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
    return {
      libgpiod: this.tools.version,
      dialect: this.version,
      chip: this.pi.chip,
      chipLabel: this.pi.label,
      monitorRestarts: restarts,
      lastMonitorError: lastError,
    };
  }
}

/**
 * An LED held by a `gpioset` process. The tool holds one level until signalled, so a change means: stop the old
 * process (the line is busy until it exits), start one with the new level. Writes made meanwhile coalesce:
 * only the latest level matters.
 *
 * Stopping it is routine, and each dialect ends differently: 1.6.3's `--mode=signal` reads SIGTERM through a
 * signalfd and exits 0 (tools/gpioset.c, wait_signal), 2.x installs no handler and dies of the signal. Neither is
 * worth a log line; a gpioset that exits on its own is (the LED is no longer held), once per distinct failure.
 */
class GpiosetLine {
  private child?: ChildProcess;
  private running?: Level;
  private wanted?: Level;
  private pumping?: Promise<void>;
  private closed = false;
  private readonly stopping = new WeakSet<ChildProcess>();
  private lastFailure?: string;
  private repeats = 0;

  constructor(
    private readonly command: string,
    private readonly version: GpiodVersion,
    private readonly chip: string,
    private readonly pin: number,
    private readonly killAfterMs = 1000,
  ) {}

  write(level: Level): void {
    if (this.closed) return;
    this.wanted = level;
    this.kick();
  }

  /** A write that lands after the pump's last check but before it settles must not be lost: check again. */
  private kick(): void {
    if (this.pumping) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      if (!this.closed && this.wanted !== undefined && this.wanted !== this.running) this.kick();
    });
  }

  private async pump(): Promise<void> {
    while (!this.closed && this.wanted !== undefined && this.wanted !== this.running) {
      const level = this.wanted;
      await this.stopChild();
      if (this.closed) return;
      const child = spawn(this.command, setArgs(this.version, this.chip, this.pin, level), {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: childEnv(),
      });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => {
        if (stderr.length < 500) stderr += d.toString();
      });
      child.on('error', (e) => this.failed(`cannot run ${this.command}: ${e.message}`));
      // 'close', not 'exit': only then has all of its stderr been read.
      child.on('close', (code, signal) => {
        if (this.child === child) {
          this.child = undefined;
          this.running = undefined;
        }
        const asked = this.stopping.has(child);
        if (asked && (code === 0 || signal === 'SIGTERM' || signal === 'SIGKILL')) {
          log.debug('gpioset stopped', { pin: this.pin, code, signal });
          return;
        }
        const why = stderr.trim() || 'no output';
        const hint = HINT[classifyGpiodFailure(this.version, stderr)];
        this.failed(`gpioset exited (${signal ?? `code ${code}`}): ${why}${hint ? ` (${hint})` : ''}`);
      });
      this.child = child;
      this.running = level;
    }
  }

  private failed(message: string): void {
    if (message === this.lastFailure) {
      this.repeats++;
      log.debug('LED write failed again', { pin: this.pin, times: this.repeats + 1 });
      return;
    }
    this.lastFailure = message;
    this.repeats = 0;
    log.warn('LED line not held', { pin: this.pin, error: message });
  }

  private async stopChild(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.stopping.add(child);
    await killAndWait(child, this.killAfterMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pumping;
    await this.stopChild();
    this.child = undefined;
  }
}

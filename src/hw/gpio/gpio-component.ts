import type { Component, ControlHandler } from '../../component.js';
import type { PinholeConfig } from '../../config/schema.js';
import type { ButtonConfig, GpioConfig, LedConfig } from '../../config/sections/gpio.js';
import type { EventBus } from '../../events.js';
import { ConflictError, errorMessage, NotFoundError, ValidationError } from '../../util/errors.js';
import { createLogger } from '../../util/logger.js';
import {
  type ActionContext,
  actionFor,
  type ButtonAction,
  type ButtonActionHandlers,
  dispatchAction,
  validateGpioConfig,
} from './actions.js';
import { type GpioBackend, type InputLine, NoneBackend } from './backend.js';
import { ButtonMachine, type Gesture } from './button.js';
import { type Clock, systemClock } from './clock.js';
import { type BackendDeps, createBackend } from './create-backend.js';
import { GlitchFilter } from './glitch-filter.js';
import { LED_STATES, type Led, LedController, type LedState } from './leds.js';
import { type PiModel, readPiModel } from './pi-model.js';
import { BOOT_CONFIG_PATHS, pullProblems, readBootConfig } from './pulls.js';
import { chooseBackend, hasExecutableOnPath, type Selection } from './select.js';
import { SimBackend } from './sim-backend.js';

declare module '../../events.js' {
  interface PinholeEvents {
    /** A button gesture was recognised (emitted before its action starts). */
    'gpio.button': { name: string; gesture: Gesture; action: ButtonAction };
    'gpio.leds': { state: LedState };
  }
}

const log = createLogger('gpio');

export const DEFAULT_SIM_HOLD_MS = 80;
const MAX_SIM_HOLD_MS = 30_000;

const simButton = (b: Pick<ButtonConfig, 'name' | 'pin' | 'action' | 'longPressAction'>): ButtonConfig => ({
  activeLow: true,
  pull: 'up',
  debounceMs: 30,
  longPressMs: 1000,
  doublePressAction: 'none',
  doublePressMs: 300,
  ...b,
});

/**
 * Used with the sim backend when gpio.buttons / gpio.leds are empty, so `npm start` on a laptop has something to
 * press: `pinhole sim press shutter` takes a photo, `--hold 1500` triggers its long press (a burst).
 */
export const SIM_DEFAULT_BUTTONS: ButtonConfig[] = [
  simButton({ name: 'shutter', pin: 26, action: 'shutter', longPressAction: 'burst' }),
  simButton({ name: 'power', pin: 3, action: 'none', longPressAction: 'shutdown' }),
];
export const SIM_DEFAULT_LEDS: LedConfig[] = [
  { name: 'ready', pin: 16, role: 'ready', activeLow: false },
  { name: 'capture', pin: 20, role: 'capture', activeLow: false },
  { name: 'error', pin: 21, role: 'error', activeLow: false },
];

export interface GpioComponentOptions {
  config: PinholeConfig;
  handlers: ButtonActionHandlers;
  bus?: EventBus;
  clock?: Clock;
  /** Defaults to process.env (PINHOLE_DEV=1 makes `auto` pick sim off a Pi). */
  env?: NodeJS.ProcessEnv;
  deps?: BackendDeps & {
    hasExecutable?: (name: string) => Promise<boolean>;
    /** config.txt candidates, first existing wins (tests point elsewhere). */
    bootConfigPaths?: string[];
  };
  /** LED state right after start; the composition root then drives it from camera events. */
  initialLedState?: LedState;
}

interface ButtonEntry {
  config: ButtonConfig;
  machine: ButtonMachine;
  /** Present when spikes are filtered in software (the backend cannot). */
  glitch?: GlitchFilter;
  line?: InputLine;
  error?: string;
}

/** Which spike filter guards the buttons, for status: the backend's own, software, or none. */
export interface FilterStatus {
  kind: 'pigpio' | 'debounce-period' | 'software' | 'off';
  us: number;
  detail: string;
}

/** Buttons and status LEDs. A backend that fails to start leaves the daemon running without them. */
export class GpioComponent implements Component {
  readonly name = 'gpio';
  readonly configSections = ['gpio'] as const;
  private cfg: GpioConfig;
  private readonly clock: Clock;
  private backend: GpioBackend = new NoneBackend();
  private selection?: Selection;
  private startError?: string;
  private model?: PiModel;
  private buttons: ButtonEntry[] = [];
  private ledEntries: (Led & { error?: string })[] = [];
  private leds = new LedController([], systemClock);
  private problems: string[] = [];
  /** Things that keep buttons from working though the config is valid (pulls the backend cannot set). */
  private warnings: string[] = [];
  private filter: FilterStatus = { kind: 'off', us: 0, detail: 'not started' };
  private lastAction?: { button: string; gesture: Gesture; action: ButtonAction; at: string };
  private readonly gestureListeners = new Set<(button: string, gesture: Gesture, action: ButtonAction) => void>();

  constructor(private readonly opts: GpioComponentOptions) {
    this.cfg = opts.config.gpio;
    this.clock = opts.clock ?? systemClock;
  }

  async start(): Promise<void> {
    const cfg = this.cfg;
    this.model = await readPiModel(cfg.modelPath);
    this.selection = await chooseBackend(cfg.backend, {
      model: this.model,
      env: this.opts.env ?? process.env,
      hasExecutable: this.opts.deps?.hasExecutable ?? ((n) => hasExecutableOnPath(n)),
    });
    log.info('backend selected', { backend: this.selection.kind, reason: this.selection.reason });
    try {
      this.backend = await createBackend(this.selection.kind, cfg, this.model, this.opts.deps);
    } catch (e) {
      this.startError = errorMessage(e);
      log.error('GPIO backend failed to start; running without buttons', {
        backend: this.selection.kind,
        error: this.startError,
      });
      this.backend = new NoneBackend();
    }

    const sim = this.backend.kind === 'sim';
    const buttons = sim && cfg.buttons.length === 0 ? SIM_DEFAULT_BUTTONS : cfg.buttons;
    const leds = sim && cfg.leds.length === 0 ? SIM_DEFAULT_LEDS : cfg.leds;
    if (buttons !== cfg.buttons)
      log.info('sim: no buttons configured, using the development set', {
        buttons: buttons.map((b) => b.name).join(','),
      });
    this.problems = validateGpioConfig({ ...cfg, buttons, leds });
    for (const p of this.problems) log.error('gpio config problem', { problem: p });
    const problemFor = (kind: string, i: number) => this.problems.find((p) => p.startsWith(`gpio.${kind}.${i}.`));

    this.filter = this.chooseFilter();
    log.info('button spike filter', { ...this.filter });
    this.buttons = buttons.map((config, i) => this.makeButton(config, problemFor('buttons', i)));
    await this.checkPulls(this.buttons.filter((b) => !b.error).map((b) => b.config));
    await Promise.all(this.buttons.filter((b) => !b.error).map((b) => this.openButton(b)));

    this.ledEntries = leds.map((config, i) => ({ config, error: problemFor('leds', i) }));
    await Promise.all(
      this.ledEntries
        .filter((l) => !l.error)
        .map(async (l) => {
          try {
            l.line = await this.backend.openOutput(l.config.pin, l.config.activeLow ? 1 : 0);
          } catch (e) {
            l.error = errorMessage(e);
            log.error('cannot open LED', { led: l.config.name, pin: l.config.pin, error: l.error });
          }
        }),
    );
    this.leds = new LedController(this.ledEntries, this.clock);
    this.setLedState(this.opts.initialLedState ?? 'ready');
  }

  async stop(): Promise<void> {
    this.leds.dispose();
    for (const b of this.buttons) {
      b.glitch?.dispose();
      b.machine.dispose();
    }
    await Promise.all([...this.buttons.map((b) => b.line?.close()), ...this.ledEntries.map((l) => l.line?.close())]);
    await this.backend.close();
    this.buttons = [];
    this.ledEntries = [];
  }

  async reconfigure(next: PinholeConfig, prev: PinholeConfig): Promise<'applied' | 'restart'> {
    const { timerSeconds: _a, burstCount: _b, ...restNext } = next.gpio;
    const { timerSeconds: _c, burstCount: _d, ...restPrev } = prev.gpio;
    if (JSON.stringify(restNext) !== JSON.stringify(restPrev)) return 'restart';
    this.cfg = next.gpio;
    return 'applied';
  }

  /** Driven by the composition root from camera/capture events. */
  setLedState(state: LedState): void {
    if (!LED_STATES.includes(state)) throw new ValidationError(`unknown LED state "${state}"`);
    if (state === this.leds.state && state !== 'off') return;
    this.leds.setState(state);
    this.opts.bus?.emit('gpio.leds', { state });
  }

  get ledState(): LedState {
    return this.leds.state;
  }

  /** The sim backend when it is the one running (tests, bench, web dev panel). */
  get simBackend(): SimBackend | undefined {
    return this.backend instanceof SimBackend ? this.backend : undefined;
  }

  status(): unknown {
    return {
      backend: this.backend.kind,
      requested: this.cfg.backend,
      reason: this.selection?.reason ?? null,
      error: this.startError ?? null,
      model: this.model?.model ?? null,
      details: this.backend.describe?.() ?? {},
      filter: this.filter,
      problems: this.problems,
      warnings: this.warnings,
      buttons: this.buttons.map((b) => ({
        name: b.config.name,
        pin: b.config.pin,
        action: b.config.action,
        longPressAction: b.config.longPressAction,
        doublePressAction: b.config.doublePressAction,
        pressed: b.machine.isPressed,
        ...b.machine.counters,
        filtered: b.glitch?.dropped ?? 0,
        error: b.error ?? null,
      })),
      leds: {
        ...this.leds.status(),
        errors: Object.fromEntries(this.ledEntries.filter((l) => l.error).map((l) => [l.config.name, l.error])),
      },
      lastAction: this.lastAction ?? null,
    };
  }

  controlMethods(): Record<string, ControlHandler> {
    return { 'sim.press': (params) => this.simPress(params) };
  }

  /** Press edge, hold, release edge: through the same debounce and gesture logic as a real contact. */
  async simPress(
    params: Record<string, unknown>,
  ): Promise<{ name: string; holdMs: number; gestures: { gesture: Gesture; action: ButtonAction }[] }> {
    const name = params.name;
    if (typeof name !== 'string' || !name) throw new ValidationError('name: a button name is required');
    const holdMs = params.holdMs ?? DEFAULT_SIM_HOLD_MS;
    if (typeof holdMs !== 'number' || !Number.isInteger(holdMs) || holdMs < 0 || holdMs > MAX_SIM_HOLD_MS) {
      throw new ValidationError(`holdMs: an integer from 0 to ${MAX_SIM_HOLD_MS} is required`);
    }
    const sim = this.simBackend;
    if (!sim)
      throw new ConflictError(
        `sim press needs the sim GPIO backend; this daemon uses "${this.backend.kind}" (set gpio.backend: sim)`,
        'not-sim',
      );
    const entry = this.buttons.find((b) => b.config.name === name);
    if (!entry) {
      throw new NotFoundError(
        `no button named "${name}"; buttons: ${this.buttons.map((b) => b.config.name).join(', ') || 'none'}`,
        'no-such-button',
      );
    }
    if (!entry.line)
      throw new ConflictError(
        `button "${name}" is not available: ${entry.error ?? 'not opened'}`,
        'button-unavailable',
      );
    const { pin, activeLow } = entry.config;
    const gestures: { gesture: Gesture; action: ButtonAction }[] = [];
    const listener = (button: string, gesture: Gesture, action: ButtonAction) => {
      if (button === name) gestures.push({ gesture, action });
    };
    this.gestureListeners.add(listener);
    try {
      sim.setLevel(pin, activeLow ? 0 : 1);
      await new Promise<void>((resolve) => this.clock.setTimeout(resolve, holdMs));
      sim.setLevel(pin, activeLow ? 1 : 0);
    } finally {
      this.gestureListeners.delete(listener);
    }
    return { name, holdMs, gestures };
  }

  private makeButton(config: ButtonConfig, error: string | undefined): ButtonEntry {
    const machine = new ButtonMachine(
      {
        debounceMs: config.debounceMs,
        longPressMs: config.longPressMs,
        doublePressMs: config.doublePressMs,
        hasLong: config.longPressAction !== 'none',
        hasDouble: config.doublePressAction !== 'none',
      },
      this.clock,
      (gesture) => this.onGesture(config, gesture),
    );
    const entry: ButtonEntry = { config, machine, error };
    if (this.filter.kind === 'software') {
      const toMachine = (level: 0 | 1, ts?: number) => machine.edge(config.activeLow ? level === 0 : level === 1, ts);
      entry.glitch = new GlitchFilter(this.filter.us / 1000, this.clock, toMachine, config.activeLow ? 1 : 0);
    }
    return entry;
  }

  /**
   * The backend's own filter when it has one; software when it has none (libgpiod 1.6, onoff); none for the sim
   * and none backends, whose edges come from a program rather than a contact.
   */
  private chooseFilter(): FilterStatus {
    const us = this.cfg.glitchFilterUs;
    const b = this.backend;
    if (us === 0) return { kind: 'off', us, detail: 'gpio.glitchFilterUs is 0' };
    if (b.kind === 'sim' || b.kind === 'none')
      return { kind: 'off', us, detail: `${b.kind} backend: edges come from software, not a contact` };
    if (b.nativeFilter === 'pigpio') return { kind: 'pigpio', us, detail: `pigpio glitchFilter(${us})` };
    if (b.nativeFilter === 'debounce-period') {
      const version = b.describe?.().libgpiod;
      return {
        kind: 'debounce-period',
        us,
        detail: `gpiomon --debounce-period ${us}us (libgpiod ${version}, in the kernel)`,
      };
    }
    if (b.kind === 'gpiod') {
      const version = b.describe?.().libgpiod;
      return {
        kind: 'software',
        us,
        detail: `in software from gpiomon's event timestamps (libgpiod ${version} has no debounce option)`,
      };
    }
    return { kind: 'software', us, detail: `in software from edge arrival times (${b.kind} has no spike filter)` };
  }

  /** A backend that cannot set pulls leaves the boot pull: say loudly when that makes a button dead. */
  private async checkPulls(buttons: ButtonConfig[]): Promise<void> {
    this.warnings = [];
    if (this.backend.setsPulls !== false || buttons.length === 0) return;
    const boot = await readBootConfig(this.opts.deps?.bootConfigPaths ?? BOOT_CONFIG_PATHS);
    for (const p of pullProblems(buttons, boot)) {
      this.warnings.push(p.message);
      log.warn(p.message, { button: p.button, pin: p.pin, configTxt: p.line });
    }
  }

  private async openButton(entry: ButtonEntry): Promise<void> {
    const { config, glitch, machine } = entry;
    try {
      entry.line = await this.backend.openInput(config.pin, {
        pull: config.pull,
        glitchFilterUs: this.cfg.glitchFilterUs,
        onEdge: glitch
          ? (level, ts) => glitch.edge(level, ts)
          : (level, ts) => machine.edge(config.activeLow ? level === 0 : level === 1, ts),
      });
    } catch (e) {
      entry.error = errorMessage(e);
      log.error('cannot open button', { button: config.name, pin: config.pin, error: entry.error });
    }
  }

  private onGesture(config: ButtonConfig, gesture: Gesture): void {
    const action = actionFor(config, gesture);
    this.lastAction = { button: config.name, gesture, action, at: new Date().toISOString() };
    this.opts.bus?.emit('gpio.button', { name: config.name, gesture, action });
    for (const l of this.gestureListeners) l(config.name, gesture, action);
    const ctx: ActionContext = {
      handlers: this.opts.handlers,
      timerSeconds: this.cfg.timerSeconds,
      burstCount: this.cfg.burstCount,
      allowPoweroff: this.backend.kind !== 'sim' && this.backend.kind !== 'none' && this.model?.isPi === true,
      log,
    };
    dispatchAction(action, ctx, config.name);
  }
}

import type { LedConfig } from '../../config/sections/gpio.js';
import type { OutputLine } from './backend.js';
import type { Clock } from './clock.js';

export type LedState = 'ready' | 'capturing' | 'busy' | 'error' | 'off';
export const LED_STATES: readonly LedState[] = ['ready', 'capturing', 'busy', 'error', 'off'];
export type LedPattern = 'off' | 'on' | 'blink' | 'blink-fast' | 'blink-slow';
type LedRole = LedConfig['role'];

/** Half-periods: capture 2 Hz, error 5 Hz, busy ~0.8 Hz: distinguishable at a glance. */
export const BLINK_HALF_PERIOD_MS: Record<Exclude<LedPattern, 'off' | 'on'>, number> = {
  blink: 250,
  'blink-fast': 100,
  'blink-slow': 600,
};

const SHOWN_BY: Record<Exclude<LedState, 'off'>, { role: LedRole; pattern: LedPattern }> = {
  ready: { role: 'ready', pattern: 'on' },
  capturing: { role: 'capture', pattern: 'blink' },
  busy: { role: 'capture', pattern: 'blink-slow' },
  error: { role: 'error', pattern: 'blink-fast' },
};

export interface Led {
  config: LedConfig;
  /** Absent when the line failed to open; the LED is then shown in status but never driven. */
  line?: OutputLine;
}

export interface LedStatus {
  name: string;
  pin: number;
  role: LedRole;
  pattern: LedPattern;
  lit: boolean;
}

/**
 * Drives the status LEDs from one state. Each state lights one LED: the one with the matching role, else the
 * `ready` LED, else the first LED, so a camera with a single LED still shows every state by its pattern.
 */
export class LedController {
  private current: LedState = 'off';
  private readonly patterns = new Map<Led, LedPattern>();
  private readonly lit = new Map<Led, boolean>();
  private blinkTimer: unknown;

  constructor(
    private readonly leds: Led[],
    private readonly clock: Clock,
  ) {
    for (const led of leds) {
      this.patterns.set(led, 'off');
      this.lit.set(led, false);
    }
  }

  get state(): LedState {
    return this.current;
  }

  setState(state: LedState): void {
    this.current = state;
    const target = state === 'off' ? undefined : this.ledFor(SHOWN_BY[state].role);
    const pattern = state === 'off' ? 'off' : SHOWN_BY[state].pattern;
    this.stopBlink();
    for (const led of this.leds) {
      const p: LedPattern = led === target ? pattern : 'off';
      this.patterns.set(led, p);
      this.drive(led, p !== 'off');
    }
    if (target && pattern !== 'on' && pattern !== 'off') this.startBlink(target, BLINK_HALF_PERIOD_MS[pattern]);
  }

  status(): { state: LedState; leds: LedStatus[] } {
    return {
      state: this.current,
      leds: this.leds.map((led) => ({
        name: led.config.name,
        pin: led.config.pin,
        role: led.config.role,
        pattern: this.patterns.get(led) ?? 'off',
        lit: this.lit.get(led) ?? false,
      })),
    };
  }

  /** Everything off and no timer left: for shutdown. */
  dispose(): void {
    this.setState('off');
  }

  private ledFor(role: LedRole): Led | undefined {
    return (
      this.leds.find((l) => l.config.role === role) ?? this.leds.find((l) => l.config.role === 'ready') ?? this.leds[0]
    );
  }

  private drive(led: Led, on: boolean): void {
    this.lit.set(led, on);
    const high = on !== led.config.activeLow;
    led.line?.write(high ? 1 : 0);
  }

  private startBlink(led: Led, halfPeriodMs: number): void {
    const tick = () => {
      this.drive(led, !this.lit.get(led));
      this.blinkTimer = this.clock.setTimeout(tick, halfPeriodMs);
    };
    this.blinkTimer = this.clock.setTimeout(tick, halfPeriodMs);
  }

  private stopBlink(): void {
    if (this.blinkTimer !== undefined) this.clock.clearTimeout(this.blinkTimer);
    this.blinkTimer = undefined;
  }
}

import type { Clock } from './clock.js';

export type Gesture = 'short' | 'long' | 'double';

/** Edge timestamps are in milliseconds; an edge up to this much older than the newest one is stale. */
export const STALE_WINDOW_MS = 1000;

export interface ButtonTiming {
  /** After an accepted change, further edges are ignored for this long; the level is re-checked at its end. */
  debounceMs: number;
  longPressMs: number;
  doublePressMs: number;
  /** A long-press action is configured: a short press is then only known on release. */
  hasLong: boolean;
  /** A double-press action is configured: a single press is then only known when the window closes. */
  hasDouble: boolean;
}

export interface ButtonCounters {
  edges: number;
  presses: number;
  /** Edges swallowed by the debounce lockout (contact chatter). */
  chatter: number;
  /** Edges older than one already seen (out of order), dropped. */
  stale: number;
}

/**
 * Pure press logic for one button: debounce, short/long/double gestures. No timers of its own beyond the
 * injected clock.
 *
 * Debounce is "act on the first edge, then lock out": a press after a quiet period is accepted at once (zero
 * added shutter lag), edges during the next `debounceMs` only update the raw level, and when the lockout ends
 * the raw level is compared with the accepted one. A bouncing contact therefore yields exactly one press and one
 * release; a spike shorter than gpio.glitchFilterUs never reaches us (pigpio, the kernel or GlitchFilter drop it).
 *
 * With no long or double action configured the short gesture fires on the debounced press edge; otherwise on
 * release (long configured) or when the double-press window closes (double configured). A held button fires
 * once: nothing repeats until it has been released.
 */
export class ButtonMachine {
  private raw = false;
  private pressed = false;
  private lastTs = Number.NEGATIVE_INFINITY;
  private lockTimer: unknown;
  private longTimer: unknown;
  private doubleTimer: unknown;
  /** The current press already produced its gesture (fired on press, long fired, or second of a double). */
  private consumed = false;
  private pendingSingle = false;
  readonly counters: ButtonCounters = { edges: 0, presses: 0, chatter: 0, stale: 0 };

  constructor(
    private readonly timing: ButtonTiming,
    private readonly clock: Clock,
    private readonly onGesture: (g: Gesture) => void,
  ) {}

  get isPressed(): boolean {
    return this.pressed;
  }

  /** One edge from the backend: `pressed` is the new logical state (active-low already applied). */
  edge(pressed: boolean, ts?: number): void {
    this.counters.edges++;
    if (ts !== undefined) {
      // A jump back of more than a second is a clock reset (or a restarted monitor), not a late edge.
      if (ts < this.lastTs && this.lastTs - ts <= STALE_WINDOW_MS) {
        this.counters.stale++;
        return;
      }
      this.lastTs = ts;
    }
    this.raw = pressed;
    if (this.lockTimer !== undefined) {
      this.counters.chatter++;
      return;
    }
    if (pressed === this.pressed) return; // duplicate edge
    this.accept(pressed);
  }

  /** Cancels pending timers; no gesture fires afterwards. */
  dispose(): void {
    for (const t of [this.lockTimer, this.longTimer, this.doubleTimer]) if (t !== undefined) this.clock.clearTimeout(t);
    this.lockTimer = this.longTimer = this.doubleTimer = undefined;
    this.pendingSingle = false;
  }

  private accept(pressed: boolean): void {
    this.pressed = pressed;
    if (this.timing.debounceMs > 0) {
      this.lockTimer = this.clock.setTimeout(() => {
        this.lockTimer = undefined;
        if (this.raw !== this.pressed) this.accept(this.raw);
      }, this.timing.debounceMs);
    }
    if (pressed) this.onPress();
    else this.onRelease();
  }

  private onPress(): void {
    this.counters.presses++;
    if (this.pendingSingle) {
      this.clear('doubleTimer');
      this.pendingSingle = false;
      this.consumed = true;
      this.onGesture('double');
      return;
    }
    this.consumed = false;
    if (!this.timing.hasLong && !this.timing.hasDouble) {
      this.consumed = true;
      this.onGesture('short');
      return;
    }
    if (this.timing.hasLong) {
      this.longTimer = this.clock.setTimeout(() => {
        this.longTimer = undefined;
        if (!this.pressed || this.consumed) return;
        this.consumed = true;
        this.onGesture('long');
      }, this.timing.longPressMs);
    }
  }

  private onRelease(): void {
    this.clear('longTimer');
    if (this.consumed) {
      this.consumed = false;
      return;
    }
    if (this.timing.hasDouble) {
      this.pendingSingle = true;
      this.doubleTimer = this.clock.setTimeout(() => {
        this.doubleTimer = undefined;
        this.pendingSingle = false;
        this.onGesture('short');
      }, this.timing.doublePressMs);
      return;
    }
    this.onGesture('short');
  }

  private clear(which: 'longTimer' | 'doubleTimer'): void {
    if (this[which] !== undefined) this.clock.clearTimeout(this[which]);
    this[which] = undefined;
  }
}

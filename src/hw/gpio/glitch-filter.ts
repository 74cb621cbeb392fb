import type { Level } from './backend.js';
import type { Clock } from './clock.js';

/**
 * Spike filter in software, for backends whose tool cannot filter (libgpiod 1.6's gpiomon has no debounce option;
 * onoff's is a delay, not a filter): a level is passed on only once it has been stable for `periodMs`, the rule the
 * kernel applies for libgpiod 2's `--debounce-period` (gpiolib-cdev.c, debounce_work_func). A pulse shorter than
 * the period, such as a spike induced on a long button wire, therefore never reaches the button logic.
 *
 * Stability is judged on the events' own timestamps when the backend has them (gpiomon prints the kernel's), so a
 * spike whose two edges arrive together in one pipe read is recognised however late they arrive. Without
 * timestamps (onoff), arrival time stands in. A change with no later edge is passed on when a timer of `periodMs`
 * expires after its arrival; so an edge whose partner is delivered more than the period later (a stalled tool)
 * cannot be recognised as a spike.
 */
export class GlitchFilter {
  /** The level last passed on; unknown until the first change. */
  private stable?: Level;
  private pending?: { level: Level; at: number; ts?: number; timer: unknown };
  /** Changes dropped because the level did not stay for the period. */
  dropped = 0;

  constructor(
    private readonly periodMs: number,
    private readonly clock: Clock,
    private readonly out: (level: Level, ts?: number) => void,
    /** The line's idle level (what its pull gives an open contact), so a spike from rest is dropped whole. */
    initial?: Level,
  ) {
    this.stable = initial;
  }

  edge(level: Level, ts?: number): void {
    const at = ts ?? this.clock.now();
    const p = this.pending;
    if (p) {
      if (at - p.at >= this.periodMs) {
        // The pending level lasted the period (its timer is just late): it stands.
        this.flush();
      } else {
        this.clock.clearTimeout(p.timer);
        this.pending = undefined;
        if (level !== p.level) this.dropped++;
      }
    }
    if (level === this.stable) return;
    this.pending = { level, at, ts, timer: this.clock.setTimeout(() => this.flush(), this.periodMs) };
  }

  dispose(): void {
    if (this.pending) this.clock.clearTimeout(this.pending.timer);
    this.pending = undefined;
  }

  private flush(): void {
    const p = this.pending;
    if (!p) return;
    this.clock.clearTimeout(p.timer);
    this.pending = undefined;
    this.stable = p.level;
    this.out(p.level, p.ts);
  }
}

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ButtonMachine, type ButtonTiming, type Gesture } from '../../../src/hw/gpio/button.js';
import { systemClock } from '../../../src/hw/gpio/clock.js';

const base: ButtonTiming = { debounceMs: 30, longPressMs: 1000, doublePressMs: 300, hasLong: false, hasDouble: false };

function make(timing: Partial<ButtonTiming> = {}) {
  const gestures: { g: Gesture; at: number }[] = [];
  const t0 = Date.now();
  const m = new ButtonMachine({ ...base, ...timing }, systemClock, (g) => gestures.push({ g, at: Date.now() - t0 }));
  return { m, gestures, names: () => gestures.map((x) => x.g) };
}

/** Advances fake time; `edges` are [atMs (relative to now), pressed]. */
async function play(m: ButtonMachine, edges: [number, boolean][]) {
  let t = 0;
  for (const [at, pressed] of edges) {
    await vi.advanceTimersByTimeAsync(at - t);
    t = at;
    m.edge(pressed);
  }
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('short press with no long/double action', () => {
  it('fires on the press edge itself, before release (no added shutter lag)', () => {
    const { m, gestures } = make();
    m.edge(true);
    expect(gestures).toEqual([{ g: 'short', at: 0 }]);
    expect(m.isPressed).toBe(true);
  });

  it('a held button fires once and never repeats', async () => {
    const { m, names } = make();
    m.edge(true);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(names()).toEqual(['short']);
    m.edge(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(names()).toEqual(['short']);
  });

  it('press chatter (several edges within a few ms) gives exactly one shot, and the release is still seen', async () => {
    const { m, names } = make();
    await play(m, [
      [0, true],
      [1, false],
      [2, true],
      [4, false],
      [5, true],
      [7, false],
      [8, true],
    ]);
    expect(names()).toEqual(['short']);
    expect(m.counters.chatter).toBe(6);
    await vi.advanceTimersByTimeAsync(200);
    expect(m.isPressed).toBe(true);
    // Release bounce.
    await play(m, [
      [0, false],
      [2, true],
      [3, false],
      [6, true],
      [9, false],
    ]);
    await vi.advanceTimersByTimeAsync(100);
    expect(m.isPressed).toBe(false);
    expect(names()).toEqual(['short']);
    // The next real press is a new shot.
    m.edge(true);
    expect(names()).toEqual(['short', 'short']);
  });

  it('release bounce that ends "pressed" keeps the button pressed until it really lets go', async () => {
    const { m, names } = make();
    m.edge(true);
    await vi.advanceTimersByTimeAsync(100);
    m.edge(false); // accepted release, lockout starts
    await vi.advanceTimersByTimeAsync(5);
    m.edge(true); // chatter: contact closed again and stays
    await vi.advanceTimersByTimeAsync(30);
    // At the end of the lockout the level says pressed again: that is a new press (the contact really closed).
    expect(m.isPressed).toBe(true);
    expect(names()).toEqual(['short', 'short']);
  });

  it('a press that ends inside the lockout is released when the lockout ends', async () => {
    const { m } = make();
    m.edge(true);
    await vi.advanceTimersByTimeAsync(10);
    m.edge(false);
    expect(m.isPressed).toBe(true);
    await vi.advanceTimersByTimeAsync(20);
    expect(m.isPressed).toBe(false);
  });

  it('duplicate edges are ignored', async () => {
    const { m, names } = make();
    m.edge(true);
    await vi.advanceTimersByTimeAsync(50);
    m.edge(true);
    m.edge(true);
    await vi.advanceTimersByTimeAsync(50);
    m.edge(false);
    m.edge(false);
    await vi.advanceTimersByTimeAsync(50);
    expect(names()).toEqual(['short']);
    expect(m.counters.presses).toBe(1);
  });

  it('a release with no press before it does nothing', async () => {
    const { m, names } = make();
    m.edge(false);
    await vi.advanceTimersByTimeAsync(100);
    expect(names()).toEqual([]);
  });

  it('debounceMs 0 accepts every change', () => {
    const { m, names } = make({ debounceMs: 0 });
    m.edge(true);
    m.edge(false);
    m.edge(true);
    expect(names()).toEqual(['short', 'short']);
  });
});

describe('edges out of order', () => {
  it('drops an edge older than one already seen', async () => {
    const { m, names } = make();
    m.edge(true, 1000);
    await vi.advanceTimersByTimeAsync(100);
    m.edge(false, 990); // late delivery of an older bounce
    await vi.advanceTimersByTimeAsync(100);
    expect(m.isPressed).toBe(true);
    expect(m.counters.stale).toBe(1);
    m.edge(false, 1200);
    await vi.advanceTimersByTimeAsync(100);
    expect(m.isPressed).toBe(false);
    expect(names()).toEqual(['short']);
  });

  it('release delivered before its press ends released, with no phantom shot', async () => {
    const { m, names } = make();
    m.edge(true, 100);
    await vi.advanceTimersByTimeAsync(100);
    // Real order: press@200, release@300; delivered release first.
    m.edge(false, 300);
    m.edge(true, 200);
    await vi.advanceTimersByTimeAsync(100);
    expect(m.isPressed).toBe(false);
    expect(names()).toEqual(['short']);
    expect(m.counters.stale).toBe(1);
  });

  it('treats a jump back of more than a second as a clock reset, not a stale edge', async () => {
    const { m, names } = make();
    m.edge(true, 50_000);
    await vi.advanceTimersByTimeAsync(100);
    m.edge(false, 50_100);
    await vi.advanceTimersByTimeAsync(100);
    m.edge(true, 10); // monitor restarted or clock stepped
    expect(names()).toEqual(['short', 'short']);
  });
});

describe('long press', () => {
  it('short press fires on release when a long action exists', async () => {
    const { m, gestures } = make({ hasLong: true });
    m.edge(true);
    await vi.advanceTimersByTimeAsync(200);
    expect(gestures).toEqual([]);
    m.edge(false);
    expect(gestures).toEqual([{ g: 'short', at: 200 }]);
  });

  it('long fires once at longPressMs while held, and the release does not add a short', async () => {
    const { m, gestures } = make({ hasLong: true });
    m.edge(true);
    await vi.advanceTimersByTimeAsync(999);
    expect(gestures).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(gestures).toEqual([{ g: 'long', at: 1000 }]);
    await vi.advanceTimersByTimeAsync(5000);
    m.edge(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(gestures.map((x) => x.g)).toEqual(['long']);
  });

  it('a mid-hold wobble longer than the glitch filter splits the hold, and still yields one long press', async () => {
    const { m, names } = make({ hasLong: true });
    m.edge(true);
    await vi.advanceTimersByTimeAsync(500);
    // A wobbly contact mid-hold: edges within a few ms, ending pressed.
    m.edge(false);
    await vi.advanceTimersByTimeAsync(2);
    m.edge(true);
    await vi.advanceTimersByTimeAsync(2);
    m.edge(false);
    await vi.advanceTimersByTimeAsync(2);
    m.edge(true);
    // Lockout ends at 530 with the contact closed: a new press, whose long press is due at 1530.
    await vi.advanceTimersByTimeAsync(1020);
    expect(names()).toEqual(['short']);
    await vi.advanceTimersByTimeAsync(10);
    // The first accepted release ended the press (short); the contact closed again and was held: one long.
    expect(names()).toEqual(['short', 'long']);
    await vi.advanceTimersByTimeAsync(5000);
    expect(names()).toEqual(['short', 'long']);
  });
});

describe('double press', () => {
  it('two quick presses are one double, no single', async () => {
    const { m, names } = make({ hasDouble: true });
    await play(m, [
      [0, true],
      [80, false],
      [200, true],
      [280, false],
    ]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(names()).toEqual(['double']);
  });

  it('a single press fires when the double window closes', async () => {
    const { m, gestures } = make({ hasDouble: true });
    await play(m, [
      [0, true],
      [80, false],
    ]);
    await vi.advanceTimersByTimeAsync(299);
    expect(gestures).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(gestures).toEqual([{ g: 'short', at: 380 }]);
  });

  it('presses further apart than the window are two singles', async () => {
    const { m, names } = make({ hasDouble: true });
    await play(m, [
      [0, true],
      [50, false],
      [500, true],
      [550, false],
    ]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(names()).toEqual(['short', 'short']);
  });

  it('bounce on release is not mistaken for a double press', async () => {
    const { m, names } = make({ hasDouble: true });
    await play(m, [
      [0, true],
      [100, false],
      [103, true],
      [105, false],
      [109, true],
      [111, false],
    ]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(names()).toEqual(['short']);
  });

  it('with long and double both configured, all three gestures are told apart', async () => {
    const { m, names } = make({ hasDouble: true, hasLong: true });
    await play(m, [
      [0, true],
      [100, false],
    ]);
    await vi.advanceTimersByTimeAsync(1000);
    await play(m, [
      [0, true],
      [1500, false],
    ]);
    await vi.advanceTimersByTimeAsync(1000);
    await play(m, [
      [0, true],
      [60, false],
      [150, true],
      [220, false],
    ]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(names()).toEqual(['short', 'long', 'double']);
  });
});

describe('dispose', () => {
  it('cancels pending long and double timers', async () => {
    const { m, names } = make({ hasDouble: true, hasLong: true });
    m.edge(true);
    m.dispose();
    await vi.advanceTimersByTimeAsync(5000);
    expect(names()).toEqual([]);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Level } from '../../../src/hw/gpio/backend.js';
import { systemClock } from '../../../src/hw/gpio/clock.js';
import { GlitchFilter } from '../../../src/hw/gpio/glitch-filter.js';

let out: { level: Level; ts?: number }[];
const make = (periodMs = 2, initial: Level | undefined = 1) =>
  new GlitchFilter(periodMs, systemClock, (level, ts) => out.push({ level, ts }), initial);

beforeEach(() => {
  vi.useFakeTimers();
  out = [];
});
afterEach(() => vi.useRealTimers());

describe('software spike filter (level stable for the period)', () => {
  it('drops a spike shorter than the period, judged on the event timestamps', async () => {
    const f = make(2);
    // Both edges of a 0.5 ms spike, delivered together long after they happened.
    f.edge(0, 1000.0);
    f.edge(1, 1000.5);
    await vi.advanceTimersByTimeAsync(50);
    expect(out).toEqual([]);
    expect(f.dropped).toBe(1);
  });

  it('passes a press once it has been stable for the period, with its own timestamp', async () => {
    const f = make(2);
    f.edge(0, 1000);
    await vi.advanceTimersByTimeAsync(1);
    expect(out).toEqual([]); // not yet stable
    await vi.advanceTimersByTimeAsync(1);
    expect(out).toEqual([{ level: 0, ts: 1000 }]);
  });

  it('a bouncing contact yields one change, after the last bounce has settled', async () => {
    const f = make(2);
    for (const [level, ts] of [
      [0, 0],
      [1, 0.3],
      [0, 0.5],
      [1, 0.9],
      [0, 1.2],
    ] as const)
      f.edge(level, ts);
    await vi.advanceTimersByTimeAsync(5);
    expect(out).toEqual([{ level: 0, ts: 1.2 }]);
    expect(f.dropped).toBe(2); // two short lows that did not last
  });

  it('a level that lasted the period stands even when its timer is late: the next edge proves it', () => {
    const f = make(2);
    f.edge(0, 1000);
    f.edge(1, 1100); // 100 ms later by the kernel's clock, delivered before any timer ran
    expect(out).toEqual([{ level: 0, ts: 1000 }]);
  });

  it('without timestamps (onoff), arrival time decides', async () => {
    const f = make(2);
    f.edge(0);
    await vi.advanceTimersByTimeAsync(1);
    f.edge(1); // 1 ms later: a spike
    await vi.advanceTimersByTimeAsync(10);
    expect(out).toEqual([]);
    f.edge(0);
    await vi.advanceTimersByTimeAsync(2);
    expect(out).toEqual([{ level: 0, ts: undefined }]);
  });

  it('repeats of the stable level pass nothing; dispose cancels a pending change', async () => {
    const f = make(2);
    f.edge(1, 5);
    f.edge(0, 10);
    f.dispose();
    await vi.advanceTimersByTimeAsync(10);
    expect(out).toEqual([]);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  GestureShutter,
  type PoseObservation,
  RaisedHandTimer,
  startLivePoses,
} from '../../src/capture/gesture-shutter.js';
import { CaptureModes, type ModeState } from '../../src/capture/modes.js';
import { configureLogging } from '../../src/util/logger.js';

configureLogging({ level: 'silent' });

const cfg = { holdMs: 500, timerSeconds: 3, fps: 4, timeoutMs: 20_000 };

describe('RaisedHandTimer (pure decision)', () => {
  const seq = (t: RaisedHandTimer, obs: [number, boolean | undefined][]) =>
    obs.map(([at, raised]) => t.push({ at, raised }));

  it('fires once the hand has been up for holdMs, at 4 poses a second', () => {
    const t = new RaisedHandTimer(() => 500);
    expect(
      seq(t, [
        [0, false],
        [250, true],
        [500, true],
        [750, true],
      ]),
    ).toEqual([false, false, false, true]);
  });

  it('a hand lowered (or the person lost) in between starts again', () => {
    const t = new RaisedHandTimer(() => 500);
    expect(
      seq(t, [
        [0, true],
        [250, true],
        [500, false],
        [750, true],
        [1000, undefined],
        [1250, true],
        [1500, true],
        [1750, true],
      ]),
    ).toEqual([false, false, false, false, false, false, false, true]);
  });

  it('a slow pose rate still fires after holdMs, never before', () => {
    const t = new RaisedHandTimer(() => 500);
    expect(
      seq(t, [
        [0, true],
        [499, true],
        [1000, true],
      ]),
    ).toEqual([false, false, true]);
    expect(t.heldFor(1000)).toBe(1000);
  });
});

/** A pose source pushed by hand, like the real one wired to MoveNet. */
class FakePoses {
  active = 0;
  private cb?: (p: PoseObservation) => void;
  push(at: number, raised: boolean | undefined): void {
    this.cb?.({ at, raised });
  }
  start = (cb: (p: PoseObservation) => void) => {
    this.active++;
    this.cb = cb;
    return () => {
      this.active--;
      this.cb = undefined;
    };
  };
}

describe('gesture shutter armed through CaptureModes (fake pose source)', () => {
  let poses: FakePoses;
  let states: ModeState[];
  let shots: number;
  let modes: CaptureModes;
  beforeEach(() => {
    vi.useFakeTimers();
    poses = new FakePoses();
    states = [];
    shots = 0;
    modes = new CaptureModes({
      modes: [new GestureShutter({ config: () => cfg, startPoses: poses.start })],
      capture: async () => {
        shots++;
        return { id: 'p00000007-00000000' };
      },
      emit: (s) => states.push(s),
    });
  });
  afterEach(() => vi.useRealTimers());

  it('a raised hand held 0.5 s starts a 3 s countdown the viewfinder shows, then one photo', async () => {
    modes.arm('gesture-shutter', 'button');
    poses.push(0, false);
    poses.push(250, true);
    expect(states.at(-1)?.handRaised).toBe(true);
    poses.push(500, true);
    expect(modes.status().state).toBe('armed');
    poses.push(750, true);
    expect(poses.active).toBe(0); // pose estimation stops once the gesture is seen
    expect(modes.status()).toMatchObject({ state: 'countdown', countdown: 3 });
    vi.advanceTimersByTime(1000);
    expect(modes.status().countdown).toBe(2);
    vi.advanceTimersByTime(1000);
    expect(modes.status().countdown).toBe(1);
    expect(shots).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(shots).toBe(1);
    await vi.runAllTimersAsync();
    expect(modes.status()).toMatchObject({ state: 'idle', photoId: 'p00000007-00000000' });
    expect(states.map((s) => s.countdown).filter((c) => c !== undefined)).toEqual([3, 2, 1]);
  });

  it('the countdown is not cut short by the arming timeout', async () => {
    modes.arm('gesture-shutter', 'web');
    vi.advanceTimersByTime(cfg.timeoutMs - 600);
    poses.push(0, true);
    poses.push(500, true);
    vi.advanceTimersByTime(3000);
    expect(shots).toBe(1);
  });

  it('disarms after its timeout and says whether anybody was seen', () => {
    modes.arm('gesture-shutter', 'web');
    vi.advanceTimersByTime(cfg.timeoutMs);
    expect(modes.status().message).toBe('Gesture shutter disarmed after 20 s: nobody seen');
    modes.arm('gesture-shutter', 'web');
    poses.push(0, false);
    vi.advanceTimersByTime(cfg.timeoutMs);
    expect(modes.status().message).toBe('Gesture shutter disarmed after 20 s: no raised hand seen');
    expect(shots).toBe(0);
    expect(poses.active).toBe(0);
  });

  it('cancelling during the countdown takes no photo', () => {
    modes.arm('gesture-shutter', 'web');
    poses.push(0, true);
    poses.push(600, true);
    expect(modes.status().state).toBe('countdown');
    modes.disarm('cancelled');
    vi.advanceTimersByTime(5000);
    expect(shots).toBe(0);
    expect(modes.status().message).toBe('Gesture shutter cancelled');
  });
});

describe('startLivePoses', () => {
  it('runs at most fps estimates a second, one at a time, dropping frames meanwhile', async () => {
    let clock = 0;
    let subscriber: ((jpeg: Buffer, at: number) => void) | undefined;
    let inFlight = 0;
    let maxInFlight = 0;
    let calls = 0;
    const release: (() => void)[] = [];
    const seen: PoseObservation[] = [];
    const stop = startLivePoses(
      {
        subscribe: (cb) => {
          subscriber = cb;
          return () => {
            subscriber = undefined;
          };
        },
        estimate: () => {
          calls++;
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          return new Promise((r) =>
            release.push(() => {
              inFlight--;
              r(true);
            }),
          );
        },
        fps: () => 4,
        now: () => clock,
      },
      (p) => seen.push(p),
    );
    const jpeg = Buffer.alloc(1);
    // 30 frames a second for 2 s; each estimate takes 100 ms
    for (let i = 0; i < 60; i++) {
      clock = (i * 1000) / 30;
      subscriber?.(jpeg, clock);
      if (i % 3 === 2) {
        for (const r of release.splice(0)) r();
        await Promise.resolve();
        await Promise.resolve();
      }
    }
    expect(maxInFlight).toBe(1);
    expect(calls).toBeGreaterThanOrEqual(7);
    expect(calls).toBeLessThanOrEqual(8);
    expect(seen.every((p) => p.raised === true)).toBe(true);
    stop();
    expect(subscriber).toBeUndefined();
  });
});

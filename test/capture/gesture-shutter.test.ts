import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KEYPOINT_NAMES, type Pose } from '../../src/analysis/types.js';
import {
  GestureShutter,
  handRaisedOrNobody,
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

/**
 * A person facing the camera in a 640×480 frame (image y grows downwards), keypoints as MoveNet reports them; the
 * subject's right wrist at `rightWristY`.
 */
function person(rightWristY: number, opts: { score?: number; wristScore?: number } = {}): Pose {
  const at: Record<string, [number, number]> = {
    nose: [320, 120],
    left_eye: [335, 110],
    right_eye: [305, 110],
    left_ear: [350, 115],
    right_ear: [290, 115],
    left_shoulder: [380, 200],
    right_shoulder: [260, 200],
    left_elbow: [400, 280],
    right_elbow: [240, rightWristY < 200 ? 190 : 280],
    left_wrist: [405, 350],
    right_wrist: [235, rightWristY],
    left_hip: [360, 380],
    right_hip: [280, 380],
    left_knee: [360, 460],
    right_knee: [280, 460],
    left_ankle: [360, 479],
    right_ankle: [280, 479],
  };
  return {
    width: 640,
    height: 480,
    keypoints: KEYPOINT_NAMES.map((name) => ({
      name,
      x: at[name][0],
      y: at[name][1],
      score: name === 'right_wrist' ? (opts.wristScore ?? opts.score ?? 0.8) : (opts.score ?? 0.8),
    })),
  };
}

describe('the gesture on keypoint sequences (pure)', () => {
  it('one pose: raised, not raised, unsure wrist, nobody', () => {
    expect(handRaisedOrNobody(person(150))).toBe(true);
    expect(handRaisedOrNobody(person(350))).toBe(false);
    expect(handRaisedOrNobody(person(150, { wristScore: 0.2 }))).toBe(false);
    expect(handRaisedOrNobody(person(150, { score: 0.05 }))).toBeUndefined();
  });

  it('a hand rising and held above the shoulder fires after 0.5 s; a wave going past does not', () => {
    const run = (wristYs: number[], everyMs: number) => {
      const t = new RaisedHandTimer(() => 500);
      return wristYs.findIndex((y, i) => t.push({ at: i * everyMs, raised: handRaisedOrNobody(person(y)) }));
    };
    // 4 poses a second: hand down, rising, then above the shoulder from the 4th pose (t=750 ms) on
    expect(run([350, 300, 230, 160, 150, 150, 150, 150], 250)).toBe(5); // up at 750 ms, held 500 ms → the pose at 1250 ms
    // a wave: up for two poses (250 ms), down, up again briefly
    expect(run([350, 150, 150, 350, 150, 350, 350, 150], 250)).toBe(-1);
    // the wrist lost for one pose (score drops) counts as down: the hold starts again
    const t = new RaisedHandTimer(() => 500);
    const seq = [person(150), person(150), person(150, { wristScore: 0.1 }), person(150), person(150), person(150)];
    expect(seq.map((p, i) => t.push({ at: i * 250, raised: handRaisedOrNobody(p) }))).toEqual([
      false,
      false,
      false,
      false,
      false,
      true,
    ]);
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

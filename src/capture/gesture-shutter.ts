import { isHandRaised, KEYPOINT_MIN_SCORE } from '../analysis/pose.js';
import type { Pose } from '../analysis/types.js';
import type { GestureConfig } from '../config/sections/capture-modes.js';
import type { ArmedMode, ModeContext } from './modes.js';

/** One pose estimate of a preview frame: whether a hand is raised above the shoulder. */
export interface PoseObservation {
  /** ms on one monotonic clock (performance.now() of the frame). */
  at: number;
  /** undefined: no person found in the frame. */
  raised: boolean | undefined;
}

/**
 * One pose as the gesture needs it (pure). MoveNet always answers with 17 keypoints, person or not: somebody is
 * there when a shoulder is seen (score above KEYPOINT_MIN_SCORE); then, is a wrist above its shoulder?
 */
export function handRaisedOrNobody(pose: Pose): boolean | undefined {
  const seen = (n: string) => (pose.keypoints.find((k) => k.name === n)?.score ?? 0) > KEYPOINT_MIN_SCORE;
  if (!seen('left_shoulder') && !seen('right_shoulder')) return undefined;
  return isHandRaised(pose);
}

/**
 * The gesture's decision, pure: a hand seen raised in every pose estimate from `since` on fires once it has been
 * up for `holdMs`. A frame with the hand down or no person starts again, so a wave going past does not count.
 */
export class RaisedHandTimer {
  private since?: number;

  constructor(private readonly holdMs: () => number) {}

  push(p: PoseObservation): boolean {
    if (p.raised !== true) {
      this.since = undefined;
      return false;
    }
    this.since ??= p.at;
    return p.at - this.since >= this.holdMs();
  }

  /** How long the hand has been up (ms), 0 when it is down. */
  heldFor(now: number): number {
    return this.since === undefined ? 0 : now - this.since;
  }

  reset(): void {
    this.since = undefined;
  }
}

export interface GestureShutterDeps {
  config: () => GestureConfig;
  /**
   * Starts pose estimation on preview frames at `config().fps` (keeping the preview running) and calls back for
   * each estimate; returns the off switch. Throws when the pose model is unavailable.
   */
  startPoses: (onPose: (p: PoseObservation) => void) => () => void;
}

/** The gesture shutter: a raised hand held for holdMs starts the self-timer; the viewfinder counts down. */
export class GestureShutter implements ArmedMode {
  readonly name = 'gesture-shutter' as const;
  readonly title = 'Gesture shutter';
  private readonly timer: RaisedHandTimer;
  private stopPoses?: () => void;
  private tick?: NodeJS.Timeout;
  private seenPerson = false;

  constructor(private readonly deps: GestureShutterDeps) {
    this.timer = new RaisedHandTimer(() => deps.config().holdMs);
  }

  start(ctx: ModeContext): void {
    this.stop();
    this.timer.reset();
    this.seenPerson = false;
    let raisedShown: boolean | undefined;
    this.stopPoses = this.deps.startPoses((p) => {
      if (!this.stopPoses) return;
      if (p.raised !== undefined) this.seenPerson = true;
      if (this.timer.push(p)) {
        this.stopPoses();
        this.stopPoses = undefined;
        this.countdown(ctx);
        return;
      }
      if (p.raised !== raisedShown) {
        raisedShown = p.raised;
        ctx.update({ handRaised: p.raised === true });
      }
    });
  }

  private countdown(ctx: ModeContext): void {
    let left = this.deps.config().timerSeconds;
    if (left <= 0) {
      ctx.fire();
      return;
    }
    ctx.countdown(left);
    this.tick = setInterval(() => {
      left--;
      if (left > 0) {
        ctx.update({ countdown: left });
        return;
      }
      clearInterval(this.tick);
      this.tick = undefined;
      ctx.fire();
    }, 1000);
  }

  stop(): void {
    this.stopPoses?.();
    this.stopPoses = undefined;
    if (this.tick) clearInterval(this.tick);
    this.tick = undefined;
  }

  timeoutMs(): number {
    return this.deps.config().timeoutMs;
  }

  timeoutReason(): string {
    return this.seenPerson ? 'no raised hand seen' : 'nobody seen';
  }
}

export interface LivePosesDeps {
  /** Preview frames (an active subscription: it keeps the preview running). */
  subscribe: (cb: (jpeg: Buffer, at: number) => void) => () => void;
  /** Pose of the frame's person, as "hand raised?" (undefined: nobody found). */
  estimate: (jpeg: Buffer) => Promise<boolean | undefined>;
  fps: () => number;
  now?: () => number;
  onError?: (e: unknown) => void;
}

/**
 * Preview frames → pose estimates at a bounded rate: at most `fps` a second and never more than one in flight;
 * frames arriving meanwhile are dropped, not queued (the same rule as live face detection).
 */
export function startLivePoses(deps: LivePosesDeps, onPose: (p: PoseObservation) => void): () => void {
  const now = deps.now ?? (() => performance.now());
  let busy = false;
  let last = Number.NEGATIVE_INFINITY;
  let stopped = false;
  const off = deps.subscribe((jpeg, at) => {
    const t = now();
    if (stopped || busy || t - last < 1000 / deps.fps()) return;
    busy = true;
    last = t;
    deps
      .estimate(jpeg)
      .then(
        (raised) => {
          if (!stopped) onPose({ at, raised });
        },
        (e: unknown) => deps.onError?.(e),
      )
      .finally(() => {
        busy = false;
      });
  });
  return () => {
    stopped = true;
    off();
  };
}

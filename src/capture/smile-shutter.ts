import type { SmileConfig } from '../config/sections/capture-modes.js';
import type { ArmedMode, ModeContext } from './modes.js';

/** A face of an analysed live frame; `smile` is absent when the face was too small to analyse. */
export interface SmileFace {
  smile?: number;
}

export interface AnalysedFrame {
  faces: SmileFace[];
  /** performance.now() when the preview frame arrived. */
  frameAt?: number;
  /** False for frames detected before expressions were switched on: they say nothing about smiles. */
  analysed?: boolean;
}

/** Faces with a smile score, and how many of them reach the threshold. */
export function countSmiles(faces: readonly SmileFace[], threshold: number): { smiling: number; total: number } {
  let smiling = 0;
  let total = 0;
  for (const f of faces) {
    if (typeof f.smile !== 'number' || !Number.isFinite(f.smile)) continue;
    total++;
    if (f.smile >= threshold) smiling++;
  }
  return { smiling, total };
}

/**
 * The smile shutter's decision, pure: fire once `frames` analysed frames in a row show at least one face and every
 * analysable face smiling. A frame with no face, or one face not smiling, starts the count again. Faces too small
 * for the expression model carry no score and are left out (a stranger far behind cannot block the shot), but a
 * frame needs at least one scored face.
 */
export class SmileCounter {
  private run = 0;
  private best = { smiling: 0, total: 0 };
  last = { smiling: 0, total: 0 };

  constructor(private readonly opts: () => Pick<SmileConfig, 'threshold' | 'frames'>) {}

  /** Feeds one analysed frame; true when the shutter should fire. */
  push(frame: AnalysedFrame): boolean {
    if (frame.analysed === false) return false;
    const { threshold, frames } = this.opts();
    this.last = countSmiles(frame.faces, threshold);
    if (this.last.total > 0 && this.last.smiling * this.best.total >= this.best.smiling * this.last.total)
      this.best = this.last;
    const all = this.last.total > 0 && this.last.smiling === this.last.total;
    this.run = all ? this.run + 1 : 0;
    return this.run >= frames;
  }

  get streak(): number {
    return this.run;
  }

  /** The best frame seen ("2 of 3 at best"), for the timeout message. */
  get bestSeen(): { smiling: number; total: number } {
    return this.best;
  }

  reset(): void {
    this.run = 0;
    this.best = { smiling: 0, total: 0 };
    this.last = { smiling: 0, total: 0 };
  }
}

export interface SmileShutterDeps {
  config: () => SmileConfig;
  /**
   * Switches expression analysis on for live frames and keeps the preview running (nobody may be watching when a
   * button arms it); returns the off switch. Throws when face analysis is unavailable.
   */
  startAnalysis: () => () => void;
  /** Analysed live frames (the `faces` events). */
  onFrame: (cb: (frame: AnalysedFrame) => void) => () => void;
}

/** The smile shutter as an armed mode: the counter above, fed by live frames while armed. */
export class SmileShutter implements ArmedMode {
  readonly name = 'smile-shutter' as const;
  readonly title = 'Smile shutter';
  private readonly counter: SmileCounter;
  private offs: (() => void)[] = [];
  /** Arrival times of the frames of the current all-smiling run. */
  private run: number[] = [];

  constructor(private readonly deps: SmileShutterDeps) {
    this.counter = new SmileCounter(deps.config);
  }

  start(ctx: ModeContext): void {
    this.stop();
    this.counter.reset();
    this.run = [];
    // Listen before analysis starts, so the first analysed frame is not missed.
    this.offs.push(
      this.deps.onFrame((frame) => {
        if (frame.analysed !== true) return;
        const fire = this.counter.push(frame);
        if (this.counter.streak === 0) this.run = [];
        else if (frame.frameAt !== undefined) this.run.push(frame.frameAt);
        // The decision goes first; the viewfinder update after it costs the shutter nothing.
        if (fire) {
          const cfg = this.deps.config();
          const times = this.run.length === this.counter.streak ? this.run : [];
          ctx.fire({
            frames: cfg.frames,
            threshold: cfg.threshold,
            smiles: frame.faces.map((f) => f.smile ?? null),
            ...(times.length ? { smilingFramesAt: times } : {}),
          });
          return;
        }
        const cfg = this.deps.config();
        // the threshold goes along so the viewfinder colours a box green exactly when the face counts as smiling
        ctx.update({
          smiling: { ...this.counter.last, streak: this.counter.streak, needed: cfg.frames, threshold: cfg.threshold },
        });
      }),
    );
    this.offs.push(this.deps.startAnalysis());
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
  }

  timeoutMs(): number {
    return this.deps.config().timeoutMs;
  }

  timeoutReason(): string {
    const b = this.counter.bestSeen;
    if (b.total === 0) return 'no face seen';
    return `not everybody smiled (at best ${b.smiling} of ${b.total})`;
  }
}

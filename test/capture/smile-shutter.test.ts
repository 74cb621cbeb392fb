import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ArmedMode, CaptureModes, type ModeContext, type ModeState } from '../../src/capture/modes.js';
import { type AnalysedFrame, countSmiles, SmileCounter, SmileShutter } from '../../src/capture/smile-shutter.js';
import { configureLogging } from '../../src/util/logger.js';

configureLogging({ level: 'silent' });

const cfg = { threshold: 0.7, frames: 3, timeoutMs: 10_000 };
const frame = (...smiles: (number | undefined)[]): AnalysedFrame => ({
  analysed: true,
  faces: smiles.map((s) => (s === undefined ? {} : { smile: s })),
});

describe('SmileCounter (pure decision)', () => {
  it('fires on the Nth consecutive frame in which every face smiles', () => {
    const c = new SmileCounter(() => cfg);
    expect(c.push(frame(0.9, 0.8))).toBe(false);
    expect(c.push(frame(0.95, 0.71))).toBe(false);
    expect(c.streak).toBe(2);
    expect(c.push(frame(0.9, 0.9))).toBe(true);
  });

  it('one face below the threshold, or a frame without faces, starts the count again', () => {
    const c = new SmileCounter(() => cfg);
    c.push(frame(0.9, 0.9));
    c.push(frame(0.9, 0.9));
    expect(c.push(frame(0.9, 0.69))).toBe(false);
    expect(c.streak).toBe(0);
    c.push(frame(0.9));
    c.push(frame(0.9));
    expect(c.push(frame())).toBe(false);
    expect(c.streak).toBe(0);
    expect([c.push(frame(1)), c.push(frame(1)), c.push(frame(1))]).toEqual([false, false, true]);
  });

  it('faces too small to score are left out, but a frame needs one scored face', () => {
    const c = new SmileCounter(() => ({ ...cfg, frames: 1 }));
    expect(c.push(frame(undefined, undefined))).toBe(false);
    expect(c.push(frame(0.9, undefined))).toBe(true);
  });

  it('frames detected before expressions were on are ignored, not counted against', () => {
    const c = new SmileCounter(() => cfg);
    c.push(frame(0.9));
    c.push(frame(0.9));
    expect(c.push({ analysed: false, faces: [{}] })).toBe(false);
    expect(c.streak).toBe(2);
    expect(c.push(frame(0.9))).toBe(true);
  });

  it('reads threshold and frames at each frame (a config reload applies at once)', () => {
    const live = { ...cfg };
    const c = new SmileCounter(() => live);
    c.push(frame(0.75));
    live.threshold = 0.8;
    expect(c.push(frame(0.75))).toBe(false);
    live.frames = 1;
    expect(c.push(frame(0.85))).toBe(true);
  });

  it('countSmiles says "2 of 3 smiling"', () => {
    expect(countSmiles([{ smile: 0.9 }, { smile: 0.1 }, { smile: 0.7 }, {}], 0.7)).toEqual({ smiling: 2, total: 3 });
  });

  it('remembers the best frame for the timeout message', () => {
    const c = new SmileCounter(() => cfg);
    c.push(frame(0.1, 0.1, 0.1));
    c.push(frame(0.9, 0.9, 0.1));
    c.push(frame(0.9, 0.1, 0.1));
    expect(c.bestSeen).toEqual({ smiling: 2, total: 3 });
  });
});

/** Live analysed frames pushed by hand, with the analysis switch recorded. */
class FakeLive {
  readonly listeners = new Set<(f: AnalysedFrame) => void>();
  analysing = 0;
  failWith?: Error;
  push(f: AnalysedFrame): void {
    for (const l of [...this.listeners]) l(f);
  }
  deps(config = () => cfg) {
    return {
      config,
      startAnalysis: () => {
        if (this.failWith) throw this.failWith;
        this.analysing++;
        return () => {
          this.analysing--;
        };
      },
      onFrame: (cb: (f: AnalysedFrame) => void) => {
        this.listeners.add(cb);
        return () => this.listeners.delete(cb);
      },
    };
  }
}

describe('smile shutter armed through CaptureModes', () => {
  let live: FakeLive;
  let states: ModeState[];
  let captures: string[];
  let records: Record<string, unknown>[];
  let modes: CaptureModes;
  let resolveCapture: (() => void) | undefined;

  beforeEach(() => {
    vi.useFakeTimers();
    live = new FakeLive();
    states = [];
    captures = [];
    records = [];
    modes = new CaptureModes({
      modes: [new SmileShutter(live.deps())],
      capture: (source, record) => {
        captures.push(source);
        records.push(record);
        return new Promise((r) => {
          resolveCapture = () => r({ id: 'p00000001-00000000' });
        });
      },
      emit: (s) => states.push(s),
    });
  });
  afterEach(() => vi.useRealTimers());

  it('fires once when everybody smiles, stops analysing, then reports the photo', async () => {
    modes.arm('smile-shutter', 'button');
    expect(live.analysing).toBe(1);
    live.push(frame(0.9, 0.2, 0.9));
    expect(states.at(-1)?.smiling).toEqual({ smiling: 2, total: 3, streak: 0, needed: 3, threshold: 0.7 });
    for (let i = 0; i < 3; i++) live.push(frame(0.9, 0.8, 0.95));
    expect(captures).toEqual(['button']);
    expect(live.analysing).toBe(0);
    expect(live.listeners.size).toBe(0);
    expect(modes.status().state).toBe('capturing');
    // More smiling frames after the decision take no second photo.
    live.push(frame(1, 1, 1));
    expect(captures).toHaveLength(1);
    resolveCapture?.();
    await vi.runAllTimersAsync();
    expect(modes.status()).toMatchObject({ state: 'idle', photoId: 'p00000001-00000000' });
  });

  it('records the arrival of each frame of the winning run (the latency goal is measured from them)', () => {
    modes.arm('smile-shutter', 'web');
    const at = (t: number, ...s: number[]) => ({ ...frame(...s), frameAt: t });
    live.push(at(100, 0.9));
    live.push(at(350, 0.9));
    live.push(at(600, 0.2)); // the run breaks here
    live.push(at(850, 0.9));
    live.push(at(1100, 0.95));
    live.push(at(1350, 0.8));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      name: 'smile-shutter',
      frames: 3,
      threshold: 0.7,
      smiles: [0.8],
      smilingFramesAt: [850, 1100, 1350],
    });
    expect(typeof records[0].firedAt).toBe('number');
  });

  it('disarms itself after timeoutMs with a message saying why, without a photo', () => {
    modes.arm('smile-shutter', 'web');
    live.push(frame(0.9, 0.1));
    vi.advanceTimersByTime(cfg.timeoutMs - 1);
    expect(modes.status().state).toBe('armed');
    vi.advanceTimersByTime(1);
    expect(captures).toHaveLength(0);
    expect(live.analysing).toBe(0);
    expect(modes.status()).toMatchObject({
      state: 'idle',
      mode: 'smile-shutter',
      message: 'Smile shutter disarmed after 10 s: not everybody smiled (at best 1 of 2)',
    });
  });

  it('arming fails cleanly when face analysis is unavailable', () => {
    live.failWith = new Error('expression model missing');
    expect(() => modes.arm('smile-shutter', 'cli')).toThrow('expression model missing');
    expect(modes.status().state).toBe('idle');
    expect(live.listeners.size).toBe(0);
    vi.advanceTimersByTime(cfg.timeoutMs * 2);
    expect(states.filter((s) => s.state === 'armed')).toHaveLength(0);
  });

  it('disarm stops watching; re-arming restarts the timeout', () => {
    modes.arm('smile-shutter', 'web');
    vi.advanceTimersByTime(9000);
    modes.arm('smile-shutter', 'web');
    vi.advanceTimersByTime(9000);
    expect(modes.status().state).toBe('armed');
    expect(live.analysing).toBe(1);
    modes.disarm();
    expect(live.analysing).toBe(0);
    expect(modes.status()).toMatchObject({ state: 'idle', message: 'Smile shutter disarmed' });
  });

  it('unknown modes are refused', () => {
    expect(() => modes.arm('frown-shutter', 'web')).toThrow(/unknown capture mode/);
  });
});

describe('CaptureModes with two modes', () => {
  it('arming one mode disarms the other; a countdown cancels the timeout', async () => {
    vi.useFakeTimers();
    try {
      const stops: string[] = [];
      let ctxB: ModeContext | undefined;
      const mk = (name: 'smile-shutter' | 'gesture-shutter', onStart: (c: ModeContext) => void): ArmedMode => ({
        name,
        title: name,
        start: onStart,
        stop: () => stops.push(name),
        timeoutMs: () => 1000,
        timeoutReason: () => 'nothing',
      });
      const shots: string[] = [];
      const modes = new CaptureModes({
        modes: [
          mk('smile-shutter', () => {}),
          mk('gesture-shutter', (c) => {
            ctxB = c;
          }),
        ],
        capture: async (s) => {
          shots.push(s);
          return { id: 'x' };
        },
        emit: () => {},
      });
      modes.arm('smile-shutter', 'web');
      modes.arm('gesture-shutter', 'web');
      expect(stops).toContain('smile-shutter');
      ctxB?.countdown(3);
      vi.advanceTimersByTime(5000);
      expect(modes.status()).toMatchObject({ state: 'countdown', countdown: 3 });
      expect(() => modes.arm('smile-shutter', 'web')).toThrow(/about to take its photo/);
      ctxB?.fire();
      expect(shots).toEqual(['web']);
      await vi.runAllTimersAsync();
      expect(modes.status()).toMatchObject({ state: 'idle', photoId: 'x' });
    } finally {
      vi.useRealTimers();
    }
  });
});

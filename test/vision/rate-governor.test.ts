import { describe, expect, test } from 'vitest';
import { RateGovernor } from '../../src/vision/rate-governor.js';

/** Feeds frames every `every` ms over [from, to) and returns the governor's rate afterwards. */
function feed(g: RateGovernor, from: number, to: number, every: number): number {
  for (let t = from; t < to; t += every) g.onFrame(t);
  return g.currentFps;
}

describe('RateGovernor', () => {
  test('a preview at its configured rate keeps the target', () => {
    const g = new RateGovernor({ targetFps: 4, previewFps: 15 });
    expect(feed(g, 0, 20_000, 1000 / 15)).toBe(4);
    expect(g.status()).toMatchObject({ targetFps: 4, fps: 4, reduced: false, previewFps: 15 });
  });

  test('halves on every short window down to the floor, never below it', () => {
    const g = new RateGovernor({ targetFps: 4, previewFps: 15, minFps: 0.5 });
    expect(feed(g, 0, 2001, 200)).toBe(2); // 5 fps of 15
    expect(feed(g, 2200, 20_000, 200)).toBe(0.5);
    expect(g.status()).toMatchObject({ reduced: true, reason: 'preview delivered 5.0 of 15 fps' });
  });

  test('a pause of the preview (a capture switched modes) is not a loss', () => {
    const g = new RateGovernor({ targetFps: 4, previewFps: 10 });
    feed(g, 0, 1500, 100);
    // 3 s without frames, then a normal rate again
    expect(feed(g, 4500, 9000, 100)).toBe(4);
    expect(g.status().reduced).toBe(false);
  });

  test('a new target from a config reload applies at once', () => {
    const g = new RateGovernor({ targetFps: 4, previewFps: 15 });
    feed(g, 0, 2100, 200);
    expect(g.currentFps).toBe(2);
    g.configure({ targetFps: 8, previewFps: 15 });
    expect(g.status()).toMatchObject({ targetFps: 8, fps: 8, reduced: false });
  });
});

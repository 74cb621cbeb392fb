import { describe, expect, it } from 'vitest';
import { type Corners, OutlineSteadier } from '../../src/scan/outline-steady.js';

const print: Corners = [
  [0.2, 0.2],
  [0.8, 0.22],
  [0.78, 0.8],
  [0.21, 0.78],
];
const moved = (c: Corners, dx: number, dy: number): Corners => c.map(([x, y]) => [x + dx, y + dy]);

describe('live outline steadier', () => {
  it('shows an outline once two frames agree, as their mean', () => {
    const s = new OutlineSteadier();
    expect(s.next(print, 0.75)).toBeUndefined();
    const shown = s.next(moved(print, 0.01, 0), 0.75);
    expect(shown?.corners?.[0][0]).toBeCloseTo(0.205, 4);
    expect(shown?.corners?.[2][1]).toBeCloseTo(0.8, 4);
  });

  it('one misled frame (an object across an edge) changes nothing, and neither does the frame after it', () => {
    const s = new OutlineSteadier();
    s.next(print, 0.75);
    expect(s.next(print, 0.75)?.corners).toEqual(print);
    const misled: Corners = [
      [0.2, 0.2],
      [0.8, 0.22],
      [0.6, 0.7],
      [0.21, 0.78],
    ];
    expect(s.next(misled, 0.75)).toBeUndefined();
    expect(s.next(print, 0.75)).toBeUndefined();
    expect(s.next(print, 0.75)?.corners).toEqual(print);
  });

  it('a print that moved shows at its new place one frame later', () => {
    const s = new OutlineSteadier();
    s.next(print, 0.75);
    s.next(print, 0.75);
    const there = moved(print, 0.1, 0.05);
    expect(s.next(there, 0.75)).toBeUndefined();
    expect(s.next(there, 0.75)?.corners?.[0]).toEqual([0.3, 0.25]);
  });

  it('no print in two frames in a row is shown as none; a single empty frame is not', () => {
    const s = new OutlineSteadier();
    s.next(print, 0.75);
    s.next(print, 0.75);
    expect(s.next(null, 0.75)).toBeUndefined();
    expect(s.next(null, 0.75)).toEqual({ corners: null });
  });

  it('tolerance is a fraction of the diagonal: 2 % of it apart agrees, 3 % does not', () => {
    const diag = Math.hypot(1, 0.75);
    const s = new OutlineSteadier(0.02);
    s.next(print, 0.75);
    expect(s.next(moved(print, 0.019 * diag, 0), 0.75)).toBeDefined();
    s.reset();
    s.next(print, 0.75);
    expect(s.next(moved(print, 0.03 * diag, 0), 0.75)).toBeUndefined();
  });
});

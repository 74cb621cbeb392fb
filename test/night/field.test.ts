import { describe, expect, it } from 'vitest';
import { newField } from '../../src/night/align.js';
import { fieldRow } from '../../src/night/merge.js';

/** The per-row field interpolation keeps a scratch buffer between calls: bursts of different sizes in one process. */
describe('fieldRow', () => {
  const constant = (width: number, tile: number, dx: number, dy: number) => {
    const f = newField(width, width, tile);
    f.dx.fill(dx);
    f.dy.fill(dy);
    return f;
  };
  it('a wider grid after a narrower one reads its own values (the daemon worker merges many bursts)', () => {
    const narrow = constant(160, 32, 1, 2);
    const wide = constant(256, 32, 3, -4);
    expect(wide.cols).toBeGreaterThan(narrow.cols);
    const ox = new Float32Array(256);
    const oy = new Float32Array(256);
    fieldRow(narrow, 10, 160, ox, oy);
    expect([ox[0], oy[159]]).toEqual([1, 2]);
    fieldRow(wide, 10, 256, ox, oy);
    expect(ox.every((v) => v === 3)).toBe(true);
    expect(oy.every((v) => v === -4)).toBe(true);
  });
});

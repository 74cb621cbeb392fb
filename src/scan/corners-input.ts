import { ValidationError } from '../util/errors.js';
import type { Point, Quad } from './geometry.js';

/**
 * The print's corners as the phone sends them: four [x, y] pairs, clockwise from top-left, as fractions of the
 * photo's width and height (0..1), so the viewfinder's preview and the full-size still share them. Refused with the
 * reason when anything is off: not four points, a coordinate outside the image, or an outline that is not a convex
 * quadrilateral of some size.
 */
export function parseCorners(value: unknown, field = 'corners'): Quad {
  if (!Array.isArray(value) || value.length !== 4)
    throw new ValidationError(`${field} must be 4 [x, y] points (clockwise from top-left)`, undefined, 'bad-corners');
  const pts = value.map((p, i) => {
    if (!Array.isArray(p) || p.length !== 2 || !p.every((v) => typeof v === 'number' && Number.isFinite(v)))
      throw new ValidationError(`${field}[${i}] must be [x, y] with two numbers`, undefined, 'bad-corners');
    const [x, y] = p as number[];
    if (x < 0 || x > 1 || y < 0 || y > 1)
      throw new ValidationError(
        `${field}[${i}] = [${x}, ${y}] is outside the image (x and y are fractions of its width and height, 0..1)`,
        undefined,
        'bad-corners',
      );
    return [x, y] as Point;
  }) as Quad;
  // clockwise in image coordinates (y down): every turn has the same positive sign
  for (let i = 0; i < 4; i++) {
    const [a, b, c] = [pts[i], pts[(i + 1) % 4], pts[(i + 2) % 4]];
    const cross = (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]);
    if (cross <= 0)
      throw new ValidationError(
        `${field} must outline a convex quadrilateral, clockwise from top-left (corner ${(i + 1) % 4} turns the wrong way)`,
        undefined,
        'bad-corners',
      );
  }
  let area = 0;
  for (let i = 0; i < 4; i++) area += pts[i][0] * pts[(i + 1) % 4][1] - pts[(i + 1) % 4][0] * pts[i][1];
  if (Math.abs(area) / 2 < 0.01)
    throw new ValidationError(`${field} outline a print smaller than 1 % of the image`, undefined, 'bad-corners');
  return pts;
}

/** Fractions of the image → its pixels (pixel centres at integers). */
export function toPixels(q: Quad, width: number, height: number): Quad {
  return q.map(([x, y]) => [x * width - 0.5, y * height - 0.5]) as Quad;
}

/** The photo's pixels → fractions of the image, rounded to 1e-4 (what the viewer draws). */
export function toFractions(q: Quad, width: number, height: number): Quad {
  const r = (v: number) => Math.round(v * 1e4) / 1e4;
  return q.map(([x, y]) => [r((x + 0.5) / width), r((y + 0.5) / height)]) as Quad;
}

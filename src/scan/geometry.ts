/**
 * Plane geometry of a photographed print: quadrilaterals, homographies, and the print's true aspect ratio from its
 * perspective image. Pure functions (no OpenCV), shared by the detector, the warp and the tests.
 */

import { solveLinear } from '../util/linear-solve.js';

export type Point = [number, number];
/** Corners clockwise from top-left: TL, TR, BR, BL. */
export type Quad = [Point, Point, Point, Point];
/** Row-major 3×3. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];

/** Orders four points clockwise from the top-left (the one with the smallest x + y), as the CLI reports them. */
export function orderQuad(pts: Point[]): Quad {
  const cx = pts.reduce((s, p) => s + p[0], 0) / pts.length;
  const cy = pts.reduce((s, p) => s + p[1], 0) / pts.length;
  // Clockwise in image coordinates (y down) = increasing atan2.
  const sorted = [...pts].sort((a, b) => Math.atan2(a[1] - cy, a[0] - cx) - Math.atan2(b[1] - cy, b[0] - cx));
  let start = 0;
  for (let i = 1; i < 4; i++) if (sorted[i][0] + sorted[i][1] < sorted[start][0] + sorted[start][1]) start = i;
  return [0, 1, 2, 3].map((i) => sorted[(start + i) % 4]) as Quad;
}

export function quadArea(q: Quad): number {
  let a = 0;
  for (let i = 0; i < 4; i++) {
    const [x1, y1] = q[i];
    const [x2, y2] = q[(i + 1) % 4];
    a += x1 * y2 - x2 * y1;
  }
  return Math.abs(a) / 2;
}

export function isConvex(q: Quad): boolean {
  let sign = 0;
  for (let i = 0; i < 4; i++) {
    const a = q[i];
    const b = q[(i + 1) % 4];
    const c = q[(i + 2) % 4];
    const cross = (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]);
    if (cross === 0) return false;
    const s = Math.sign(cross);
    if (sign === 0) sign = s;
    else if (s !== sign) return false;
  }
  return true;
}

/** Interior angles in degrees. */
export function quadAngles(q: Quad): number[] {
  return [0, 1, 2, 3].map((i) => {
    const p = q[i];
    const a = q[(i + 3) % 4];
    const b = q[(i + 1) % 4];
    const v1 = [a[0] - p[0], a[1] - p[1]];
    const v2 = [b[0] - p[0], b[1] - p[1]];
    const cos = (v1[0] * v2[0] + v1[1] * v2[1]) / (Math.hypot(v1[0], v1[1]) * Math.hypot(v2[0], v2[1]));
    return (Math.acos(Math.max(-1, Math.min(1, cos))) * 180) / Math.PI;
  });
}

export const dist = (a: Point, b: Point) => Math.hypot(a[0] - b[0], a[1] - b[1]);

/** Homography mapping src[i] → dst[i] (direct linear transform on exactly four points). */
export function homography(src: readonly Point[], dst: readonly Point[]): Mat3 {
  const A: number[][] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = src[i];
    const [u, v] = dst[i];
    A.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u]);
    A.push([0, 0, 0, x, y, 1, -v * x, -v * y, v]);
  }
  const h = solveLinear(A, 8);
  if (!h) throw new Error('degenerate quadrilateral');
  return [h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1];
}

export function applyH(H: Mat3, x: number, y: number): Point {
  const w = H[6] * x + H[7] * y + H[8];
  return [(H[0] * x + H[1] * y + H[2]) / w, (H[3] * x + H[4] * y + H[5]) / w];
}

export function invert3(m: Mat3): Mat3 {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (Math.abs(det) < 1e-15) throw new Error('singular matrix');
  const k = 1 / det;
  return [
    A * k,
    -(b * i - c * h) * k,
    (b * f - c * e) * k,
    B * k,
    (a * i - c * g) * k,
    -(a * f - c * d) * k,
    C * k,
    -(a * h - b * g) * k,
    (a * e - b * d) * k,
  ];
}

export function mul3(p: Mat3, q: Mat3): Mat3 {
  const r = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) r[i * 3 + j] += p[i * 3 + k] * q[k * 3 + j];
  return r as Mat3;
}

/**
 * Width/height of the rectangle a quadrilateral is the perspective image of, for a camera whose principal point is
 * the image centre (Zhang & He, "Whiteboard scanning and image enhancement", 2007, §2.2): the focal length follows
 * from the two vanishing directions being perpendicular in space. When the view is nearly frontal (no usable
 * vanishing point, or an impossible focal length), the mean of opposite sides is accurate enough and is used.
 */
export function printAspect(q: Quad, imageWidth: number, imageHeight: number): number {
  const sides = sideAspect(q);
  const u0 = imageWidth / 2;
  const v0 = imageHeight / 2;
  // Corners as homogeneous vectors, in the book's order: m1 = TL, m2 = TR, m3 = BL, m4 = BR.
  const m1 = [q[0][0], q[0][1], 1];
  const m2 = [q[1][0], q[1][1], 1];
  const m3 = [q[3][0], q[3][1], 1];
  const m4 = [q[2][0], q[2][1], 1];
  const cross = (a: number[], b: number[]) => [
    a[1] * b[2] - a[2] * b[1],
    a[2] * b[0] - a[0] * b[2],
    a[0] * b[1] - a[1] * b[0],
  ];
  const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  const k2 = dot(cross(m1, m4), m3) / dot(cross(m2, m4), m3);
  const k3 = dot(cross(m1, m4), m2) / dot(cross(m3, m4), m2);
  const n2 = [k2 * m2[0] - m1[0], k2 * m2[1] - m1[1], k2 * m2[2] - m1[2]];
  const n3 = [k3 * m3[0] - m1[0], k3 * m3[1] - m1[1], k3 * m3[2] - m1[2]];
  const nearlyAffine = Math.abs(n2[2]) < 1e-6 || Math.abs(n3[2]) < 1e-6;
  if (!nearlyAffine) {
    const f2 =
      -((n2[0] - n2[2] * u0) * (n3[0] - n3[2] * u0) + (n2[1] - n2[2] * v0) * (n3[1] - n3[2] * v0)) / (n2[2] * n3[2]);
    const f = Math.sqrt(f2);
    // Plausible lenses: 0.3× to 5× the image diagonal.
    const diag = Math.hypot(imageWidth, imageHeight);
    if (f2 > 0 && f > 0.3 * diag && f < 5 * diag) {
      const Ainv = (n: number[]) => [(n[0] - u0 * n[2]) / f, (n[1] - v0 * n[2]) / f, n[2]];
      const a = Ainv(n2);
      const b = Ainv(n3);
      const ratio = Math.sqrt(dot(a, a) / dot(b, b));
      if (Number.isFinite(ratio) && ratio > 0) return ratio;
    }
  }
  return sides;
}

/** Mean width over mean height of a quadrilateral's opposite sides. */
export function sideAspect(q: Quad): number {
  const w = (dist(q[0], q[1]) + dist(q[3], q[2])) / 2;
  const h = (dist(q[0], q[3]) + dist(q[1], q[2])) / 2;
  return w / h;
}

/** Output size of the flattened print: its aspect, at about the resolution the photo shows it with. */
export function outputSize(
  q: Quad,
  imageWidth: number,
  imageHeight: number,
  maxPixels: number,
): { width: number; height: number; aspect: number } {
  const aspect = printAspect(q, imageWidth, imageHeight);
  const w = Math.max(dist(q[0], q[1]), dist(q[3], q[2]));
  const h = Math.max(dist(q[0], q[3]), dist(q[1], q[2]));
  // The longer measured side keeps its pixel count; the other follows from the aspect.
  let width: number;
  let height: number;
  if (w / aspect >= h) {
    width = w;
    height = w / aspect;
  } else {
    height = h;
    width = h * aspect;
  }
  const scale = Math.min(1, Math.sqrt(maxPixels / (width * height)));
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
    aspect,
  };
}

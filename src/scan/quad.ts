import { type CV, withMats } from './cv.js';
import { isConvex, orderQuad, type Point, type Quad, quadAngles, quadArea } from './geometry.js';

/**
 * Finds the print in a photo: the largest plausible quadrilateral. Candidates come from OpenCV contours of several
 * segmentations (Canny edges closed by dilation, also of a median-filtered copy that a fine-grained background
 * does not break up; Otsu thresholds of brightness and of saturation, both polarities) and from Hough lines,
 * each reduced to four corners by approxPolyDP (on its convex hull when the outline itself is ragged). A candidate
 * must be convex, take ≥ 6 % of the frame, have corners between 35° and 145° and sides that lie on real edges of the
 * photo (edge support: the fraction of points along its sides with a strong gradient across the side). The best is
 * then refined: each side is re-fitted to the gradient maxima found across it, and the corners are the
 * intersections of those lines — sub-pixel, and on the paper's outer edge rather than wherever a contour wandered.
 */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface PrintDetection {
  corners: Quad;
  /** Fraction of the sides on strong edges (0..1). */
  support: number;
  /** Fraction of the frame inside the quadrilateral. */
  area: number;
  source: string;
}

const MIN_AREA = 0.06;
const MIN_SUPPORT = 0.6;
/** Support within ±1 pixel of the refined sides. */
const TIGHT_SUPPORT = 0.8;
/** Every side must lie on an edge for at least this fraction of its length. */
const MIN_SIDE_SUPPORT = 0.4;

export function detectPrint(
  cv: CV,
  img: RgbImage,
  debug?: {
    candidates?: PrintDetection[];
    finals?: PrintDetection[];
    tried?: { q: Quad; tight: number; fg: number }[];
    truthFg?: number;
    truth?: Quad;
    truthJudged?: PrintDetection | string;
    truthTight?: number;
  },
): PrintDetection | undefined {
  const { width: W, height: H } = img;
  if (W < 16 || H < 16) return undefined;
  return withMats((keep) => {
    const src = keep(cv.matFromArray(H, W, cv.CV_8UC3, img.data));
    const grey = keep(new cv.Mat());
    cv.cvtColor(src, grey, cv.COLOR_RGB2GRAY);
    const blur = keep(new cv.Mat());
    cv.GaussianBlur(grey, blur, new cv.Size(5, 5), 0);
    const grad = gradients(cv, src);

    // Each mask is searched for outlines as soon as it is made and deleted then: OpenCV's heap keeps the pages its
    // largest moment touched, so masks that never live together keep the print finder's peak small. Candidates keep
    // the order of one list per source (line quads first, then the masks in the order below) for the sort's ties.
    const lineCandidates: PrintDetection[] = [];
    const maskCandidates: PrintDetection[] = [];
    const fromLines = (edges: InstanceType<CV['Mat']>) => {
      for (const q of houghQuads(cv, edges, W, H)) {
        const d = judge(q, grad, W, H, 'lines');
        if (d) lineCandidates.push(d);
      }
    };
    const fromMask = (name: string, mat: InstanceType<CV['Mat']>) => {
      withMats((own) => {
        const contours = own(new cv.MatVector());
        const hier = own(new cv.Mat());
        cv.findContours(mat, contours, hier, cv.RETR_LIST, cv.CHAIN_APPROX_SIMPLE);
        for (let i = 0; i < contours.size(); i++) {
          const c = contours.get(i);
          try {
            if (cv.contourArea(c) < MIN_AREA * W * H) continue;
            for (const q of quadsOf(cv, c)) {
              const d = judge(q, grad, W, H, name);
              if (d) maskCandidates.push(d);
            }
          } finally {
            c.delete();
          }
        }
      });
    };
    const square3 = keep(cv.getStructuringElement(cv.MORPH_RECT, new cv.Size(3, 3)));
    // Edges, thresholds from the median brightness, closed so the print's outline is one contour.
    const med = median(blur.data);
    for (const k of [0.66, 0.33])
      withMats((own) => {
        const edges = own(new cv.Mat());
        cv.Canny(blur, edges, Math.max(5, k * med), Math.max(15, 2 * k * med));
        if (k === 0.33) fromLines(edges);
        const d = own(new cv.Mat());
        cv.dilate(edges, d, square3);
        fromMask(`canny${k}`, d);
      });
    // The same on a median-filtered copy: a fine-grained background (stone, carpet) breaks the print's outline into
    // texture edges, which the median removes while keeping the print's straight sides sharp.
    withMats((own) => {
      const smooth = own(new cv.Mat());
      cv.medianBlur(grey, smooth, 2 * Math.round(0.005 * Math.min(W, H)) + 1);
      const smoothEdges = own(new cv.Mat());
      cv.Canny(smooth, smoothEdges, Math.max(5, 0.33 * med), Math.max(15, 0.66 * med));
      fromLines(smoothEdges);
      const d = own(new cv.Mat());
      cv.dilate(smoothEdges, d, square3);
      fromMask('canny-median', d);
    });
    // Brightness and saturation, split by Otsu, each way round.
    const satBlur = keep(new cv.Mat());
    withMats((own) => {
      const hsv = own(new cv.Mat());
      cv.cvtColor(src, hsv, cv.COLOR_RGB2HSV);
      const planes = own(new cv.MatVector());
      cv.split(hsv, planes);
      const sat = own(planes.get(1));
      cv.GaussianBlur(sat, satBlur, new cv.Size(5, 5), 0);
    });
    const open = keep(cv.getStructuringElement(cv.MORPH_RECT, new cv.Size(7, 7)));
    for (const [name, m] of [
      ['grey', blur],
      ['sat', satBlur],
    ] as const) {
      for (const inv of [false, true])
        withMats((own) => {
          const t = own(new cv.Mat());
          cv.threshold(m, t, 0, 255, (inv ? cv.THRESH_BINARY_INV : cv.THRESH_BINARY) + cv.THRESH_OTSU);
          const o = own(new cv.Mat());
          cv.morphologyEx(t, o, cv.MORPH_OPEN, open);
          cv.morphologyEx(o, o, cv.MORPH_CLOSE, open);
          fromMask(`${name}${inv ? '-inv' : ''}`, o);
        });
    }
    const candidates = [...lineCandidates, ...maskCandidates];
    if (debug) {
      debug.candidates = candidates;
      if (debug.truth) {
        debug.truthJudged = judge(debug.truth, grad, W, H, 'truth') ?? 'rejected';
        debug.truthTight = judge(debug.truth, grad, W, H, 'truth', 1)?.support ?? 0;
        debug.truthFg = figureGround(img, debug.truth);
      }
    }
    if (candidates.length === 0) return undefined;
    // Largest plausible: area weighs most, edge support breaks near-ties (the photo inside a bordered print is
    // smaller than the paper, and its support is no better).
    // Refine the most promising candidates, then the largest one whose sides are straight edges to within a pixel
    // wins: a print's sides are straight lines, the outlines textures and picture content make are not.
    candidates.sort((a, b) => b.area * b.support ** 2 - a.area * a.support ** 2);
    const seen: Quad[] = [];
    const finals: PrintDetection[] = [];
    for (const c of candidates) {
      if (finals.length >= 8) break;
      if (seen.some((q) => sameQuad(q, c.corners, W, H))) continue;
      seen.push(c.corners);
      // Snapping finds the paper's outer edge beyond a border's inner one, but where the paper meets a background as
      // light as itself it can lean onto another edge; the candidate refined as it is competes with it.
      const snapped = snapSides(c.corners, grad, W, H);
      let q = refine(snapped, grad, W, H) ?? snapped;
      let judged = judge(q, grad, W, H, c.source, 1);
      const plain = refine(c.corners, grad, W, H);
      const judgedPlain = plain && judge(plain, grad, W, H, c.source, 1);
      if (
        judgedPlain &&
        (!judged ||
          judgedPlain.support > judged.support + 0.01 ||
          (judgedPlain.support >= judged.support - 0.01 && judgedPlain.area > judged.area))
      ) {
        q = judgedPlain.corners;
        judged = judgedPlain;
      }
      if (judged && judged.support >= TIGHT_SUPPORT) finals.push(judged);
      if (debug) {
        debug.tried ??= [];
        debug.tried.push({ q, tight: judged?.support ?? 0, fg: figureGround(img, q) });
      }
    }
    if (debug) debug.finals = finals;
    // The straightest wins; among the equally straight (a bordered print: paper edge and photo edge), the largest.
    const top = Math.max(0, ...finals.map((f) => f.support));
    // Quadrilaterals of almost the same area are one outline found twice (one side leaning on a nearby edge): the
    // straighter is the paper's.
    const straight = finals.filter((f) => f.support >= top - 0.02).sort((a, b) => b.area - a.area);
    return straight
      .filter((f) => straight.length > 0 && f.area >= 0.98 * straight[0].area)
      .sort((a, b) => b.support - a.support)[0];
  });
}

function sameQuad(a: Quad, b: Quad, W: number, H: number): boolean {
  const tol = 0.01 * Math.hypot(W, H);
  return a.every((p, i) => Math.hypot(p[0] - b[i][0], p[1] - b[i][1]) < tol);
}

/** A straight edge: unit normal angle θ and offset ρ (x·cosθ + y·sinθ = ρ), with the edge length found on it. */
interface Line {
  theta: number;
  rho: number;
  length: number;
}

/**
 * Quadrilaterals from straight edges (OpenCV's probabilistic Hough transform on the Canny edges): a print's sides
 * are the long straight edges of the frame, even where a busy background breaks its outline into many contours.
 * Collinear segments are merged into lines, and every two roughly parallel pairs of lines that cross each other
 * steeply enough make a candidate.
 */
function houghQuads(cv: CV, edges: InstanceType<CV['Mat']>, W: number, H: number): Quad[] {
  const minSide = Math.min(W, H);
  const segs = new cv.Mat();
  let d: Int32Array;
  try {
    cv.HoughLinesP(edges, segs, 1, Math.PI / 180, 40, Math.round(0.1 * minSide), Math.round(0.015 * minSide));
    d = Int32Array.from(segs.data32S);
  } finally {
    segs.delete();
  }
  const lines: Line[] = [];
  for (let i = 0; i < d.length / 4; i++) {
    const [x1, y1, x2, y2] = [d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3]];
    const len = Math.hypot(x2 - x1, y2 - y1);
    let theta = Math.atan2(x2 - x1, -(y2 - y1)); // normal of the segment
    let rho = x1 * Math.cos(theta) + y1 * Math.sin(theta);
    if (rho < 0) {
      rho = -rho;
      theta += Math.PI;
    }
    theta = ((theta % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
    const same = lines.find(
      (l) => angleDiff(l.theta, theta) < (2.5 * Math.PI) / 180 && Math.abs(l.rho - rho) < 0.012 * minSide,
    );
    if (same) {
      const t = same.length + len;
      same.rho = (same.rho * same.length + rho * len) / t;
      same.length = t;
    } else lines.push({ theta, rho, length: len });
  }
  lines.sort((a, b) => b.length - a.length);
  const top = lines.slice(0, 24);
  const pairs: [Line, Line][] = [];
  for (let i = 0; i < top.length; i++)
    for (let j = i + 1; j < top.length; j++) {
      const a = top[i];
      const b = top[j];
      // opposite sides: nearly parallel (perspective tilts them a little) and well apart
      const diff = Math.min(angleDiff(a.theta, b.theta), angleDiff(a.theta, b.theta + Math.PI));
      if (diff < (30 * Math.PI) / 180 && separation(a, b) > 0.1 * minSide) pairs.push([a, b]);
    }
  const quads: Quad[] = [];
  for (let i = 0; i < pairs.length; i++)
    for (let j = i + 1; j < pairs.length; j++) {
      const [a, b] = pairs[i];
      const [c, e] = pairs[j];
      if (a === c || a === e || b === c || b === e) continue;
      const cross = Math.min(angleDiff(a.theta, c.theta), angleDiff(a.theta, c.theta + Math.PI));
      if (cross < (45 * Math.PI) / 180) continue;
      const pts = [intersect(a, c), intersect(c, b), intersect(b, e), intersect(e, a)];
      if (pts.some((p) => !p || p[0] < -0.02 * W || p[1] < -0.02 * H || p[0] > 1.02 * W || p[1] > 1.02 * H)) continue;
      quads.push(orderQuad(pts as Point[]));
    }
  return quads;
}

function angleDiff(a: number, b: number): number {
  const d = Math.abs(a - b) % (2 * Math.PI);
  return Math.min(d, 2 * Math.PI - d);
}

/** Distance between two nearly parallel lines, measured at the first one's foot point. */
function separation(a: Line, b: Line): number {
  const px = a.rho * Math.cos(a.theta);
  const py = a.rho * Math.sin(a.theta);
  return Math.abs(px * Math.cos(b.theta) + py * Math.sin(b.theta) - b.rho);
}

function intersect(a: Line, b: Line): Point | undefined {
  const ca = Math.cos(a.theta);
  const sa = Math.sin(a.theta);
  const cb = Math.cos(b.theta);
  const sb = Math.sin(b.theta);
  const det = ca * sb - sa * cb;
  if (Math.abs(det) < 1e-6) return undefined;
  return [(a.rho * sb - b.rho * sa) / det, (ca * b.rho - cb * a.rho) / det];
}

function quadsOf(cv: CV, contour: InstanceType<CV['Mat']>): Quad[] {
  const out: Quad[] = [];
  withMats((keep) => {
    const tryApprox = (c: InstanceType<CV['Mat']>) => {
      const peri = cv.arcLength(c, true);
      for (const eps of [0.02, 0.04]) {
        const approx = keep(new cv.Mat());
        cv.approxPolyDP(c, approx, eps * peri, true);
        if (approx.rows === 4) {
          const pts: Point[] = [];
          for (let k = 0; k < 4; k++) pts.push([approx.data32S[2 * k], approx.data32S[2 * k + 1]]);
          out.push(orderQuad(pts));
          return true;
        }
      }
      return false;
    };
    if (tryApprox(contour)) return;
    const hull = keep(new cv.Mat());
    cv.convexHull(contour, hull, false, true);
    tryApprox(hull);
  });
  return out;
}

interface Grad {
  gx: Float32Array;
  gy: Float32Array;
  mag: Float32Array;
  /** Gradient magnitude that counts as an edge (from the image's own distribution). */
  strong: number;
}

/**
 * Colour gradient: per pixel, the Sobel gradient of whichever of R, G, B changes most. A white border on a cream
 * wall is a faint step in brightness but a clear one in blue.
 */
function gradients(cv: CV, src: InstanceType<CV['Mat']>): Grad {
  let gx: Float32Array | undefined;
  let gy: Float32Array | undefined;
  let mag: Float32Array | undefined;
  // one channel's Sobel images at a time in OpenCV's heap: its pages stay touched at their peak
  withMats((keep) => {
    const planes = keep(new cv.MatVector());
    const blurred = new cv.Mat();
    try {
      cv.GaussianBlur(src, blurred, new cv.Size(5, 5), 0);
      cv.split(blurred, planes);
    } finally {
      blurred.delete();
    }
    for (let c = 0; c < 3; c++)
      withMats((own) => {
        const plane = own(planes.get(c));
        const gxm = own(new cv.Mat());
        const gym = own(new cv.Mat());
        cv.Sobel(plane, gxm, cv.CV_32F, 1, 0, 3);
        cv.Sobel(plane, gym, cv.CV_32F, 0, 1, 3);
        const x = gxm.data32F;
        const y = gym.data32F;
        if (!gx || !gy || !mag) {
          gx = Float32Array.from(x);
          gy = Float32Array.from(y);
          mag = new Float32Array(x.length);
          for (let i = 0; i < x.length; i++) mag[i] = Math.hypot(x[i], y[i]);
          return;
        }
        for (let i = 0; i < x.length; i++) {
          const m = Math.hypot(x[i], y[i]);
          if (m > mag[i]) {
            mag[i] = m;
            gx[i] = x[i];
            gy[i] = y[i];
          }
        }
      });
  });
  const sorted = Float32Array.from(mag as Float32Array).sort();
  // An edge: stronger than most of the photo, but a busy photo must not raise the bar past a print's edge.
  const strong = Math.max(24, Math.min(60, sorted[Math.floor(0.75 * sorted.length)]));
  return { gx: gx as Float32Array, gy: gy as Float32Array, mag: mag as Float32Array, strong };
}

/** Strongest gradient across a side near (x, y), projected on the side's normal (nx, ny): [offset, strength]. */
function acrossMax(
  g: Grad,
  W: number,
  H: number,
  x: number,
  y: number,
  nx: number,
  ny: number,
  r: number,
): [number, number] {
  let best = 0;
  let bestT = 0;
  const vals: number[] = [];
  for (let t = -r; t <= r; t++) {
    const xi = Math.round(x + nx * t);
    const yi = Math.round(y + ny * t);
    if (xi < 1 || yi < 1 || xi >= W - 1 || yi >= H - 1) {
      vals.push(0);
      continue;
    }
    const i = yi * W + xi;
    // only a gradient that points across the side counts (within ~30°): texture crossing it obliquely does not
    const p = Math.abs(g.gx[i] * nx + g.gy[i] * ny);
    const v = p >= 0.85 * g.mag[i] ? p : 0;
    vals.push(v);
    if (v > best) {
      best = v;
      bestT = t;
    }
  }
  const k = bestT + r;
  if (k > 0 && k < vals.length - 1) {
    const a = vals[k - 1];
    const c = vals[k + 1];
    const den = a - 2 * best + c;
    if (den < 0) return [bestT + Math.max(-0.5, Math.min(0.5, (a - c) / (2 * den))), best];
  }
  return [bestT, best];
}

function judge(q: Quad, g: Grad, W: number, H: number, source: string, r = 2): PrintDetection | undefined {
  if (!isConvex(q)) return undefined;
  const area = quadArea(q) / (W * H);
  if (area < MIN_AREA || area > 1.02) return undefined;
  const angles = quadAngles(q);
  if (angles.some((a) => a < 35 || a > 145)) return undefined;
  const minSide = 0.08 * Math.min(W, H);
  let hits = 0;
  let total = 0;
  let weakest = 1;
  for (let i = 0; i < 4; i++) {
    let sideHits = 0;
    let sideTotal = 0;
    const a = q[i];
    const b = q[(i + 1) % 4];
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if (len < minSide) return undefined;
    const nx = -(b[1] - a[1]) / len;
    const ny = (b[0] - a[0]) / len;
    const n = 40;
    for (let k = 1; k < n; k++) {
      const t = k / n;
      const x = a[0] + (b[0] - a[0]) * t;
      const y = a[1] + (b[1] - a[1]) * t;
      // A side that runs along the frame's edge has nothing to measure there: it neither helps nor hurts.
      if (x < 2 || y < 2 || x > W - 3 || y > H - 3) continue;
      sideTotal++;
      if (acrossMax(g, W, H, x, y, nx, ny, r)[1] >= g.strong) sideHits++;
    }
    hits += sideHits;
    total += sideTotal;
    // a side along the frame's border (print cut off or filling the frame) is not held against the quad
    if (sideTotal >= 10) weakest = Math.min(weakest, sideHits / sideTotal);
  }
  const support = total ? hits / total : 0;
  if (support < MIN_SUPPORT || weakest < MIN_SIDE_SUPPORT) return undefined;
  return { corners: q, support, area, source };
}

/**
 * Snaps each side onto the best straight edge near it: every line within ±9 % of the side's length and ±5° of its
 * direction is scored by the fraction of its length that lies on a strong edge (within a pixel), and of the lines
 * scoring close to the best the outermost is taken — the paper's outer edge rather than the inner edge of a white
 * border, which is often the stronger line. A print's side is straight over its whole length; the edges a textured
 * background or the picture makes are not, so they lose.
 */
function snapSides(q: Quad, g: Grad, W: number, H: number): Quad {
  const cx = (q[0][0] + q[1][0] + q[2][0] + q[3][0]) / 4;
  const cy = (q[0][1] + q[1][1] + q[2][1] + q[3][1]) / 4;
  const lines: [number, number, number][] = [];
  for (let i = 0; i < 4; i++) {
    const a = q[i];
    const b = q[(i + 1) % 4];
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    const mx = (a[0] + b[0]) / 2;
    const my = (a[1] + b[1]) / 2;
    const base = Math.atan2(b[1] - a[1], b[0] - a[0]);
    // outward normal sign for the un-rotated side
    const n0x = -Math.sin(base);
    const n0y = Math.cos(base);
    const out = n0x * (mx - cx) + n0y * (my - cy) >= 0 ? 1 : -1;
    const R = Math.max(8, Math.round(0.09 * len));
    const scored: { d: number; phi: number; s: number }[] = [];
    let best = 0;
    for (let phi = -5; phi <= 5; phi += 0.5) {
      const ang = base + (phi * Math.PI) / 180;
      const dx = Math.cos(ang);
      const dy = Math.sin(ang);
      const nx = -dy;
      const ny = dx;
      for (let d = -R; d <= R; d++) {
        let hits = 0;
        let total = 0;
        for (let k = 0; k < 30; k++) {
          const t = 0.08 + (0.84 * k) / 29 - 0.5;
          const x = mx + dx * t * len + nx * d * out;
          const y = my + dy * t * len + ny * d * out;
          if (x < 2 || y < 2 || x > W - 3 || y > H - 3) continue;
          total++;
          if (acrossMax(g, W, H, x, y, nx, ny, 1)[1] >= g.strong) hits++;
        }
        const sc = total >= 10 ? hits / total : 0;
        scored.push({ d, phi, s: sc });
        if (sc > best) best = sc;
      }
    }
    let pick: { d: number; phi: number; s: number } | undefined;
    if (best >= 0.7) {
      // The paper's outer edge and a border's inner edge are parallel; a line that leans onto an edge of the
      // background is not, so only lines parallel to the best one (within 1°) may win by being further out.
      const top = scored.reduce((a, c) => (c.s > a.s ? c : a));
      for (const c of scored)
        if (c.s >= best - 0.07 && Math.abs(c.phi - top.phi) <= 1 && (!pick || c.d > pick.d)) pick = c;
    }
    const ang = base + ((pick?.phi ?? 0) * Math.PI) / 180;
    const nx = -Math.sin(ang);
    const ny = Math.cos(ang);
    const d = (pick?.d ?? 0) * out;
    lines.push([nx, ny, nx * (mx + n0x * 0) + ny * my + d]);
  }
  const res: Point[] = [];
  for (let i = 0; i < 4; i++) {
    const [a1, b1, c1] = lines[(i + 3) % 4];
    const [a2, b2, c2] = lines[i];
    const det = a1 * b2 - a2 * b1;
    if (Math.abs(det) < 1e-6) return q;
    res.push([(c1 * b2 - c2 * b1) / det, (a1 * c2 - a2 * c1) / det]);
  }
  return res as Quad;
}

/**
 * Figure against ground: how different the colours just inside the quadrilateral are from those just outside it
 * (1 − Bhattacharyya coefficient of 4×4×4-bin colour histograms of two bands along all four sides). A print differs
 * from what it lies on; a quadrilateral traced on a texture has the same texture on both sides.
 */
export function figureGround(img: RgbImage, q: Quad): number {
  const { width: W, height: H, data } = img;
  const inside = new Float64Array(64);
  const outside = new Float64Array(64);
  const cx = (q[0][0] + q[1][0] + q[2][0] + q[3][0]) / 4;
  const cy = (q[0][1] + q[1][1] + q[2][1] + q[3][1]) / 4;
  const band = Math.max(3, Math.round(0.008 * Math.hypot(W, H)));
  const add = (h: Float64Array, x: number, y: number) => {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= W || yi >= H) return;
    const k = (yi * W + xi) * 3;
    h[((data[k] >> 6) << 4) | ((data[k + 1] >> 6) << 2) | (data[k + 2] >> 6)]++;
  };
  for (let i = 0; i < 4; i++) {
    const a = q[i];
    const b = q[(i + 1) % 4];
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    let nx = -(b[1] - a[1]) / len;
    let ny = (b[0] - a[0]) / len;
    if (nx * ((a[0] + b[0]) / 2 - cx) + ny * ((a[1] + b[1]) / 2 - cy) < 0) {
      nx = -nx;
      ny = -ny;
    }
    for (let k = 0; k < 40; k++) {
      const t = 0.1 + (0.8 * k) / 39;
      const x = a[0] + (b[0] - a[0]) * t;
      const y = a[1] + (b[1] - a[1]) * t;
      for (let d = 2; d <= 2 + band; d += 2) {
        add(outside, x + nx * d, y + ny * d);
        add(inside, x - nx * d, y - ny * d);
      }
    }
  }
  const si = inside.reduce((u, v) => u + v, 0);
  const so = outside.reduce((u, v) => u + v, 0);
  if (si === 0 || so === 0) return 0;
  let bc = 0;
  for (let k = 0; k < 64; k++) bc += Math.sqrt((inside[k] / si) * (outside[k] / so));
  return 1 - bc;
}

/** Re-fits each side to the gradient maxima across it and intersects neighbouring sides. */
function refine(q: Quad, g: Grad, W: number, H: number): Quad | undefined {
  const r = Math.max(3, Math.round(0.006 * Math.hypot(W, H)));
  const lines: [number, number, number][] = []; // a·x + b·y = c with (a, b) the unit normal
  for (let i = 0; i < 4; i++) {
    const a = q[i];
    const b = q[(i + 1) % 4];
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    const nx = -(b[1] - a[1]) / len;
    const ny = (b[0] - a[0]) / len;
    let pts: Point[] = [];
    const n = Math.max(20, Math.round(len / 4));
    for (let k = 1; k < n; k++) {
      const t = 0.05 + (0.9 * k) / n;
      const x = a[0] + (b[0] - a[0]) * t;
      const y = a[1] + (b[1] - a[1]) * t;
      const [off, st] = acrossMax(g, W, H, x, y, nx, ny, r);
      if (st >= g.strong * 0.7) pts.push([x + nx * off, y + ny * off]);
    }
    let line: [number, number, number] | undefined;
    for (let pass = 0; pass < 3 && pts.length >= 6; pass++) {
      line = fitLine(pts);
      const [la, lb, lc] = line;
      const resid = pts.map(([x, y]) => Math.abs(la * x + lb * y - lc));
      const sorted = [...resid].sort((u, v) => u - v);
      const cut = Math.max(0.75, 2.5 * sorted[sorted.length >> 1]);
      pts = pts.filter((_, k) => resid[k] <= cut);
    }
    // A side without enough edge points keeps its contour line.
    lines.push(line ?? [nx, ny, nx * a[0] + ny * a[1]]);
  }
  const out: Point[] = [];
  for (let i = 0; i < 4; i++) {
    const [a1, b1, c1] = lines[(i + 3) % 4];
    const [a2, b2, c2] = lines[i];
    const det = a1 * b2 - a2 * b1;
    if (Math.abs(det) < 1e-6) return undefined;
    const p: Point = [(c1 * b2 - c2 * b1) / det, (a1 * c2 - a2 * c1) / det];
    if (Math.hypot(p[0] - q[i][0], p[1] - q[i][1]) > 4 * r) return undefined;
    out.push(p);
  }
  return out as Quad;
}

/** Total least squares line through points: unit normal (a, b) and offset c. */
function fitLine(pts: Point[]): [number, number, number] {
  let mx = 0;
  let my = 0;
  for (const [x, y] of pts) {
    mx += x;
    my += y;
  }
  mx /= pts.length;
  my /= pts.length;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const [x, y] of pts) {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * (y - my);
    syy += (y - my) ** 2;
  }
  // Direction = principal eigenvector; the normal is perpendicular to it.
  const theta = 0.5 * Math.atan2(2 * sxy, sxx - syy);
  const a = -Math.sin(theta);
  const b = Math.cos(theta);
  return [a, b, a * mx + b * my];
}

function median(data: Uint8Array): number {
  const h = new Uint32Array(256);
  for (let i = 0; i < data.length; i++) h[data[i]]++;
  let acc = 0;
  for (let v = 0; v < 256; v++) {
    acc += h[v];
    if (acc * 2 >= data.length) return v;
  }
  return 255;
}

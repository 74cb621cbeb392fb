import { RowReader, RowWriter } from '../filters/raw-image.js';
import { type CV, withMats } from './cv.js';

/**
 * Scratches and dust on a scanned print: thin lines and specks much brighter or darker than what surrounds them.
 * Morphological top-hats (white: the image minus its opening; black: its closing minus the image) with a small element
 * keep only structures a few pixels wide. A scratch pixel must also lie on a straight run: the top-hat opened by line
 * elements at 24 orientations keeps its response only there. A piece of such a line is a candidate when it is thin on
 * average, stands out well above the picture's local contrast and adds no colour of its own (dust, hair and scratches
 * into the paper base are grey: the pixel is the picture partly covered by a grey layer). A scratch is interrupted
 * where it crosses picture of its own brightness, so candidate pieces that continue one another (nearest ends close,
 * same direction) are linked, and a chain is a scratch when it is long. Where a scratch crosses a thin structure of the
picture the two make one piece: only the pixels along the scratch's smooth path stay (`offPath`), and what leaves it
stays only when it is a grey, thin, long line of its own (a second scratch). A speck is a small component of the plain
 * top-hat that stands out even more against its surroundings. The mask grows by one pixel into the fringe where that
 * still stands out, OpenCV's inpainting (Telea) fills it, and only masked pixels change: the rest of the photo is left
 * exactly as it was. Work goes tile by tile with an overlap.
 */
export interface ScratchParams {
  /** Top-hat element side (pixels): structures narrower than about half of it respond. */
  element: number;
  /** Top-hat response that counts as damage (8-bit levels). */
  threshold: number;
  /** Line elements (length in pixels, number of orientations): a scratch pixel lies on a line at least this long. */
  lineLength: number;
  orientations: number;
  /** Longest side of a speck (pixels); a speck must stand out by `speckThreshold` levels. */
  maxSpeck: number;
  speckThreshold: number;
  /** Shortest scratch (pixels) and its widest mean width. */
  minLength: number;
  maxWidth: number;
  /** The anti-aliased fringe: neighbours (up to `fringe` px away) whose top-hat response is at least this join the mask. */
  fringe: number;
  fringeThreshold: number;
  inpaintRadius: number;
  /** A defect has no colour of its own (paper base, dust, hair): the largest median, over its core pixels (within 70 %
   * of its strongest response), of the channel spread (max − min) of the grey layer that best explains each. */
  maxChroma: number;
  /** A speck (or scratch) must stand out this many times more than the texture around it (the local contrast of the
   * picture with specks median-filtered away): dust on a smooth sky, not a highlight in hair. */
  speckRatio: number;
  scratchRatio: number;
}

export interface ScratchReport {
  params: ScratchParams;
  scratches: number;
  specks: number;
  /** Pixels inpainted (mask, dilated by one). */
  pixels: number;
}

const TILE = 512;
const MARGIN = 32;

export function scratchParams(width: number, height: number): ScratchParams {
  const s = Math.min(width, height);
  const odd = (v: number) => 2 * Math.floor(v / 2) + 1;
  // A scratch on a print is a fraction of a millimetre: a few pixels wide in a scan of any size up to 12 MP.
  return {
    element: odd(Math.max(5, 0.0025 * s)),
    threshold: 28,
    // 25 px tells a line from a blob at any size; longer elements cost time per pixel (24 openings) for nothing
    lineLength: 25,
    // 24 orientations: a one-pixel line between two of them still holds a whole element
    orientations: 24,
    maxSpeck: Math.max(5, Math.round(0.004 * s)),
    speckThreshold: 40,
    minLength: Math.max(40, Math.round(0.05 * s)),
    // a 1–3 px scratch with its anti-aliased edges and the top-hat's spread is up to ~5 px across on average
    maxWidth: Math.max(6, Math.round(0.002 * s)),
    fringe: 1,
    fringeThreshold: 45,
    inpaintRadius: 3,
    maxChroma: 4,
    speckRatio: 4,
    scratchRatio: 4,
  };
}

export async function repairScratches(
  cv: CV,
  input: string,
  output: string,
  onProgress?: (f: number) => void,
  override?: Partial<ScratchParams>,
): Promise<ScratchReport> {
  const reader = await RowReader.open(input);
  let writer: RowWriter | undefined;
  const { width: W, height: H } = reader;
  const p = { ...scratchParams(W, H), ...override };
  const report: ScratchReport = { params: p, scratches: 0, specks: 0, pixels: 0 };
  try {
    writer = await RowWriter.create(output, W, H);
    const strip = Buffer.alloc(TILE * W * 3);
    const rows = Math.ceil(H / TILE);
    for (let ty = 0; ty < rows; ty++) {
      const y0 = ty * TILE;
      const th = Math.min(TILE, H - y0);
      for (let x0 = 0; x0 < W; x0 += TILE) {
        const tw = Math.min(TILE, W - x0);
        const rx0 = Math.max(0, x0 - MARGIN);
        const ry0 = Math.max(0, y0 - MARGIN);
        const rx1 = Math.min(W, x0 + tw + MARGIN);
        const ry1 = Math.min(H, y0 + th + MARGIN);
        const rw = rx1 - rx0;
        const rh = ry1 - ry0;
        const region = await reader.readRegion(rx0, ry0, rw, rh);
        const fixed = withMats((keep) => {
          const src = keep(cv.matFromArray(rh, rw, cv.CV_8UC3, region));
          const mask = keep(damageMask(cv, keep, src, p, report, { x0: x0 - rx0, y0: y0 - ry0, w: tw, h: th }));
          if (cv.countNonZero(mask) === 0) return undefined;
          const out = keep(new cv.Mat());
          cv.inpaint(src, mask, out, p.inpaintRadius, cv.INPAINT_TELEA);
          // count only the tile's own pixels (the margin belongs to the neighbours)
          const core = keep(mask.roi(new cv.Rect(x0 - rx0, y0 - ry0, tw, th)));
          report.pixels += cv.countNonZero(core);
          return Buffer.from(out.data);
        });
        const from = fixed ?? region;
        for (let r = 0; r < th; r++) {
          const s = ((r + y0 - ry0) * rw + (x0 - rx0)) * 3;
          from.copy(strip, (r * W + x0) * 3, s, s + tw * 3);
        }
      }
      await writer.write(strip, th);
      onProgress?.((ty + 1) / rows);
    }
    await writer.close();
    return report;
  } catch (e) {
    await writer?.abandon();
    throw e;
  } finally {
    await reader.close();
  }
}

type Keep = <M extends { delete(): void }>(m: M) => M;

/** A line of `length` pixels at `angle` (radians) through the centre of an odd square element. */
function lineElement(cv: CV, length: number, angle: number): InstanceType<CV['Mat']> {
  const n = length | 1;
  const c = (n - 1) / 2;
  const el = new cv.Mat(n, n, cv.CV_8U, new cv.Scalar(0));
  const dx = Math.cos(angle) * c;
  const dy = Math.sin(angle) * c;
  cv.line(
    el,
    new cv.Point(Math.round(c - dx), Math.round(c - dy)),
    new cv.Point(Math.round(c + dx), Math.round(c + dy)),
    new cv.Scalar(1),
    1,
    cv.LINE_8,
  );
  return el;
}

/** Damage mask of one tile (with margin); counts the components whose centre lies in the tile's core. */
function damageMask(
  cv: CV,
  keep: Keep,
  src: InstanceType<CV['Mat']>,
  p: ScratchParams,
  report: ScratchReport,
  core: { x0: number; y0: number; w: number; h: number },
): InstanceType<CV['Mat']> {
  const grey = keep(new cv.Mat());
  cv.cvtColor(src, grey, cv.COLOR_RGB2GRAY);
  const el = keep(cv.getStructuringElement(cv.MORPH_ELLIPSE, new cv.Size(p.element, p.element)));
  const lines = Array.from({ length: p.orientations }, (_, i) =>
    keep(lineElement(cv, p.lineLength, (i * Math.PI) / p.orientations)),
  );
  const mask = new cv.Mat(grey.rows, grey.cols, cv.CV_8U, new cv.Scalar(0));
  const m = mask.data;
  // the picture under the damage: a colour median wide enough to remove lines and specks of any width the top-hat
  // responds to
  const bgMat = keep(new cv.Mat());
  cv.medianBlur(src, bgMat, 2 * p.element + 1);

  // texture: the local contrast (3×3 morphological gradient, averaged) of the picture with specks and scratches
  // median-filtered away
  const med = keep(new cv.Mat());
  cv.medianBlur(grey, med, p.element + 2);
  const r3 = keep(cv.getStructuringElement(cv.MORPH_RECT, new cv.Size(3, 3)));
  const tex = keep(new cv.Mat());
  cv.morphologyEx(med, tex, cv.MORPH_GRADIENT, r3);
  cv.blur(tex, tex, new cv.Size(2 * p.maxSpeck + 1, 2 * p.maxSpeck + 1));
  const t8 = tex.data;
  const ctx: Analysis = { rgb: src.data, bg: bgMat.data, cols: grey.cols };
  const hatMax = keep(new cv.Mat(grey.rows, grey.cols, cv.CV_8U, new cv.Scalar(0)));
  const inCore = (cx: number, cy: number) =>
    cx >= core.x0 && cy >= core.y0 && cx < core.x0 + core.w && cy < core.y0 + core.h;
  for (const op of [cv.MORPH_TOPHAT, cv.MORPH_BLACKHAT]) {
    // hat: how far each pixel stands out of a thin bright (or dark) structure
    const hat = keep(new cv.Mat());
    cv.morphologyEx(grey, hat, op, el);
    cv.max(hatMax, hat, hatMax);
    // line response: the largest opening of the hat by a line element — only pixels on a long thin line keep it
    const lineHat = keep(new cv.Mat(grey.rows, grey.cols, cv.CV_8U, new cv.Scalar(0)));
    const opened = keep(new cv.Mat());
    for (const le of lines) {
      cv.morphologyEx(hat, opened, cv.MORPH_OPEN, le);
      cv.max(lineHat, opened, lineHat);
    }
    const bin = keep(new cv.Mat());
    cv.threshold(lineHat, bin, p.threshold - 1, 255, cv.THRESH_BINARY);
    // specks: small, strong and isolated — everything of the hat, but kept only when its component is tiny
    const speckBin = keep(new cv.Mat());
    cv.threshold(hat, speckBin, p.speckThreshold - 1, 255, cv.THRESH_BINARY);
    for (const [b, kind] of [
      [bin, 'scratch'],
      [speckBin, 'speck'],
    ] as const) {
      const labels = keep(new cv.Mat());
      const stats = keep(new cv.Mat());
      const centroids = keep(new cv.Mat());
      const n = cv.connectedComponentsWithStats(b, labels, stats, centroids, 8, cv.CV_32S);
      const comps = measure(ctx, labels.data32S, hat.data, t8, n);
      const keepLabel = new Uint8Array(n);
      const candidates: number[] = [];
      for (let i = 1; i < n; i++) {
        const c = comps[i];
        const w = stats.intAt(i, cv.CC_STAT_WIDTH);
        const h = stats.intAt(i, cv.CC_STAT_HEIGHT);
        const ratio = kind === 'scratch' ? p.scratchRatio : p.speckRatio;
        const shapeOk =
          kind === 'scratch'
            ? c.width <= p.maxWidth
            : Math.max(w, h) <= p.maxSpeck && c.area <= p.maxSpeck * p.maxSpeck * 0.8;
        const ok = shapeOk && c.peak >= ratio * c.texture && c.chroma <= p.maxChroma;
        if (ok) candidates.push(i);
      }
      if (kind === 'scratch') {
        // a scratch is interrupted where it crosses picture of its own brightness: collinear pieces whose ends meet
        // make one line, and only a long line is a scratch
        for (const group of linkCollinear(comps, candidates, p)) {
          if (group.reduce((sum, i) => sum + comps[i].length, 0) < p.minLength) continue;
          for (const i of group) keepLabel[i] = 1;
          const lead = group[0];
          if (inCore(centroids.doubleAt(lead, 0), centroids.doubleAt(lead, 1))) report.scratches++;
        }
      } else
        for (const i of candidates) {
          keepLabel[i] = 1;
          if (inCore(centroids.doubleAt(i, 0), centroids.doubleAt(i, 1))) report.specks++;
        }
      const L = labels.data32S;
      if (kind === 'scratch') {
        const off = offPath(comps, L, hat.data, grey.cols, keepLabel, p.maxWidth / 2 + 0.5);
        // what left the path may be a second scratch crossing the first: it stays when it is one on its own
        if (off.length) {
          const rest = keep(new cv.Mat(grey.rows, grey.cols, cv.CV_8U, new cv.Scalar(0)));
          // only grey-layer pixels: the picture a crossing picked up has colour of its own
          for (const i of off) if (layerColour(ctx.rgb, ctx.bg, i) <= 3 * p.maxChroma) rest.data[i] = 255;
          const rl = keep(new cv.Mat());
          const rs = keep(new cv.Mat());
          const rc = keep(new cv.Mat());
          const rn = cv.connectedComponentsWithStats(rest, rl, rs, rc, 8, cv.CV_32S);
          const pieces = measure(ctx, rl.data32S, hat.data, t8, rn);
          const back = pieces.map(
            (c, i) =>
              i > 0 &&
              c.length >= p.lineLength &&
              c.width <= p.maxWidth &&
              c.peak >= p.scratchRatio * c.texture &&
              c.chroma <= p.maxChroma,
          );
          const R = rl.data32S;
          const backLabel = Uint8Array.from(back, (b) => (b ? 1 : 0));
          // its own outliers go (one level: what leaves a crossing's second line is picture)
          offPath(pieces, R, hat.data, grey.cols, backLabel, p.maxWidth / 2 + 0.5);
          for (const i of off) if (R[i] > 0 && back[R[i]]) m[i] = 255;
        }
      }
      for (let i = 0; i < L.length; i++) if (L[i] > 0 && keepLabel[L[i]]) m[i] = 255;
    }
  }
  // The anti-aliased fringe is damage too, but only where it still stands out: grow the mask by one pixel at a time
  // into neighbours whose hat response is at least fringeThreshold, so clean pixels next to a scratch stay as they are.
  const d = keep(cv.getStructuringElement(cv.MORPH_RECT, new cv.Size(3, 3)));
  const grown = keep(new cv.Mat());
  const hm = hatMax.data;
  for (let k = 0; k < p.fringe; k++) {
    cv.dilate(mask, grown, d);
    const g = grown.data;
    for (let i = 0; i < g.length; i++) if (g[i] && !m[i] && hm[i] >= p.fringeThreshold) m[i] = 255;
  }
  return mask;
}

/**
 * Where a scratch crosses a thin structure of the picture (an edge, a seam), the two join into one component. A
 * scratch is a smooth path: along its axis, in windows of WINDOW pixels, a straight-line fit of each pixel's offset
 * across the axis (hat-weighted, refitted once without the outliers) leaves the scratch's pixels within `tol` and the
 * picture's beyond it. Those are taken out of the component (their label set to 0 in `L`).
 */
function offPath(
  comps: Component[],
  L: Int32Array,
  hat: Uint8Array,
  cols: number,
  keepLabel: Uint8Array,
  tol: number,
): number[] {
  const off: number[] = [];
  const WINDOW = 8;
  const pixels = new Map<number, number[]>();
  for (let i = 0; i < L.length; i++) {
    const l = L[i];
    if (!keepLabel[l]) continue;
    const list = pixels.get(l);
    if (list) list.push(i);
    else pixels.set(l, [i]);
  }
  for (const [l, list] of pixels) {
    const c = comps[l];
    const n = list.length;
    const t = new Float64Array(n);
    const s = new Float64Array(n);
    let tMin = Infinity;
    for (let k = 0; k < n; k++) {
      const x = list[k] % cols;
      const y = (list[k] - x) / cols;
      t[k] = (x - c.cx) * c.ux + (y - c.cy) * c.uy;
      s[k] = -(x - c.cx) * c.uy + (y - c.cy) * c.ux;
      if (t[k] < tMin) tMin = t[k];
    }
    const bin = (k: number) => Math.floor((t[k] - tMin) / WINDOW);
    const bins = bin(t.reduce((a, v, k) => (v > t[a] ? k : a), 0)) + 1;
    const use = new Uint8Array(n).fill(1);
    let fit = new Float64Array(bins * 2);
    for (let pass = 0; pass < 2; pass++) {
      // sums per bin; each fit uses its bin and both neighbours (a 3-window span bends little)
      const S = new Float64Array(bins * 5);
      for (let k = 0; k < n; k++) {
        if (!use[k]) continue;
        const w = hat[list[k]] + 1;
        const b = bin(k) * 5;
        S[b] += w;
        S[b + 1] += w * t[k];
        S[b + 2] += w * s[k];
        S[b + 3] += w * t[k] * t[k];
        S[b + 4] += w * t[k] * s[k];
      }
      fit = new Float64Array(bins * 2);
      for (let b = 0; b < bins; b++) {
        let w = 0,
          st = 0,
          ss = 0,
          stt = 0,
          sts = 0;
        for (let d = Math.max(0, b - 1); d <= Math.min(bins - 1, b + 1); d++) {
          w += S[d * 5];
          st += S[d * 5 + 1];
          ss += S[d * 5 + 2];
          stt += S[d * 5 + 3];
          sts += S[d * 5 + 4];
        }
        if (w === 0) continue;
        const mt = st / w;
        const ms = ss / w;
        const vt = stt / w - mt * mt;
        const slope = vt > 1e-6 ? (sts / w - mt * ms) / vt : 0;
        fit[b * 2] = ms - slope * mt;
        fit[b * 2 + 1] = slope;
      }
      for (let k = 0; k < n; k++) {
        const b = bin(k);
        use[k] = Math.abs(s[k] - (fit[b * 2] + fit[b * 2 + 1] * t[k])) <= tol ? 1 : 0;
      }
    }
    for (let k = 0; k < n; k++)
      if (!use[k]) {
        L[list[k]] = 0;
        off.push(list[k]);
      }
  }
  return off;
}

interface Analysis {
  rgb: Uint8Array;
  bg: Uint8Array;
  cols: number;
}

interface Component {
  area: number;
  peak: number;
  /** Mean local picture contrast under the component. */
  texture: number;
  /** Channel spread of the colour the defect adds (see `layerColour`), averaged over its core. */
  chroma: number;
  /** Principal axis: centre, unit direction, half-extent along it; `width` = area / length. */
  cx: number;
  cy: number;
  ux: number;
  uy: number;
  half: number;
  length: number;
  width: number;
}

/**
 * Per component: area, strongest response, texture, colour of the defect and principal axis (from second moments
 * and the extreme projections of its pixels).
 */
function measure(a: Analysis, L: Int32Array, hat: Uint8Array, tex: Uint8Array, n: number): Component[] {
  const area = new Float64Array(n);
  const peak = new Float64Array(n);
  const tx = new Float64Array(n);
  const sx = new Float64Array(n);
  const sy = new Float64Array(n);
  const sxx = new Float64Array(n);
  const syy = new Float64Array(n);
  const sxy = new Float64Array(n);
  for (let i = 0; i < L.length; i++) {
    const l = L[i];
    if (l === 0) continue;
    const x = i % a.cols;
    const y = (i - x) / a.cols;
    area[l]++;
    if (hat[i] > peak[l]) peak[l] = hat[i];
    tx[l] += tex[i];
    sx[l] += x;
    sy[l] += y;
    sxx[l] += x * x;
    syy[l] += y * y;
    sxy[l] += x * y;
  }
  const comps: Component[] = [];
  for (let l = 0; l < n; l++) {
    const k = Math.max(1, area[l]);
    const cx = sx[l] / k;
    const cy = sy[l] / k;
    const vxx = sxx[l] / k - cx * cx;
    const vyy = syy[l] / k - cy * cy;
    const vxy = sxy[l] / k - cx * cy;
    const th = 0.5 * Math.atan2(2 * vxy, vxx - vyy);
    comps.push({
      area: area[l],
      peak: peak[l],
      texture: tx[l] / k,
      chroma: 0,
      cx,
      cy,
      ux: Math.cos(th),
      uy: Math.sin(th),
      half: 0,
      length: 0,
      width: 0,
    });
  }
  // the defect's colour: the median over its core of each pixel's layer colour (an edge of the picture under a
  // scratch misleads the background estimate at a few pixels; the median keeps to the rest)
  const BINS = 64;
  const hist = new Uint32Array(n * BINS);
  const cw = new Float64Array(n);
  // pixels on the component's border (a 4-neighbour outside it): about twice a thin band's length, bent or not
  const border = new Float64Array(n);
  const rows = L.length / a.cols;
  const lo = new Float64Array(n).fill(Infinity);
  const hi = new Float64Array(n).fill(-Infinity);
  for (let i = 0; i < L.length; i++) {
    const l = L[i];
    if (l === 0) continue;
    const c = comps[l];
    const x = i % a.cols;
    const y = (i - x) / a.cols;
    if (
      x === 0 ||
      y === 0 ||
      x === a.cols - 1 ||
      y === rows - 1 ||
      L[i - 1] !== l ||
      L[i + 1] !== l ||
      L[i - a.cols] !== l ||
      L[i + a.cols] !== l
    )
      border[l]++;
    const t = (x - c.cx) * c.ux + (y - c.cy) * c.uy;
    if (t < lo[l]) lo[l] = t;
    if (t > hi[l]) hi[l] = t;
    // the core (the fringe is mostly picture): pixels within 30 % of the strongest response
    if (hat[i] < 0.7 * peak[l]) continue;
    cw[l]++;
    hist[l * BINS + Math.min(BINS - 1, Math.floor(layerColour(a.rgb, a.bg, i) / 2))]++;
  }
  for (let l = 1; l < n; l++) {
    const c = comps[l];
    c.length = hi[l] - lo[l] + 1;
    c.half = c.length / 2;
    // re-centre on the extent (the moment centre of a curved piece lies off its ends' midpoint)
    const mid = (hi[l] + lo[l]) / 2;
    c.cx += mid * c.ux;
    c.cy += mid * c.uy;
    // a curved scratch spans less than its length along its axis: the border tells the length too
    c.width = c.area / Math.max(c.length, border[l] / 2);
    let b = 0;
    for (let seen = hist[l * BINS]; b < BINS - 1 && seen < cw[l] / 2; seen += hist[l * BINS + b]) b++;
    c.chroma = 2 * b + 1;
  }
  return comps;
}

/**
 * How coloured the layer is that turned the picture (`bg`) into what is seen (`rgb`) at pixel i. Dust, hair and
 * scratches into the paper base have no colour of their own but may cover a pixel only partly: seen = bg + a (g −
 * bg) for a grey g and a coverage a ∈ (0, 1]. The coverage that best explains the pixel with a grey layer is fitted
 * (least squares across the channels); the spread of the implied layer colour bg + (seen − bg) / a is returned.
 */
function layerColour(rgb: Uint8Array, bg: Uint8Array, i: number): number {
  const o = i * 3;
  const d0 = rgb[o] - bg[o];
  const d1 = rgb[o + 1] - bg[o + 1];
  const d2 = rgb[o + 2] - bg[o + 2];
  const dm = (d0 + d1 + d2) / 3;
  const bm = (bg[o] + bg[o + 1] + bg[o + 2]) / 3;
  const u0 = d0 - dm;
  const u1 = d1 - dm;
  const u2 = d2 - dm;
  const v0 = bg[o] - bm;
  const v1 = bg[o + 1] - bm;
  const v2 = bg[o + 2] - bm;
  const vv = v0 * v0 + v1 * v1 + v2 * v2;
  // a grey picture: whatever colour the change has is the layer's
  let a = vv < 9 ? 1 : -(u0 * v0 + u1 * v1 + u2 * v2) / vv;
  a = Math.min(1, Math.max(0.15, a));
  const c0 = bg[o] + d0 / a;
  const c1 = bg[o + 1] + d1 / a;
  const c2 = bg[o + 2] + d2 / a;
  return Math.max(c0, c1, c2) - Math.min(c0, c1, c2);
}

/**
 * Groups of candidate pieces that continue one another: the nearest ends of two pieces at most one line element
 * apart, both pieces and the gap between them running the same way (within 25°; a scratch bends gently).
 */
function linkCollinear(comps: Component[], ids: number[], p: ScratchParams): number[][] {
  const parent = new Map(ids.map((i) => [i, i]));
  const find = (i: number): number => {
    let r = i;
    while (parent.get(r) !== r) r = parent.get(r) as number;
    parent.set(i, r);
    return r;
  };
  const cosMax = Math.cos((25 * Math.PI) / 180);
  const ends = (c: Component) => [
    [c.cx - c.ux * c.half, c.cy - c.uy * c.half],
    [c.cx + c.ux * c.half, c.cy + c.uy * c.half],
  ];
  for (let x = 0; x < ids.length; x++)
    for (let y = x + 1; y < ids.length; y++) {
      const a = comps[ids[x]];
      const b = comps[ids[y]];
      if (Math.abs(a.ux * b.ux + a.uy * b.uy) < cosMax) continue;
      let best = Infinity;
      let gap: number[] = [0, 0];
      for (const ea of ends(a))
        for (const eb of ends(b)) {
          const d = Math.hypot(ea[0] - eb[0], ea[1] - eb[1]);
          if (d < best) {
            best = d;
            gap = [eb[0] - ea[0], eb[1] - ea[1]];
          }
        }
      if (best > p.lineLength) continue;
      if (best > 3) {
        const gx = gap[0] / best;
        const gy = gap[1] / best;
        if (Math.abs(gx * a.ux + gy * a.uy) < cosMax || Math.abs(gx * b.ux + gy * b.uy) < cosMax) continue;
      }
      parent.set(find(ids[x]), find(ids[y]));
    }
  const groups = new Map<number, number[]>();
  for (const i of ids) {
    const r = find(i);
    const g = groups.get(r) ?? [];
    g.push(i);
    groups.set(r, g);
  }
  return [...groups.values()];
}

import { RowReader, RowWriter } from '../filters/raw-image.js';
import { type CV, withMats } from './cv.js';

/**
 * Scratches and dust on a scanned print: thin lines and specks much brighter or darker than what surrounds them.
 * Morphological top-hats (white: the image minus its opening; black: its closing minus the image) with a small element
 * keep only structures a few pixels wide. A scratch pixel must also lie on a long line: the top-hat opened by line
 * elements at 12 orientations keeps its response only there, and a connected component of that is a scratch when it
 * is long, thin on average, colourless in its core (paper base, hair, dust have no colour of their own) and stands out
 * well above the picture's local contrast. A speck is a small component of the plain top-hat that stands out even more
 * against its surroundings. The mask grows by one pixel into the fringe where that still stands out, OpenCV's
 * inpainting (Telea) fills it, and only masked pixels change: the rest of the photo is left exactly as it was. Work
 * goes tile by tile with an overlap.
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
  /** A defect has no colour of its own (paper base, dust, hair): the largest mean channel spread (max − min) of its
   * core (the pixels within 70 % of its strongest response; the fringe is mixed with the picture). */
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
    orientations: 12,
    maxSpeck: Math.max(5, Math.round(0.004 * s)),
    speckThreshold: 40,
    minLength: Math.max(40, Math.round(0.05 * s)),
    maxWidth: Math.max(4, Math.round(0.0015 * s)),
    fringe: 1,
    fringeThreshold: 20,
    inpaintRadius: 3,
    maxChroma: 20,
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
  const rgb = src.data;
  // texture: the local contrast (3×3 morphological gradient, averaged) of the picture with specks and scratches
  // median-filtered away
  const med = keep(new cv.Mat());
  cv.medianBlur(grey, med, p.element + 2);
  const r3 = keep(cv.getStructuringElement(cv.MORPH_RECT, new cv.Size(3, 3)));
  const tex = keep(new cv.Mat());
  cv.morphologyEx(med, tex, cv.MORPH_GRADIENT, r3);
  cv.blur(tex, tex, new cv.Size(2 * p.maxSpeck + 1, 2 * p.maxSpeck + 1));
  const t8 = tex.data;
  const hatMax = keep(new cv.Mat(grey.rows, grey.cols, cv.CV_8U, new cv.Scalar(0)));
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
      const keepLabel = new Uint8Array(n);
      const L = labels.data32S;
      const chroma = new Float64Array(n);
      const peak = new Float64Array(n);
      const tx = new Float64Array(n);
      const h8 = hat.data;
      for (let i = 0; i < L.length; i++) {
        const l = L[i];
        if (l === 0) continue;
        if (h8[i] > peak[l]) peak[l] = h8[i];
        tx[l] += t8[i];
      }
      // colour of the defect's core (its strongest pixels; the fringe is mixed with the picture)
      const coreN = new Float64Array(n);
      for (let i = 0; i < L.length; i++) {
        const l = L[i];
        if (l === 0 || h8[i] < 0.7 * peak[l]) continue;
        coreN[l]++;
        chroma[l] +=
          Math.max(rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]) - Math.min(rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]);
      }
      for (let i = 1; i < n; i++) {
        const w = stats.intAt(i, cv.CC_STAT_WIDTH);
        const h = stats.intAt(i, cv.CC_STAT_HEIGHT);
        const area = stats.intAt(i, cv.CC_STAT_AREA);
        const length = Math.hypot(w, h);
        const ok =
          kind === 'scratch'
            ? length >= p.minLength && area / length <= p.maxWidth
            : Math.max(w, h) <= p.maxSpeck && area <= p.maxSpeck * p.maxSpeck * 0.8;
        if (!ok) continue;
        if (peak[i] < (kind === 'scratch' ? p.scratchRatio : p.speckRatio) * (tx[i] / area)) continue;
        if (chroma[i] / coreN[i] > p.maxChroma) continue;
        keepLabel[i] = 1;
        const cx = centroids.doubleAt(i, 0);
        const cy = centroids.doubleAt(i, 1);
        if (cx >= core.x0 && cy >= core.y0 && cx < core.x0 + core.w && cy < core.y0 + core.h) {
          if (kind === 'scratch') report.scratches++;
          else report.specks++;
        }
      }
      for (let i = 0; i < L.length; i++) if (keepLabel[L[i]]) m[i] = 255;
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

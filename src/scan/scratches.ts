import { RowReader, RowWriter } from '../filters/raw-image.js';
import { type CV, withMats } from './cv.js';

/**
 * Scratches and dust on a scanned print: thin lines and specks much brighter or darker than what surrounds them.
 * Morphological top-hats (white: the image minus its opening; black: its closing minus the image) with an element
 * wider than any scratch keep exactly such thin structures; a threshold and a shape test per connected component
 * (long and thin → scratch, small and compact → speck, anything else is picture detail and stays) give the damage
 * mask, and OpenCV's inpainting (Telea) fills it from the surroundings. Work goes tile by tile with an overlap, and
 * only masked pixels change: the rest of the photo is left exactly as it was.
 */
export interface ScratchParams {
  /** Top-hat element side (pixels). */
  element: number;
  /** Top-hat response that counts as damage (8-bit levels). */
  threshold: number;
  /** Longest side of a speck (pixels). */
  maxSpeck: number;
  /** Shortest scratch (pixels) and its widest mean width. */
  minLength: number;
  maxWidth: number;
  inpaintRadius: number;
  /** A bright defect's mean grey at least this (a scratch shows the white paper base), a dark one's at most 255 − this. */
  extreme: number;
  /** Largest mean channel spread (max − min) of a defect: paper base and dust are colourless. */
  maxChroma: number;
  /** Fraction of a defect's pixels that must be that extreme and colourless (the rest is its anti-aliased fringe). */
  minPure: number;
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
  // A scratch on a print is a fraction of a millimetre: ≤ ~0.3 % of the short side, at least 3 px.
  const maxWidth = Math.max(6, Math.round(0.004 * s));
  return {
    element: 2 * maxWidth + 3,
    threshold: 30,
    maxSpeck: Math.max(6, Math.round(0.008 * s)),
    minLength: Math.max(12, Math.round(0.03 * s)),
    maxWidth,
    inpaintRadius: 3,
    extreme: 185,
    maxChroma: 24,
    minPure: 0.3,
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
  const mask = new cv.Mat(grey.rows, grey.cols, cv.CV_8U, new cv.Scalar(0));
  const rgb = src.data;
  const g8 = grey.data;
  for (const op of [cv.MORPH_TOPHAT, cv.MORPH_BLACKHAT]) {
    const bright = op === cv.MORPH_TOPHAT;
    const hat = keep(new cv.Mat());
    cv.morphologyEx(grey, hat, op, el);
    const bin = keep(new cv.Mat());
    cv.threshold(hat, bin, p.threshold, 255, cv.THRESH_BINARY);
    const labels = keep(new cv.Mat());
    const stats = keep(new cv.Mat());
    const centroids = keep(new cv.Mat());
    const n = cv.connectedComponentsWithStats(bin, labels, stats, centroids, 8, cv.CV_32S);
    const keepLabel = new Uint8Array(n);
    // How many of each component's pixels are extreme and colourless: picture detail is thin and contrasty too, but a defect is the
    // paper base (white) or dust and hair (near black), and has no colour of its own.
    const L0 = labels.data32S;
    const pure = new Float64Array(n);
    for (let i = 0; i < L0.length; i++) {
      const l = L0[i];
      if (l === 0) continue;
      const r = rgb[i * 3];
      const gg = rgb[i * 3 + 1];
      const b = rgb[i * 3 + 2];
      const y = g8[i];
      if ((bright ? y >= p.extreme : y <= 255 - p.extreme) && Math.max(r, gg, b) - Math.min(r, gg, b) <= p.maxChroma)
        pure[l]++;
    }
    for (let i = 1; i < n; i++) {
      const w = stats.intAt(i, cv.CC_STAT_WIDTH);
      const h = stats.intAt(i, cv.CC_STAT_HEIGHT);
      const area = stats.intAt(i, cv.CC_STAT_AREA);
      const length = Math.hypot(w, h);
      const speck = Math.max(w, h) <= p.maxSpeck && area <= p.maxSpeck * p.maxSpeck * 0.8;
      const scratch = length >= p.minLength && area / length <= p.maxWidth;
      if (!speck && !scratch) continue;
      if (pure[i] / area < p.minPure) continue;
      keepLabel[i] = 1;
      const cx = centroids.doubleAt(i, 0);
      const cy = centroids.doubleAt(i, 1);
      if (cx >= core.x0 && cy >= core.y0 && cx < core.x0 + core.w && cy < core.y0 + core.h) {
        if (scratch) report.scratches++;
        else report.specks++;
      }
    }
    const L = labels.data32S;
    const m = mask.data;
    for (let i = 0; i < L.length; i++) if (keepLabel[L[i]]) m[i] = 255;
  }
  // One more pixel all round: the anti-aliased fringe of a scratch is damage too.
  const d = keep(cv.getStructuringElement(cv.MORPH_RECT, new cv.Size(3, 3)));
  cv.dilate(mask, mask, d);
  return mask;
}

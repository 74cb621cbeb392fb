import sharp from 'sharp';
import { ellipseMask, faceRegion } from '../filters/faces.js';
import { BufferRows, runModel, UPSCALE_MODEL, upscaleTiling } from '../filters/model-filters.js';
import { readVSize } from '../filters/raw-image.js';
import { mapRows } from '../filters/strips.js';
import type { FaceFinder, FilterContext } from '../filters/types.js';

/**
 * Small faces on an old print are a few dozen pixels of mush; Real-ESRGAN (×4) rebuilds plausible edges from them.
 * Each small face's crop (with a margin) goes through the model, is brought back to its own size (Lanczos: the
 * model's detail survives the reduction, its size does not change the photo's), and is blended in through a
 * feathered ellipse, so no seam shows. Large faces already have their detail and are left alone; the count is
 * bounded so a crowd photo does not run the model a hundred times.
 */
export const SMALL_FACE = 160;
export const MAX_FACES = 12;
const MARGIN = 0.3;
const FEATHER = 0.35;

export interface FacesReport {
  model: string;
  found: number;
  enhanced: number;
  smallFace: number;
  margin: number;
  feather: number;
  boxes: [number, number, number, number][];
}

export async function enhanceSmallFaces(
  input: string,
  output: string,
  finder: FaceFinder,
  ctx: FilterContext,
): Promise<FacesReport> {
  const { width: W, height: H } = await readVSize(input);
  const faces = await finder.find(input);
  const small = faces
    .filter((f) => Math.max(f.box[2], f.box[3]) <= SMALL_FACE)
    .sort((a, b) => b.score - a.score)
    .slice(0, MAX_FACES);
  const patches: { left: number; top: number; width: number; height: number; data: Buffer; mask: Uint8Array }[] = [];
  for (const [i, face] of small.entries()) {
    const r = faceRegion(face, MARGIN, W, H);
    if (!r || r.width < 8 || r.height < 8) continue;
    const crop = await sharp(input).extract(r).raw().toBuffer();
    const up = new BufferRows(Buffer.alloc(r.width * r.height * 48), r.width * 4, r.height * 4);
    await runModel(UPSCALE_MODEL, new BufferRows(crop, r.width, r.height), up, 4, upscaleTiling(ctx.tileSize), {
      ...ctx,
      onProgress: (f) => ctx.onProgress((i + f) / small.length),
    });
    const back = await sharp(up.data, { raw: { width: up.width, height: up.height, channels: 3 } })
      .resize(r.width, r.height, { kernel: 'lanczos3', fit: 'fill' })
      .raw()
      .toBuffer();
    patches.push({ ...r, data: back, mask: ellipseMask(r.width, r.height, FEATHER) });
  }
  await mapRows(input, output, (rows, y0, n, width) => {
    for (const p of patches) {
      const a = Math.max(y0, p.top);
      const b = Math.min(y0 + n, p.top + p.height);
      for (let y = a; y < b; y++)
        for (let x = 0; x < p.width; x++) {
          const m = p.mask[(y - p.top) * p.width + x] / 255;
          if (m === 0) continue;
          const d = ((y - y0) * width + p.left + x) * 3;
          const s = ((y - p.top) * p.width + x) * 3;
          for (let c = 0; c < 3; c++) rows[d + c] = Math.round(rows[d + c] + m * (p.data[s + c] - rows[d + c]));
        }
    }
  });
  ctx.onProgress(1);
  return {
    model: UPSCALE_MODEL,
    found: faces.length,
    enhanced: patches.length,
    smallFace: SMALL_FACE,
    margin: MARGIN,
    feather: FEATHER,
    boxes: small.map((f) => f.box.map((v) => Math.round(v)) as [number, number, number, number]),
  };
}

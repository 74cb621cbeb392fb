import { promises as fs } from 'node:fs';
import sharp from 'sharp';
import { UnavailableError } from '../util/errors.js';
import { blurBackground, subjectMask } from './background-blur.js';
import { ellipseMask, type Face, faceRegion } from './faces.js';
import { BufferRows, DENOISE_MODELS, denoiseTiling, runModel } from './model-filters.js';
import { readVSize } from './raw-image.js';
import { sharpPass } from './strips.js';
import type { FilterContext, FilterDef, ParamValues } from './types.js';

async function findFaces(input: string, ctx: FilterContext): Promise<Face[]> {
  if (!ctx.faces)
    throw new UnavailableError(
      'face detection is not available (vision.faces disabled or model missing)',
      'faces-unavailable',
    );
  return ctx.faces.find(input);
}

export const privacy: FilterDef = {
  name: 'privacy',
  title: 'Privacy',
  description: 'Blurs or pixelates every detected face.',
  kind: 'composite',
  cost: 'medium',
  needsFaces: true,
  params: {
    mode: { type: 'enum', values: ['blur', 'pixelate'], default: 'blur', description: 'how faces are hidden' },
  },
  async apply(input, output, p, ctx) {
    const faces = await findFaces(input, ctx);
    const meta = await sharp(input).metadata();
    const W = meta.width ?? 0;
    const H = meta.height ?? 0;
    const overlays: sharp.OverlayOptions[] = [];
    for (const face of faces) {
      // Generous margin: hair, ears and jaw identify people too.
      const r = faceRegion(face, 0.25, W, H);
      if (!r) continue;
      const crop = sharp(input).extract(r);
      let hidden: Buffer;
      if (p.mode === 'pixelate') {
        const block = Math.max(4, Math.round(Math.max(r.width, r.height) / 10));
        const small = await crop
          .resize(Math.max(1, Math.round(r.width / block)), Math.max(1, Math.round(r.height / block)), {
            kernel: 'cubic',
          })
          .raw()
          .toBuffer({ resolveWithObject: true });
        hidden = await sharp(small.data, { raw: small.info })
          .resize(r.width, r.height, { kernel: 'nearest', fit: 'fill' })
          .png()
          .toBuffer();
      } else {
        hidden = await crop
          .blur(Math.max(4, Math.max(r.width, r.height) / 6))
          .png()
          .toBuffer();
      }
      overlays.push({ input: hidden, left: r.left, top: r.top });
      ctx.onProgress(overlays.length / Math.max(1, faces.length));
    }
    if (overlays.length === 0) {
      await fs.copyFile(input, output);
      return;
    }
    await sharpPass(input, output, (img) => img.composite(overlays));
  },
};

export const portrait: FilterDef = {
  name: 'portrait',
  title: 'Portrait',
  description:
    'Blurs the background behind the people (person segmentation, edge-aware; around the faces when no person is found) and denoises and smooths the faces.',
  kind: 'composite',
  cost: 'heavy',
  needsFaces: true,
  params: {
    blur: { type: 'number', min: 0, max: 1, default: 0.5, description: 'background blur (0 keeps the background)' },
    strength: {
      type: 'enum',
      values: ['normal', 'strong'],
      default: 'strong',
      description: 'denoise model used on faces',
    },
    smooth: { type: 'number', min: 0, max: 1, default: 0.3, description: 'extra skin smoothing on top of denoising' },
  },
  models: (p) => [DENOISE_MODELS[String(p.strength)]],
  async apply(input, output, p, ctx) {
    const faces = await findFaces(input, ctx);
    const blur = Number(p.blur);
    const restored = blur > 0 ? ctx.tempFile('.v') : output;
    const part = (from: number, to: number) => (f: number) => ctx.onProgress(from + f * (to - from));
    await restoreFaces(input, restored, faces, p, { ...ctx, onProgress: part(0, blur > 0 ? 0.6 : 1) });
    if (blur <= 0) return;
    const { width, height } = await readVSize(restored);
    const subject = await subjectMask(restored, width, height, faces, ctx);
    if (!subject) {
      await fs.copyFile(restored, output);
      return;
    }
    await blurBackground(restored, output, subject, blur, { signal: ctx.signal, onProgress: part(0.6, 1) });
  },
};

/** Denoises and smooths inside feathered face ellipses; the rest of the photo is copied as it is. */
async function restoreFaces(
  input: string,
  output: string,
  faces: Face[],
  p: ParamValues,
  ctx: FilterContext,
): Promise<void> {
  const meta = await sharp(input).metadata();
  const W = meta.width ?? 0;
  const H = meta.height ?? 0;
  const overlays: sharp.OverlayOptions[] = [];
  const smooth = Number(p.smooth);
  let i = 0;
  for (const face of faces) {
    const r = faceRegion(face, 0.3, W, H);
    if (!r) continue;
    let raw = await sharp(input).extract(r).raw().toBuffer();
    if (smooth > 0) {
      const sigma = 0.3 + smooth * Math.max(r.width, r.height) * 0.006;
      raw = await sharp(raw, { raw: { width: r.width, height: r.height, channels: 3 } })
        .blur(sigma)
        .raw()
        .toBuffer();
    }
    const rows = new BufferRows(Buffer.from(raw), r.width, r.height);
    const base = i / faces.length;
    await runModel(DENOISE_MODELS[String(p.strength)], rows, rows, 1, denoiseTiling(ctx.tileSize), {
      ...ctx,
      onProgress: (f) => ctx.onProgress(base + f / faces.length),
    });
    const mask = ellipseMask(r.width, r.height, 0.35);
    const rgba = Buffer.allocUnsafe(r.width * r.height * 4);
    for (let k = 0, n = r.width * r.height; k < n; k++) {
      rgba[k * 4] = rows.data[k * 3];
      rgba[k * 4 + 1] = rows.data[k * 3 + 1];
      rgba[k * 4 + 2] = rows.data[k * 3 + 2];
      rgba[k * 4 + 3] = mask[k];
    }
    overlays.push({ input: rgba, raw: { width: r.width, height: r.height, channels: 4 }, left: r.left, top: r.top });
    i++;
  }
  if (overlays.length === 0) {
    await fs.copyFile(input, output);
    return;
  }
  await sharpPass(input, output, (img) => img.composite(overlays));
}

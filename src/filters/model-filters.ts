import { ValidationError } from '../util/errors.js';
import { ort } from '../vision/onnx.js';
import { RowReader, RowWriter } from './raw-image.js';
import { type RowSink, type RowSource, runTiled, sessionRunner } from './tiled-model.js';
import type { FilterContext, FilterDef } from './types.js';

export const DENOISE_MODELS: Record<string, string> = {
  // IRCNN M: +6 dB at σ=25, IRCNN L: +10 dB (MANIFEST.md); "normal" keeps more fine texture.
  normal: 'IRCNN_Mx1_fp16',
  strong: 'IRCNN_Lx1_fp16',
};
export const UPSCALE_MODEL = 'RealESR_Gx4_fp16';

/** Model tile geometry. Overlap covers most of each net's receptive field (IRCNN: 33 px). */
export function denoiseTiling(tileSize: number) {
  return { tile: tileSize, overlap: 16 };
}
export function upscaleTiling(tileSize: number) {
  // ×4 output: a quarter of the tile keeps the float accumulator (16× the input strip) small.
  return { tile: Math.max(32, Math.round(tileSize / 4)), overlap: 10 };
}

/** Runs a model over a source in tiles; the session stays loaded (in flight) for the whole image. */
export async function runModel(
  model: string,
  src: RowSource,
  sink: RowSink,
  scale: number,
  tiling: { tile: number; overlap: number },
  ctx: FilterContext,
): Promise<void> {
  const lazy = await ctx.models.session(model);
  await lazy.run((session) =>
    runTiled(src, sink, sessionRunner(session, ort.Tensor), {
      scale,
      ...tiling,
      signal: ctx.signal,
      onProgress: ctx.onProgress,
      onRunMs: ctx.onRunMs,
    }),
  );
}

export async function runModelFile(
  model: string,
  input: string,
  output: string,
  scale: number,
  tiling: { tile: number; overlap: number },
  ctx: FilterContext,
): Promise<void> {
  const reader = await RowReader.open(input);
  let writer: RowWriter | undefined;
  try {
    writer = await RowWriter.create(output, reader.width * scale, reader.height * scale);
    await runModel(model, reader, writer, scale, tiling, ctx);
    await writer.close();
  } catch (e) {
    await writer?.abandon();
    throw e;
  } finally {
    await reader.close();
  }
}

/** In-memory RGB rows (face crops). */
export class BufferRows implements RowSource, RowSink {
  private written = 0;
  constructor(
    readonly data: Buffer,
    readonly width: number,
    readonly height: number,
  ) {}
  async read(y: number, n: number): Promise<Buffer> {
    return this.data.subarray(y * this.width * 3, (y + n) * this.width * 3);
  }
  async write(rows: Buffer, n: number): Promise<void> {
    rows.copy(this.data, this.written * this.width * 3, 0, n * this.width * 3);
    this.written += n;
  }
}

export const denoise: FilterDef = {
  name: 'denoise',
  title: 'Denoise',
  description: 'Removes sensor noise with the IRCNN network (normal or strong model).',
  kind: 'model',
  cost: 'heavy',
  params: {
    strength: {
      type: 'enum',
      values: ['normal', 'strong'],
      default: 'normal',
      description: 'normal = IRCNN M, strong = IRCNN L',
    },
  },
  models: (p) => [DENOISE_MODELS[String(p.strength)]],
  apply: (input, output, p, ctx) =>
    runModelFile(DENOISE_MODELS[String(p.strength)], input, output, 1, denoiseTiling(ctx.tileSize), ctx),
};

export const upscale: FilterDef = {
  name: 'upscale',
  title: 'Upscale ×4',
  description: 'Super-resolution ×4 with Real-ESRGAN (general model); output capped by filters.maxOutputMegapixels.',
  kind: 'model',
  cost: 'heavy',
  params: {},
  models: () => [UPSCALE_MODEL],
  outputSize: (size, _p, ctx) => {
    const out = { width: size.width * 4, height: size.height * 4 };
    const mp = (out.width * out.height) / 1e6;
    if (mp > ctx.maxOutputMegapixels) {
      throw new ValidationError(
        `upscale would make a ${out.width}x${out.height} image (${mp.toFixed(1)} MP), above filters.maxOutputMegapixels (${ctx.maxOutputMegapixels} MP); use an image of at most ${(((ctx.maxOutputMegapixels / 16) * 1e6) / 1e6).toFixed(2)} MP`,
        { width: out.width, height: out.height },
        'too-large',
      );
    }
    return out;
  },
  apply: (input, output, _p, ctx) => runModelFile(UPSCALE_MODEL, input, output, 4, upscaleTiling(ctx.tileSize), ctx),
};

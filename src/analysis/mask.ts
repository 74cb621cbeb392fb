import type { ort } from '../vision/onnx.js';
import { stretch } from './align.js';
import { type Buffers, FRESH } from './scratch.js';
import type { PersonMask, RgbImage } from './types.js';

/** The two MediaPipe selfie-segmentation grids (MANIFEST): width × height of the model input and output. */
export const MASK_GRIDS: Record<string, { width: number; height: number }> = {
  selfie_seg: { width: 256, height: 256 },
  selfie_seg_landscape: { width: 256, height: 144 },
};

/** The image stretched to the grid (MediaPipe's selfie segmentation does not keep the aspect ratio), RGB 0..1 NHWC. */
export function maskInput(img: RgbImage, grid: { width: number; height: number }, buf: Buffers = FRESH): Float32Array {
  const out = buf.f32('mask', grid.width * grid.height * 3);
  stretch(img, grid.width, grid.height, undefined, out, grid.width * 3, 1 / 255);
  return out;
}

export function maskTensor(
  img: RgbImage,
  grid: { width: number; height: number },
  Tensor: typeof ort.Tensor,
  buf: Buffers = FRESH,
): ort.Tensor {
  return new Tensor('float32', maskInput(img, grid, buf), [1, grid.height, grid.width, 3]);
}

export async function runMask(
  session: ort.InferenceSession,
  img: RgbImage,
  grid: { width: number; height: number },
  Tensor: typeof ort.Tensor,
  buf: Buffers = FRESH,
): Promise<PersonMask> {
  const out = (await session.run({ [session.inputNames[0]]: maskTensor(img, grid, Tensor, buf) }))[
    session.outputNames[0]
  ];
  // the binding hands back a fresh copy of every output: ours to keep
  const data = out.data as Float32Array;
  if (data.length !== grid.width * grid.height)
    throw new Error(`mask model gave ${data.length} values, expected ${grid.width * grid.height}`);
  let on = 0;
  for (let i = 0; i < data.length; i++) if (data[i] >= 0.5) on++;
  return {
    width: grid.width,
    height: grid.height,
    data,
    imageWidth: img.width,
    imageHeight: img.height,
    coverage: on / data.length,
  };
}

import type { ort } from '../vision/onnx.js';
import { renderCrop } from './align.js';
import type { PersonMask, RgbImage } from './types.js';

/** The two MediaPipe selfie-segmentation grids (MANIFEST): width × height of the model input and output. */
export const MASK_GRIDS: Record<string, { width: number; height: number }> = {
  selfie_seg: { width: 256, height: 256 },
  selfie_seg_landscape: { width: 256, height: 144 },
};

/** The image stretched to the grid (MediaPipe's selfie segmentation does not keep the aspect ratio), RGB 0..1 NHWC. */
export function maskInput(img: RgbImage, grid: { width: number; height: number }): Float32Array {
  const sx = img.width / grid.width;
  const sy = img.height / grid.height;
  const rgb = renderCrop(img, {
    map: [sx, 0, 0.5 * sx - 0.5, 0, sy, 0.5 * sy - 0.5],
    width: grid.width,
    height: grid.height,
    sourceSide: Math.max(grid.width, grid.height) * Math.min(sx, sy),
  });
  const out = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) out[i] = rgb[i] / 255;
  return out;
}

export async function runMask(
  session: ort.InferenceSession,
  img: RgbImage,
  grid: { width: number; height: number },
  Tensor: typeof ort.Tensor,
): Promise<PersonMask> {
  const feeds = {
    [session.inputNames[0]]: new Tensor('float32', maskInput(img, grid), [1, grid.height, grid.width, 3]),
  };
  const out = (await session.run(feeds))[session.outputNames[0]];
  const data = Float32Array.from(out.data as Float32Array);
  if (data.length !== grid.width * grid.height)
    throw new Error(`mask model gave ${data.length} values, expected ${grid.width * grid.height}`);
  let on = 0;
  for (const v of data) if (v >= 0.5) on++;
  return {
    width: grid.width,
    height: grid.height,
    data,
    imageWidth: img.width,
    imageHeight: img.height,
    coverage: on / data.length,
  };
}

import type { ort } from '../vision/onnx.js';
import { EXPRESSION_CROP, renderCrop, squareCrop, toGrey } from './align.js';
import { type Buffers, FRESH } from './scratch.js';
import { EXPRESSION_NAMES, type Expression, type Face, type RgbImage } from './types.js';

/**
 * Faces whose box is smaller than this (longest side, in the pixels analysed) get no expression: FER-2013 was
 * trained on 48-pixel faces, and below about half of that the crop is a blur of a few pixels (see README).
 */
export const EXPRESSION_MIN_FACE = 20;

const PLANE = EXPRESSION_CROP * EXPRESSION_CROP;
/** (v/255 − 0.5)·2 for every grey level, each step in float32 as numpy does it. */
const NORM = (() => {
  const f = Math.fround;
  const t = new Float32Array(256);
  for (let v = 0; v < 256; v++) t[v] = f(f(f(v / 255) - 0.5) * 2);
  return t;
})();

/**
 * fer_mini_xception's input for these faces: [N, 64, 64, 1] NHWC grey, (x/255 − 0.5)·2, on the MANIFEST's square
 * crop. The float steps are done in float32 as numpy does them.
 */
export function expressionInput(img: RgbImage, faces: readonly Face[], buf: Buffers = FRESH): Float32Array {
  const out = buf.f32('expression', faces.length * PLANE);
  const rgb = buf.u8('expression.rgb', PLANE * 3);
  const grey = buf.u8('expression.grey', PLANE);
  faces.forEach((face, i) => {
    renderCrop(img, squareCrop(face.box), rgb, buf);
    toGrey(rgb, grey);
    for (let k = 0; k < PLANE; k++) out[i * PLANE + k] = NORM[grey[k]];
  });
  return out;
}

export function expressionTensor(
  img: RgbImage,
  faces: readonly Face[],
  Tensor: typeof ort.Tensor,
  buf: Buffers = FRESH,
): ort.Tensor {
  return new Tensor('float32', expressionInput(img, faces, buf), [faces.length, EXPRESSION_CROP, EXPRESSION_CROP, 1]);
}

/** Runs the model on a batch made by expressionTensor; probabilities per face in EXPRESSION_NAMES order. */
export async function runExpression(session: ort.InferenceSession, input: ort.Tensor): Promise<Expression[]> {
  const n = input.dims[0];
  const out = (await session.run({ [session.inputNames[0]]: input }))[session.outputNames[0]];
  const p = out.data as Float32Array;
  if (p.length !== n * EXPRESSION_NAMES.length)
    throw new Error(`expression model gave ${p.length} values for ${n} faces`);
  const res: Expression[] = [];
  for (let i = 0; i < n; i++) {
    const e = {} as Expression;
    EXPRESSION_NAMES.forEach((name, k) => {
      e[name] = p[i * EXPRESSION_NAMES.length + k];
    });
    res.push(e);
  }
  return res;
}

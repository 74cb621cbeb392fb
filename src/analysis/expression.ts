import type { ort } from '../vision/onnx.js';
import { EXPRESSION_CROP, renderCrop, squareCrop, toGrey } from './align.js';
import { EXPRESSION_NAMES, type Expression, type Face, type RgbImage } from './types.js';

/**
 * Faces whose box is smaller than this (longest side, in the pixels analysed) get no expression: FER-2013 was
 * trained on 48-pixel faces, and below about half of that the crop is a blur of a few pixels (see README).
 */
export const EXPRESSION_MIN_FACE = 20;

const PLANE = EXPRESSION_CROP * EXPRESSION_CROP;

/**
 * fer_mini_xception's input for these faces: [N, 64, 64, 1] NHWC grey, (x/255 − 0.5)·2, on the MANIFEST's square
 * crop. The float steps are done in float32 as numpy does them.
 */
export function expressionInput(img: RgbImage, faces: readonly Face[]): Float32Array {
  const out = new Float32Array(faces.length * PLANE);
  const rgb = new Uint8Array(PLANE * 3);
  const grey = new Uint8Array(PLANE);
  const f = Math.fround;
  const norm = new Float32Array(256);
  for (let v = 0; v < 256; v++) norm[v] = f(f(f(v / 255) - 0.5) * 2);
  faces.forEach((face, i) => {
    renderCrop(img, squareCrop(face.box), rgb);
    toGrey(rgb, grey);
    for (let k = 0; k < PLANE; k++) out[i * PLANE + k] = norm[grey[k]];
  });
  return out;
}

export function expressionTensor(img: RgbImage, faces: readonly Face[], Tensor: typeof ort.Tensor): ort.Tensor {
  return new Tensor('float32', expressionInput(img, faces), [faces.length, EXPRESSION_CROP, EXPRESSION_CROP, 1]);
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

import type { ort } from '../vision/onnx.js';
import { DESCRIPTOR_CHIP, faceChip, renderCrop } from './align.js';
import { type Buffers, FRESH } from './scratch.js';
import { DESCRIPTOR_LENGTH, type Descriptor, type Face, type RgbImage } from './types.js';

/**
 * Faces whose box is smaller than this (longest side, in the pixels analysed) get no descriptor: the 150-pixel chip
 * would be upsampled more than about 3× from a face this small, and identities stop separating (see README).
 */
export const DESCRIPTOR_MIN_FACE = 40;

const SIZE = DESCRIPTOR_CHIP.size;
const PLANE = SIZE * SIZE;

/** dlib_resnet_faceapi's input: [N, 3, 150, 150] NCHW RGB 0..255 (mean and scale are inside the graph). */
export function descriptorInput(img: RgbImage, faces: readonly Face[], buf: Buffers = FRESH): Float32Array {
  const out = buf.f32('descriptor', faces.length * 3 * PLANE);
  const rgb = buf.u8('descriptor.rgb', PLANE * 3);
  faces.forEach((face, i) => {
    renderCrop(img, faceChip(face.landmarks), rgb, buf);
    const base = i * 3 * PLANE;
    for (let k = 0, p = 0; k < PLANE; k++, p += 3) {
      out[base + k] = rgb[p];
      out[base + PLANE + k] = rgb[p + 1];
      out[base + 2 * PLANE + k] = rgb[p + 2];
    }
  });
  return out;
}

export function descriptorTensor(
  img: RgbImage,
  faces: readonly Face[],
  Tensor: typeof ort.Tensor,
  buf: Buffers = FRESH,
): ort.Tensor {
  return new Tensor('float32', descriptorInput(img, faces, buf), [faces.length, 3, SIZE, SIZE]);
}

export async function runDescriptor(session: ort.InferenceSession, input: ort.Tensor): Promise<Descriptor[]> {
  const n = input.dims[0];
  const out = (await session.run({ [session.inputNames[0]]: input }))[session.outputNames[0]];
  const d = out.data as Float32Array;
  if (d.length !== n * DESCRIPTOR_LENGTH) throw new Error(`descriptor model gave ${d.length} values for ${n} faces`);
  const res: Descriptor[] = [];
  for (let i = 0; i < n; i++) res.push(d.slice(i * DESCRIPTOR_LENGTH, (i + 1) * DESCRIPTOR_LENGTH));
  return res;
}

/** Euclidean distance between two descriptors (dlib: same person below 0.6). */
export function descriptorDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`descriptor lengths differ: ${a.length} and ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

import type { ort } from '../vision/onnx.js';
import { stretch } from './align.js';
import { type Buffers, FRESH } from './scratch.js';
import { KEYPOINT_NAMES, type Pose, type RgbImage } from './types.js';

export const POSE_INPUT = 192;

/**
 * MoveNet Lightning's input: the image padded to a square (zeros right and bottom, so keypoints map back with one
 * scale) and resized to 192×192, int32 RGB 0..255, [1, 192, 192, 3] NHWC.
 */
export function poseInput(img: RgbImage, buf: Buffers = FRESH): { input: Int32Array; side: number } {
  const side = Math.max(img.width, img.height);
  // the square's part inside the image; the rest of the square stays 0 (the padding)
  const w = Math.max(1, Math.min(POSE_INPUT, Math.round((img.width / side) * POSE_INPUT)));
  const h = Math.max(1, Math.min(POSE_INPUT, Math.round((img.height / side) * POSE_INPUT)));
  const input = buf.i32('pose', POSE_INPUT * POSE_INPUT * 3);
  stretch(img, w, h, { x: 0, y: 0, w: (w * side) / POSE_INPUT, h: (h * side) / POSE_INPUT }, input, POSE_INPUT * 3);
  return { input, side };
}

export function poseTensor(
  img: RgbImage,
  Tensor: typeof ort.Tensor,
  buf: Buffers = FRESH,
): { tensor: ort.Tensor; side: number } {
  const { input, side } = poseInput(img, buf);
  return { tensor: new Tensor('int32', input, [1, POSE_INPUT, POSE_INPUT, 3]), side };
}

/** Runs MoveNet and maps the 17 keypoints from the padded square back to image pixels. */
export async function runPose(
  session: ort.InferenceSession,
  img: RgbImage,
  Tensor: typeof ort.Tensor,
  buf: Buffers = FRESH,
): Promise<Pose> {
  const { tensor, side } = poseTensor(img, Tensor, buf);
  const out = (await session.run({ [session.inputNames[0]]: tensor }))[session.outputNames[0]];
  const k = out.data as Float32Array;
  if (k.length !== KEYPOINT_NAMES.length * 3) throw new Error(`pose model gave ${k.length} values, expected 51`);
  return {
    width: img.width,
    height: img.height,
    keypoints: KEYPOINT_NAMES.map((name, i) => ({
      name,
      y: k[i * 3] * side,
      x: k[i * 3 + 1] * side,
      score: k[i * 3 + 2],
    })),
  };
}

/** Keypoints below this score are not trusted (MoveNet's own demos use 0.3). */
export const KEYPOINT_MIN_SCORE = 0.3;

/**
 * "Hand raised above the shoulder", per side of the subject: the wrist is higher in the image (smaller y) than the
 * shoulder of the same side, both seen with a score above `minScore`. Pure: the gesture shutter times it.
 */
export function raisedHands(pose: Pose, minScore = KEYPOINT_MIN_SCORE): { left: boolean; right: boolean } {
  const kp = (name: (typeof KEYPOINT_NAMES)[number]) => pose.keypoints.find((p) => p.name === name);
  const up = (wrist: (typeof KEYPOINT_NAMES)[number], shoulder: (typeof KEYPOINT_NAMES)[number]) => {
    const w = kp(wrist);
    const s = kp(shoulder);
    return Boolean(w && s && w.score > minScore && s.score > minScore && w.y < s.y);
  };
  return { left: up('left_wrist', 'left_shoulder'), right: up('right_wrist', 'right_shoulder') };
}

/** True when either hand is raised above its shoulder. */
export function isHandRaised(pose: Pose, minScore = KEYPOINT_MIN_SCORE): boolean {
  const r = raisedHands(pose, minScore);
  return r.left || r.right;
}

import { type Face, nms } from './face.js';

export const YUNET_STRIDES = [8, 16, 32] as const;
export const NMS_IOU = 0.3;

/** The 12 YuNet outputs for one stride, as flat float32 arrays. */
export interface StrideOutputs {
  cls: Float32Array;
  obj: Float32Array;
  bbox: Float32Array;
  kps: Float32Array;
}

/**
 * Turns the raw YuNet outputs for a padded input of `padW`×`padH` into faces (MANIFEST decode, same as OpenCV ≥ 4.8
 * FaceDetectorYN): score = √(clamp(cls)·clamp(obj)), centre/size from the stride grid, then NMS at IoU 0.3.
 * Cells are rejected on cls·obj < threshold² first, so the sqrt/exp work is done only for the few candidates.
 */
export function decodeYuNet(outputs: readonly StrideOutputs[], padW: number, padH: number, threshold: number): Face[] {
  const candidates: Face[] = [];
  const thr2 = threshold * threshold;
  for (let si = 0; si < YUNET_STRIDES.length; si++) {
    const s = YUNET_STRIDES[si];
    const cols = Math.floor(padW / s);
    const rows = Math.floor(padH / s);
    const { cls, obj, bbox, kps } = outputs[si];
    const n = rows * cols;
    for (let idx = 0; idx < n; idx++) {
      let c = cls[idx];
      let o = obj[idx];
      if (c * o < thr2) {
        // clamping only lowers values above 1, so the clamped product is below thr² too
        continue;
      }
      c = c > 1 ? 1 : Math.max(c, 0);
      o = o > 1 ? 1 : Math.max(o, 0);
      const score = Math.sqrt(c * o);
      if (score < threshold) continue;
      const r = (idx / cols) | 0;
      const col = idx - r * cols;
      const b = idx * 4;
      const cx = (col + bbox[b]) * s;
      const cy = (r + bbox[b + 1]) * s;
      const w = Math.exp(bbox[b + 2]) * s;
      const h = Math.exp(bbox[b + 3]) * s;
      const k = idx * 10;
      const landmarks: [number, number][] = [];
      for (let p = 0; p < 5; p++) landmarks.push([(kps[k + 2 * p] + col) * s, (kps[k + 2 * p + 1] + r) * s]);
      candidates.push({ box: [cx - w / 2, cy - h / 2, w, h], score, landmarks });
    }
  }
  if (candidates.length < 2) return candidates;
  return nms(candidates, NMS_IOU).map((i) => candidates[i]);
}

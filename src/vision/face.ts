/** One detected face, in the pixels of the image it was reported for. */
export interface Face {
  /** x, y (top-left), width, height. */
  box: [number, number, number, number];
  score: number;
  /** Right eye, left eye, nose tip, right mouth corner, left mouth corner (the subject's right/left). */
  landmarks: [number, number][];
}

/** Intersection over union of two [x, y, w, h] boxes. */
export function iou(a: readonly number[], b: readonly number[]): number {
  const x1 = Math.max(a[0], b[0]);
  const y1 = Math.max(a[1], b[1]);
  const x2 = Math.min(a[0] + a[2], b[0] + b[2]);
  const y2 = Math.min(a[1] + a[3], b[1] + b[3]);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Greedy NMS exactly like OpenCV's `dnn::NMSBoxes` as FaceDetectorYN calls it: candidates in descending score
 * order (stable for ties), IoU measured on boxes truncated to integers (it passes `Rect2i`), a candidate is kept
 * when its IoU with every kept box is ≤ `iouThreshold`. Returns indices into `faces`.
 */
export function nms(faces: readonly Face[], iouThreshold: number): number[] {
  const order = faces.map((_, i) => i).sort((a, b) => faces[b].score - faces[a].score || a - b);
  const ints = faces.map((f) => f.box.map((v) => Math.trunc(v)));
  const keep: number[] = [];
  for (const i of order) {
    let ok = true;
    for (const k of keep) {
      if (iou(ints[i], ints[k]) > iouThreshold) {
        ok = false;
        break;
      }
    }
    if (ok) keep.push(i);
  }
  return keep;
}

/** Maps a face from detection pixels to another image size (per-axis scale, since rounded sizes differ slightly). */
export function scaleFace(f: Face, sx: number, sy: number): Face {
  return {
    box: [f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy],
    score: f.score,
    landmarks: f.landmarks.map(([x, y]) => [x * sx, y * sy] as [number, number]),
  };
}

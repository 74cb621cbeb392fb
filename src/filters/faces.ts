/**
 * A face in image pixel coordinates: the shape src/vision/face.ts produces. Kept structural here so the filters
 * depend only on this small seam (a FaceFinder), not on the detector.
 */
export interface Face {
  box: [number, number, number, number];
  score: number;
  landmarks: [number, number][];
}

/** A face box widened by `margin` (fraction of its size) on each side, clamped to the image, in whole pixels. */
export function faceRegion(
  face: Face,
  margin: number,
  width: number,
  height: number,
): { left: number; top: number; width: number; height: number } | undefined {
  const [x, y, w, h] = face.box;
  const left = Math.max(0, Math.floor(x - w * margin));
  const top = Math.max(0, Math.floor(y - h * margin));
  const right = Math.min(width, Math.ceil(x + w * (1 + margin)));
  const bottom = Math.min(height, Math.ceil(y + h * (1 + margin)));
  if (right - left < 2 || bottom - top < 2) return undefined;
  return { left, top, width: right - left, height: bottom - top };
}

/** An elliptical mask filling a w×h box, 1 inside, falling smoothly to 0 at the box edge over `feather` of the radius. */
export function ellipseMask(w: number, h: number, feather: number): Uint8Array {
  const m = new Uint8Array(w * h);
  const cx = w / 2;
  const cy = h / 2;
  const inner = Math.max(0, 1 - feather);
  for (let y = 0; y < h; y++) {
    const dy = (y + 0.5 - cy) / cy;
    for (let x = 0; x < w; x++) {
      const dx = (x + 0.5 - cx) / cx;
      const r = Math.sqrt(dx * dx + dy * dy);
      let a = r <= inner ? 1 : r >= 1 ? 0 : 1 - (r - inner) / (1 - inner);
      a = a * a * (3 - 2 * a); // smoothstep: no visible ring at either end of the ramp
      m[y * w + x] = Math.round(a * 255);
    }
  }
  return m;
}

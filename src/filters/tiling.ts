/**
 * Tiling maths for model filters, pure and testable. An image is cut into a grid of cores (spans that cover it
 * exactly once); each tile is its core widened by `overlap` on every side that has a neighbour. Adjacent tiles
 * therefore share 2·overlap pixels, across which their weights ramp linearly in opposite directions, so the
 * weights of the two tiles sum to one and seams vanish.
 */
export interface Span {
  /** Core: the pixels this tile owns. */
  start: number;
  end: number;
  /** Region fed to the model: the core plus overlap, clamped to the image. */
  inStart: number;
  inEnd: number;
}

/** Splits [0, length) into near-equal cores of at most `tile` pixels, each widened by `overlap`. */
export function spans(length: number, tile: number, overlap: number): Span[] {
  if (length <= 0) return [];
  const n = Math.max(1, Math.ceil(length / tile));
  const out: Span[] = [];
  for (let i = 0; i < n; i++) {
    const start = Math.round((i * length) / n);
    const end = Math.round(((i + 1) * length) / n);
    out.push({ start, end, inStart: Math.max(0, start - overlap), inEnd: Math.min(length, end + overlap) });
  }
  return out;
}

/** Largest overlap that keeps the two ramps of a core from meeting (cores are ≥ tile/2 long, see spans()). */
export function clampOverlap(tile: number, overlap: number): number {
  return Math.max(0, Math.min(overlap, Math.floor(tile / 4)));
}

/**
 * Per-pixel weights along one axis of a tile's output (length `(inEnd-inStart)·scale`): a linear ramp over the
 * 2·overlap·scale pixels shared with a neighbour on that side, 1 elsewhere.
 */
export function featherWeights(span: Span, length: number, overlap: number, scale: number): Float32Array {
  const n = (span.inEnd - span.inStart) * scale;
  const w = new Float32Array(n).fill(1);
  const ramp = 2 * overlap * scale;
  if (ramp === 0) return w;
  const hasBefore = span.start > 0;
  const hasAfter = span.end < length;
  for (let i = 0; i < n; i++) {
    let v = 1;
    if (hasBefore) v = Math.min(v, (i + 0.5) / ramp);
    if (hasAfter) v = Math.min(v, (n - i - 0.5) / ramp);
    w[i] = v;
  }
  return w;
}

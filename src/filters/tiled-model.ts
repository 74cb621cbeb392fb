import { YoungGarbage } from '../util/young-garbage.js';
import type { ort } from '../vision/onnx.js';
import { CHANNELS, type ImageSize } from './raw-image.js';
import { clampOverlap, featherWeights, spans } from './tiling.js';

/** Rows of an RGB image, read on demand (a `.v` file or a buffer). */
export interface RowSource extends ImageSize {
  read(y: number, n: number): Promise<Buffer>;
}

/** Takes finished output rows in order. */
export interface RowSink {
  write(rows: Buffer, n: number): Promise<void>;
}

/** Runs the model on one NCHW float tile [1,3,h,w] (RGB, 0..1) and returns [1,3,h·scale,w·scale]. */
export type TileRunner = (input: Float32Array, width: number, height: number) => Promise<Float32Array>;

export interface TiledOptions {
  scale: number;
  tile: number;
  overlap: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
  /** Time spent inside the model, for the bench's tiling-overhead figure. */
  onRunMs?: (ms: number) => void;
}

export function abortError(signal: AbortSignal): Error {
  const reason = signal.reason;
  return reason instanceof Error ? reason : new DOMException('filter cancelled', 'AbortError');
}

/**
 * Applies an image-to-image model in horizontal strips of tiles with feathered overlaps. Memory is one input strip
 * (tile + 2·overlap rows), one float accumulator for its output rows and one tile tensor, whatever the photo size.
 * Output rows are handed to `sink` as soon as no later tile can touch them.
 */
export async function runTiled(src: RowSource, sink: RowSink, runTile: TileRunner, opts: TiledOptions): Promise<void> {
  const { scale } = opts;
  const overlap = clampOverlap(opts.tile, opts.overlap);
  const W = src.width;
  const H = src.height;
  const OW = W * scale;
  const rows = spans(H, opts.tile, overlap);
  const cols = spans(W, opts.tile, overlap);
  const colWeights = cols.map((c) => featherWeights(c, W, overlap, scale));
  const totalTiles = rows.length * cols.length;
  let done = 0;

  // Accumulators cover output rows [accY0, accY0 + accRows): this strip's input rows, times scale.
  const maxInRows = Math.max(...rows.map((r) => r.inEnd - r.inStart));
  const accCap = maxInRows * scale;
  const acc = new Float32Array(accCap * OW * CHANNELS);
  const wsum = new Float32Array(accCap * OW);
  let accY0 = 0; // output row of acc[0]
  let flushed = 0; // output rows already written

  const flush = async (upTo: number) => {
    // Normalise and emit output rows [flushed, upTo), then shift the rest of the accumulators up.
    const n = upTo - flushed;
    if (n <= 0) return;
    const chunk = Buffer.allocUnsafe(n * OW * CHANNELS);
    for (let r = 0; r < n; r++) {
      const ar = flushed - accY0 + r;
      const base = ar * OW;
      for (let x = 0; x < OW; x++) {
        const inv = 1 / wsum[base + x];
        const i = (base + x) * CHANNELS;
        const o = (r * OW + x) * CHANNELS;
        chunk[o] = clampByte(acc[i] * inv);
        chunk[o + 1] = clampByte(acc[i + 1] * inv);
        chunk[o + 2] = clampByte(acc[i + 2] * inv);
      }
    }
    await sink.write(chunk, n);
    flushed = upTo;
  };

  for (const row of rows) {
    if (opts.signal?.aborted) throw abortError(opts.signal);
    const inH = row.inEnd - row.inStart;
    const newY0 = row.inStart * scale;
    // Shift: keep output rows [newY0, accY0 + accCap) that earlier strips touched, zero the rest.
    const keep = Math.max(0, accY0 + accCap - newY0);
    if (newY0 !== accY0) {
      const shift = newY0 - accY0;
      acc.copyWithin(0, shift * OW * CHANNELS, (shift + keep) * OW * CHANNELS);
      wsum.copyWithin(0, shift * OW, (shift + keep) * OW);
      acc.fill(0, keep * OW * CHANNELS);
      wsum.fill(0, keep * OW);
      accY0 = newY0;
    }
    const strip = await src.read(row.inStart, inH);
    const rowW = featherWeights(row, H, overlap, scale);
    for (let ci = 0; ci < cols.length; ci++) {
      if (opts.signal?.aborted) throw abortError(opts.signal);
      const col = cols[ci];
      const inW = col.inEnd - col.inStart;
      const tensor = toPlanar(strip, W, col.inStart, inW, inH);
      const t0 = performance.now();
      const out = await runTile(tensor, inW, inH);
      opts.onRunMs?.(performance.now() - t0);
      const tw = inW * scale;
      const th = inH * scale;
      if (out.length !== tw * th * CHANNELS)
        throw new Error(`model returned ${out.length} values, expected ${tw * th * CHANNELS}`);
      accumulate(out, tw, th, col.inStart * scale, colWeights[ci], rowW, acc, wsum, OW);
      done++;
      opts.onProgress?.(done / totalTiles);
    }
    const last = row.end === H;
    await flush(last ? H * scale : Math.max(flushed, (row.end - overlap) * scale));
  }
}

function clampByte(v: number): number {
  const x = Math.round(v * 255);
  return x < 0 ? 0 : Math.min(x, 255);
}

/** Packed RGB bytes of columns [x0, x0+w) of a strip → NCHW float 0..1. */
export function toPlanar(strip: Buffer, stripWidth: number, x0: number, w: number, h: number): Float32Array {
  const plane = w * h;
  const t = new Float32Array(3 * plane);
  const k = 1 / 255;
  for (let y = 0; y < h; y++) {
    let s = (y * stripWidth + x0) * CHANNELS;
    let d = y * w;
    for (let x = 0; x < w; x++, s += 3, d++) {
      t[d] = strip[s] * k;
      t[d + plane] = strip[s + 1] * k;
      t[d + 2 * plane] = strip[s + 2] * k;
    }
  }
  return t;
}

function accumulate(
  out: Float32Array,
  tw: number,
  th: number,
  ox: number,
  wx: Float32Array,
  wy: Float32Array,
  acc: Float32Array,
  wsum: Float32Array,
  OW: number,
): void {
  const plane = tw * th;
  for (let y = 0; y < th; y++) {
    const wyv = wy[y];
    let a = y * OW + ox;
    let s = y * tw;
    for (let x = 0; x < tw; x++, a++, s++) {
      const w = wyv * wx[x];
      const i = a * CHANNELS;
      acc[i] += w * out[s];
      acc[i + 1] += w * out[s + plane];
      acc[i + 2] += w * out[s + 2 * plane];
      wsum[a] += w;
    }
  }
}

/** A TileRunner over an onnxruntime session with one image input and one image output. */
export function sessionRunner(session: ort.InferenceSession, Tensor: typeof ort.Tensor): TileRunner {
  const inName = session.inputNames[0];
  const outName = session.outputNames[0];
  // each tile's input and output copy (MBs) die once the caller has blended them; without a nudge V8 keeps tens of
  // MB of them until its external-memory limit (see YoungGarbage)
  const garbage = new YoungGarbage(16 << 20);
  let previousBytes = 0;
  return async (input, width, height) => {
    garbage.add(previousBytes);
    const result = await session.run({ [inName]: new Tensor('float32', input, [1, 3, height, width]) });
    const out = result[outName];
    const data = out.data as Float32Array;
    for (const k of Object.keys(result)) if (k !== outName) result[k].dispose?.();
    previousBytes = input.byteLength + data.byteLength;
    return data;
  };
}

import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { RowReader, RowWriter } from './raw-image.js';
import { abortError } from './tiled-model.js';

const STRIP_ROWS = 64;

/**
 * Per-pixel work sharp has no operation for (tone curves, seeded grain, radial falloff), done strip by strip so
 * memory stays at one 64-row strip whatever the photo size. `fn` edits the packed RGB rows in place (it may be
 * async, to read the same rows of another file).
 */
export async function mapRows(
  input: string,
  output: string,
  fn: (rows: Buffer, y0: number, n: number, width: number, height: number) => void | Promise<void>,
  opts: { signal?: AbortSignal; onProgress?: (f: number) => void } = {},
): Promise<void> {
  const reader = await RowReader.open(input);
  let writer: RowWriter | undefined;
  try {
    writer = await RowWriter.create(output, reader.width, reader.height);
    const buf = Buffer.allocUnsafe(STRIP_ROWS * reader.width * 3);
    for (let y = 0; y < reader.height; y += STRIP_ROWS) {
      if (opts.signal?.aborted) throw abortError(opts.signal);
      const n = Math.min(STRIP_ROWS, reader.height - y);
      const rows = await reader.read(y, n, buf);
      await fn(rows, y, n, reader.width, reader.height);
      await writer.write(rows, n);
      opts.onProgress?.((y + n) / reader.height);
    }
    await writer.close();
  } catch (e) {
    await writer?.abandon();
    throw e;
  } finally {
    await reader.close();
  }
}

/** Applies a per-channel 256-entry curve. */
export function applyLut(rows: Buffer, n: number, width: number, lut: readonly Uint8Array[]): void {
  const [r, g, b] = lut;
  const len = n * width * 3;
  for (let i = 0; i < len; i += 3) {
    rows[i] = r[rows[i]];
    rows[i + 1] = g[rows[i + 1]];
    rows[i + 2] = b[rows[i + 2]];
  }
}

export function lutFrom(fn: (x: number) => number): Uint8Array {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) t[i] = Math.max(0, Math.min(255, Math.round(fn(i / 255) * 255)));
  return t;
}

/** One sharp pass from a `.v` file to a `.v` file. */
export async function sharpPass(input: string, output: string, op: (img: sharp.Sharp) => sharp.Sharp): Promise<void> {
  await op(sharp(input, { limitInputPixels: false }))
    .removeAlpha()
    .toColourspace('srgb')
    .toFile(output);
}

export interface ImageStats {
  /** Histograms per channel (R, G, B) and of luma, from a ≤512 px preview: enough for percentiles and means. */
  hist: [Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  count: number;
  /** Stable per image content: seeds deterministic grain. */
  digest: Buffer;
}

export async function imageStats(input: string): Promise<ImageStats> {
  const { data } = await sharp(input, { limitInputPixels: false })
    .resize(512, 512, { fit: 'inside', withoutEnlargement: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const hist: ImageStats['hist'] = [
    new Uint32Array(256),
    new Uint32Array(256),
    new Uint32Array(256),
    new Uint32Array(256),
  ];
  for (let i = 0; i < data.length; i += 3) {
    hist[0][data[i]]++;
    hist[1][data[i + 1]]++;
    hist[2][data[i + 2]]++;
    hist[3][Math.round(0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2])]++;
  }
  return { hist, count: data.length / 3, digest: createHash('sha256').update(data).digest() };
}

/** Value below which `q` (0..1) of the histogram lies, 0..255. */
export function percentile(hist: Uint32Array, count: number, q: number): number {
  const target = q * count;
  let acc = 0;
  for (let i = 0; i < 256; i++) {
    acc += hist[i];
    if (acc >= target) return i;
  }
  return 255;
}

export function histMean(hist: Uint32Array, count: number): number {
  let s = 0;
  for (let i = 0; i < 256; i++) s += i * hist[i];
  return s / count;
}

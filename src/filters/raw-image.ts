import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { ValidationError } from '../util/errors.js';

/**
 * Uncompressed 8-bit RGB images on disk in the libvips native format (`.v`): a 64-byte header followed by the
 * pixels row by row. We read and write rows at known offsets ourselves, so a filter holds one strip of a 12 MP
 * photo in memory, never the whole photo, and sharp still opens the file directly for library operations and the
 * final JPEG encode.
 */
export const V_HEADER_BYTES = 64;
export const CHANNELS = 3;

export interface ImageSize {
  width: number;
  height: number;
}

/** libvips header for an 8-bit sRGB image (little-endian host; Pi arm64 and x86-64 both are). */
function vHeader(width: number, height: number): Buffer {
  const h = Buffer.alloc(V_HEADER_BYTES);
  h.writeUInt32BE(0xb6a6f208, 0); // magic as libvips writes it on an LSB-first host
  h.writeInt32LE(width, 4);
  h.writeInt32LE(height, 8);
  h.writeInt32LE(CHANNELS, 12); // bands
  h.writeInt32LE(8, 16); // bbits (legacy)
  h.writeInt32LE(0, 20); // band format: uchar
  h.writeInt32LE(0, 24); // coding: none
  h.writeInt32LE(22, 28); // interpretation: sRGB
  h.writeFloatLE(1, 32); // xres
  h.writeFloatLE(1, 36); // yres
  return h;
}

export async function readVSize(file: string): Promise<ImageSize> {
  const fh = await fs.open(file, 'r');
  try {
    const h = Buffer.alloc(V_HEADER_BYTES);
    await fh.read(h, 0, V_HEADER_BYTES, 0);
    if (h.readUInt32BE(0) !== 0xb6a6f208 || h.readInt32LE(12) !== CHANNELS || h.readInt32LE(20) !== 0) {
      throw new Error(`${file}: not an 8-bit RGB .v image`);
    }
    return { width: h.readInt32LE(4), height: h.readInt32LE(8) };
  } finally {
    await fh.close();
  }
}

/** Random access to rows of a `.v` file. */
export class RowReader implements ImageSize {
  private constructor(
    private readonly fh: fs.FileHandle,
    readonly width: number,
    readonly height: number,
  ) {}

  static async open(file: string): Promise<RowReader> {
    const { width, height } = await readVSize(file);
    return new RowReader(await fs.open(file, 'r'), width, height);
  }

  /** Rows [y, y+n) as packed RGB bytes. */
  async read(y: number, n: number, into?: Buffer): Promise<Buffer> {
    const stride = this.width * CHANNELS;
    const buf = into ?? Buffer.allocUnsafe(n * stride);
    const { bytesRead } = await this.fh.read(buf, 0, n * stride, V_HEADER_BYTES + y * stride);
    if (bytesRead !== n * stride) throw new Error(`short read at row ${y}`);
    return buf;
  }

  /** The rectangle [x, x+w) × [y, y+h) as packed RGB bytes (one read per row: memory is the rectangle only). */
  async readRegion(x: number, y: number, w: number, h: number, into?: Buffer): Promise<Buffer> {
    const stride = this.width * CHANNELS;
    const rowBytes = w * CHANNELS;
    const buf = into ?? Buffer.allocUnsafe(h * rowBytes);
    for (let r = 0; r < h; r++) {
      const { bytesRead } = await this.fh.read(
        buf,
        r * rowBytes,
        rowBytes,
        V_HEADER_BYTES + (y + r) * stride + x * CHANNELS,
      );
      if (bytesRead !== rowBytes) throw new Error(`short read at row ${y + r}`);
    }
    return buf;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Sequential row writer for a `.v` file. */
export class RowWriter implements ImageSize {
  private rows = 0;

  private constructor(
    private readonly fh: fs.FileHandle,
    readonly width: number,
    readonly height: number,
  ) {}

  static async create(file: string, width: number, height: number): Promise<RowWriter> {
    const fh = await fs.open(file, 'w');
    await fh.write(vHeader(width, height), 0, V_HEADER_BYTES, 0);
    return new RowWriter(fh, width, height);
  }

  get rowsWritten(): number {
    return this.rows;
  }

  async write(rows: Buffer, n: number): Promise<void> {
    const stride = this.width * CHANNELS;
    await this.fh.write(rows, 0, n * stride, V_HEADER_BYTES + this.rows * stride);
    this.rows += n;
  }

  async close(): Promise<void> {
    await this.fh.close();
    if (this.rows !== this.height) throw new Error(`image incomplete: ${this.rows}/${this.height} rows`);
  }

  /** Closes without the completeness check (error paths). */
  async abandon(): Promise<void> {
    await this.fh.close().catch(() => {});
  }
}

export interface ProbeResult extends ImageSize {
  format: string;
}

/** Reads only the header of an input photo; a clear ValidationError for anything sharp cannot read. */
export async function probeImage(file: string, maxMegapixels: number): Promise<ProbeResult> {
  let meta: sharp.Metadata;
  try {
    await fs.access(file);
  } catch (e) {
    throw new ValidationError(
      `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      undefined,
      'unreadable',
    );
  }
  try {
    meta = await sharp(file, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new ValidationError(
      `cannot read ${path.basename(file)}: not an image sharp can decode (${(e as Error).message})`,
      undefined,
      'unreadable',
    );
  }
  // EXIF orientations 5..8 swap width and height once applied.
  const swap = (meta.orientation ?? 1) >= 5;
  const width = (swap ? meta.height : meta.width) ?? 0;
  const height = (swap ? meta.width : meta.height) ?? 0;
  if (width <= 0 || height <= 0)
    throw new ValidationError(`${path.basename(file)} has no pixels (${width}x${height})`, undefined, 'empty-image');
  const mp = (width * height) / 1e6;
  if (mp > maxMegapixels) {
    throw new ValidationError(
      `${path.basename(file)} is ${width}x${height} (${mp.toFixed(1)} MP), above the limit of ${maxMegapixels} MP (filters.maxInputMegapixels)`,
      { width, height, maxMegapixels },
      'too-large',
    );
  }
  return { width, height, format: meta.format ?? 'unknown' };
}

/** Decodes any photo into an 8-bit sRGB `.v` file (`out` must end in .v: sharp picks the format by name). */
export async function decodeToV(input: string, out: string): Promise<ImageSize> {
  try {
    const info = await sharp(input, { limitInputPixels: false, sequentialRead: true })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')

      .toFile(out);
    return { width: info.width, height: info.height };
  } catch (e) {
    await fs.rm(out, { force: true });
    throw new ValidationError(
      `cannot decode ${path.basename(input)}: ${(e as Error).message}`,
      undefined,
      'unreadable',
    );
  }
}

/** Writes a `.v` image in the format its extension names (JPEG by default). */
export async function encodeFromV(vFile: string, out: string, format?: string): Promise<void> {
  const ext = (format ?? path.extname(out).slice(1)).toLowerCase();
  let img = sharp(vFile, { sequentialRead: true, limitInputPixels: false });
  switch (ext) {
    case 'png':
      img = img.png({ compressionLevel: 6 });
      break;
    case 'webp':
      img = img.webp({ quality: 90 });
      break;
    case 'tif':
    case 'tiff':
      img = img.tiff();
      break;
    default:
      img = img.jpeg({ quality: 92, mozjpeg: false });
  }
  await img.toFile(out);
}

export function isSupportedOutput(file: string): boolean {
  return ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff'].includes(path.extname(file).toLowerCase());
}

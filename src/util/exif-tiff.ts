/**
 * EXIF as a TIFF structure: read one from a JPEG's APP1 segment (either byte order), edit its entries, write it back
 * (little-endian, as libexif does for rpicam-apps). Used to merge Pinhole's tags into the camera's EXIF and by the
 * simulated camera to write EXIF the way rpicam-still's image/jpeg.cpp does. Values stay raw bytes: only the tags
 * we set are encoded, everything else is copied.
 */

export const EXIF_HEADER = Buffer.from('Exif\0\0', 'latin1');

export const T = {
  BYTE: 1,
  ASCII: 2,
  SHORT: 3,
  LONG: 4,
  RATIONAL: 5,
  SBYTE: 6,
  UNDEFINED: 7,
  SSHORT: 8,
  SLONG: 9,
  SRATIONAL: 10,
  FLOAT: 11,
  DOUBLE: 12,
} as const;

/** Bytes per component, and the size of the units to byte-swap when converting big-endian data. */
const TYPE_SIZE: Record<number, { size: number; unit: number }> = {
  1: { size: 1, unit: 1 },
  2: { size: 1, unit: 1 },
  3: { size: 2, unit: 2 },
  4: { size: 4, unit: 4 },
  5: { size: 8, unit: 4 },
  6: { size: 1, unit: 1 },
  7: { size: 1, unit: 1 },
  8: { size: 2, unit: 2 },
  9: { size: 4, unit: 4 },
  10: { size: 8, unit: 4 },
  11: { size: 4, unit: 4 },
  12: { size: 8, unit: 8 },
};

export const TAG = {
  ImageWidth: 0x0100,
  ImageLength: 0x0101,
  Compression: 0x0103,
  ImageDescription: 0x010e,
  Make: 0x010f,
  Model: 0x0110,
  StripOffsets: 0x0111,
  Orientation: 0x0112,
  StripByteCounts: 0x0117,
  Software: 0x0131,
  DateTime: 0x0132,
  JPEGInterchangeFormat: 0x0201,
  JPEGInterchangeFormatLength: 0x0202,
  ExposureTime: 0x829a,
  ExifIfdPointer: 0x8769,
  GpsIfdPointer: 0x8825,
  ISOSpeedRatings: 0x8827,
  DateTimeOriginal: 0x9003,
  DateTimeDigitized: 0x9004,
  ExposureBiasValue: 0x9204,
  SubjectDistance: 0x9206,
  InteropIfdPointer: 0xa005,
} as const;

/** Tags the TIFF/EXIF specs place in IFD0 ("0th IFD"), wherever a writer put them. */
export const IFD0_TAGS: ReadonlySet<number> = new Set([
  0x010e, 0x010f, 0x0110, 0x0112, 0x011a, 0x011b, 0x0128, 0x0131, 0x0132, 0x013b, 0x013e, 0x013f, 0x0211, 0x0213,
  0x0214, 0x8298,
]);

export interface TiffEntry {
  tag: number;
  type: number;
  count: number;
  /** The value bytes, little-endian. */
  data: Buffer;
}

export interface ExifData {
  ifd0: TiffEntry[];
  exif: TiffEntry[];
  gps: TiffEntry[];
  interop: TiffEntry[];
  /** The thumbnail's IFD, without its offset/length entries (rewritten with the thumbnail). */
  ifd1: TiffEntry[];
  thumbnail?: Buffer;
}

export class ExifFormatError extends Error {}

export function emptyExif(): ExifData {
  return { ifd0: [], exif: [], gps: [], interop: [], ifd1: [] };
}

export function cloneExif(d: ExifData): ExifData {
  const c = (l: TiffEntry[]) => l.map((e) => ({ ...e, data: Buffer.from(e.data) }));
  return {
    ifd0: c(d.ifd0),
    exif: c(d.exif),
    gps: c(d.gps),
    interop: c(d.interop),
    ifd1: c(d.ifd1),
    ...(d.thumbnail ? { thumbnail: d.thumbnail } : {}),
  };
}

const POINTERS = new Set<number>([TAG.ExifIfdPointer, TAG.GpsIfdPointer, TAG.InteropIfdPointer]);

/** Parses the payload of an Exif APP1 segment (starting with `Exif\0\0`). */
export function parseExif(payload: Buffer): ExifData {
  if (payload.length < 14 || !payload.subarray(0, 6).equals(EXIF_HEADER))
    throw new ExifFormatError('not an Exif payload');
  const tiff = payload.subarray(6);
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') throw new ExifFormatError(`bad TIFF byte order "${order}"`);
  const be = order === 'MM';
  const u16 = (at: number) => {
    if (at < 0 || at + 2 > tiff.length) throw new ExifFormatError('TIFF data truncated');
    return be ? tiff.readUInt16BE(at) : tiff.readUInt16LE(at);
  };
  const u32 = (at: number) => {
    if (at < 0 || at + 4 > tiff.length) throw new ExifFormatError('TIFF data truncated');
    return be ? tiff.readUInt32BE(at) : tiff.readUInt32LE(at);
  };
  if (u16(2) !== 42) throw new ExifFormatError('bad TIFF magic');
  const visited = new Set<number>();

  const readIfd = (offset: number): { entries: TiffEntry[]; pointers: Map<number, number>; next: number } => {
    if (visited.has(offset)) throw new ExifFormatError('IFD loop');
    visited.add(offset);
    const n = u16(offset);
    if (n > 1000) throw new ExifFormatError('implausible IFD entry count');
    const entries: TiffEntry[] = [];
    const pointers = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const at = offset + 2 + i * 12;
      const tag = u16(at);
      const type = u16(at + 2);
      const count = u32(at + 4);
      const ts = TYPE_SIZE[type];
      if (!ts) continue; // unknown type: cannot be copied safely
      const size = ts.size * count;
      if (size > tiff.length) throw new ExifFormatError('entry larger than the EXIF data');
      const src = size <= 4 ? at + 8 : u32(at + 8);
      if (src + size > tiff.length) throw new ExifFormatError('entry value out of bounds');
      if (POINTERS.has(tag)) {
        pointers.set(tag, u32(at + 8));
        continue;
      }
      const data = Buffer.from(tiff.subarray(src, src + size));
      if (be && ts.unit > 1) for (let k = 0; k < data.length; k += ts.unit) data.subarray(k, k + ts.unit).reverse();
      entries.push({ tag, type, count, data });
    }
    return { entries, pointers, next: u32(offset + 2 + n * 12) };
  };

  const out = emptyExif();
  const ifd0 = readIfd(u32(4));
  out.ifd0 = ifd0.entries;
  const exifAt = ifd0.pointers.get(TAG.ExifIfdPointer);
  if (exifAt) {
    const ex = readIfd(exifAt);
    out.exif = ex.entries;
    const interopAt = ex.pointers.get(TAG.InteropIfdPointer);
    if (interopAt) out.interop = readIfd(interopAt).entries;
  }
  const gpsAt = ifd0.pointers.get(TAG.GpsIfdPointer);
  if (gpsAt) out.gps = readIfd(gpsAt).entries;
  if (ifd0.next) {
    const ifd1 = readIfd(ifd0.next);
    const off = ifd1.entries.find((e) => e.tag === TAG.JPEGInterchangeFormat);
    const len = ifd1.entries.find((e) => e.tag === TAG.JPEGInterchangeFormatLength);
    out.ifd1 = ifd1.entries.filter(
      (e) =>
        e.tag !== TAG.JPEGInterchangeFormat &&
        e.tag !== TAG.JPEGInterchangeFormatLength &&
        // Strip offsets of an uncompressed thumbnail would point nowhere once rewritten.
        e.tag !== TAG.StripOffsets &&
        e.tag !== TAG.StripByteCounts,
    );
    if (off && len) {
      const start = entryNumber(off);
      const length = entryNumber(len);
      if (start + length > tiff.length) throw new ExifFormatError('thumbnail out of bounds');
      out.thumbnail = Buffer.from(tiff.subarray(start, start + length));
    }
  }
  return out;
}

/** The first component of a SHORT or LONG entry. */
export function entryNumber(e: TiffEntry): number {
  return e.type === T.SHORT ? e.data.readUInt16LE(0) : e.data.readUInt32LE(0);
}

export function entryText(e: TiffEntry | undefined): string | undefined {
  if (!e || e.type !== T.ASCII) return undefined;
  const s = e.data.toString('latin1');
  const nul = s.indexOf('\0');
  return nul >= 0 ? s.slice(0, nul) : s;
}

export const find = (entries: readonly TiffEntry[], tag: number) => entries.find((e) => e.tag === tag);

/** Replaces (or adds) an entry. */
export function put(entries: TiffEntry[], e: TiffEntry): void {
  const i = entries.findIndex((x) => x.tag === e.tag);
  if (i >= 0) entries[i] = e;
  else entries.push(e);
}

export const ascii = (tag: number, s: string): TiffEntry => {
  const data = Buffer.from(`${s.replace(/[^\x20-\x7e]/g, '?')}\0`, 'latin1');
  return { tag, type: T.ASCII, count: data.length, data };
};
export const short = (tag: number, v: number): TiffEntry => {
  const data = Buffer.alloc(2);
  data.writeUInt16LE(Math.max(0, Math.min(65535, Math.round(v))));
  return { tag, type: T.SHORT, count: 1, data };
};
export const long = (tag: number, v: number): TiffEntry => {
  const data = Buffer.alloc(4);
  data.writeUInt32LE(v >>> 0);
  return { tag, type: T.LONG, count: 1, data };
};
export const rational = (tag: number, num: number, den: number): TiffEntry => {
  const data = Buffer.alloc(8);
  data.writeUInt32LE(num >>> 0, 0);
  data.writeUInt32LE(den >>> 0, 4);
  return { tag, type: T.RATIONAL, count: 1, data };
};
export const srational = (tag: number, num: number, den: number): TiffEntry => {
  const data = Buffer.alloc(8);
  data.writeInt32LE(num | 0, 0);
  data.writeInt32LE(den | 0, 4);
  return { tag, type: T.SRATIONAL, count: 1, data };
};

/** `YYYY:MM:DD HH:MM:SS` in local time, as EXIF dates are (and as rpicam-still writes them with strftime). */
export function exifDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}:${p(d.getMonth() + 1)}:${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Encodes one IFD at `offset`; out-of-line values follow it (word-aligned). `extra` are pointer entries. */
function encodeIfd(entries: readonly TiffEntry[], offset: number, extra: TiffEntry[], next: number): Buffer {
  const all = [...entries, ...extra].sort((a, b) => a.tag - b.tag);
  const dirSize = 2 + all.length * 12 + 4;
  const dir = Buffer.alloc(dirSize);
  const values: Buffer[] = [];
  let dataOffset = offset + dirSize;
  dir.writeUInt16LE(all.length, 0);
  all.forEach((e, i) => {
    const at = 2 + i * 12;
    dir.writeUInt16LE(e.tag, at);
    dir.writeUInt16LE(e.type, at + 2);
    dir.writeUInt32LE(e.count, at + 4);
    if (e.data.length <= 4) e.data.copy(dir, at + 8);
    else {
      dir.writeUInt32LE(dataOffset, at + 8);
      const padded = e.data.length % 2 ? Buffer.concat([e.data, Buffer.alloc(1)]) : e.data;
      values.push(padded);
      dataOffset += padded.length;
    }
  });
  dir.writeUInt32LE(next, dirSize - 4);
  return Buffer.concat([dir, ...values]);
}

function ifdSize(entries: readonly TiffEntry[], extra: number): number {
  let size = 2 + (entries.length + extra) * 12 + 4;
  for (const e of entries) if (e.data.length > 4) size += e.data.length + (e.data.length % 2);
  return size;
}

/**
 * Writes `Exif\0\0` + a little-endian TIFF: IFD0 (with the Exif and GPS pointers), the Exif IFD (with the Interop
 * pointer), Interop, GPS, then IFD1 and the thumbnail right after it, as libexif lays them out for rpicam-still
 * (jpeg.cpp puts the thumbnail at the end of the EXIF data).
 */
export function buildExif(d: ExifData): Buffer {
  const hasExif = d.exif.length > 0 || d.interop.length > 0;
  const hasGps = d.gps.length > 0;
  const hasIfd1 = d.ifd1.length > 0 || d.thumbnail !== undefined;
  const ifd0At = 8;
  const ifd0Len = ifdSize(d.ifd0, (hasExif ? 1 : 0) + (hasGps ? 1 : 0));
  const exifAt = ifd0At + ifd0Len;
  const exifLen = hasExif ? ifdSize(d.exif, d.interop.length ? 1 : 0) : 0;
  const interopAt = exifAt + exifLen;
  const interopLen = d.interop.length ? ifdSize(d.interop, 0) : 0;
  const gpsAt = interopAt + interopLen;
  const gpsLen = hasGps ? ifdSize(d.gps, 0) : 0;
  const ifd1At = gpsAt + gpsLen;
  const thumbExtra = d.thumbnail ? 2 : 0;
  const ifd1Len = hasIfd1 ? ifdSize(d.ifd1, thumbExtra) : 0;
  const thumbAt = ifd1At + ifd1Len;

  const parts: Buffer[] = [Buffer.from([0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0])];
  const p0: TiffEntry[] = [];
  if (hasExif) p0.push(long(TAG.ExifIfdPointer, exifAt));
  if (hasGps) p0.push(long(TAG.GpsIfdPointer, gpsAt));
  parts.push(encodeIfd(d.ifd0, ifd0At, p0, hasIfd1 ? ifd1At : 0));
  if (hasExif)
    parts.push(encodeIfd(d.exif, exifAt, d.interop.length ? [long(TAG.InteropIfdPointer, interopAt)] : [], 0));
  if (d.interop.length) parts.push(encodeIfd(d.interop, interopAt, [], 0));
  if (hasGps) parts.push(encodeIfd(d.gps, gpsAt, [], 0));
  if (hasIfd1) {
    const t: TiffEntry[] = d.thumbnail
      ? [long(TAG.JPEGInterchangeFormat, thumbAt), long(TAG.JPEGInterchangeFormatLength, d.thumbnail.length)]
      : [];
    parts.push(encodeIfd(d.ifd1, ifd1At, t, 0));
    if (d.thumbnail) parts.push(d.thumbnail);
  }
  return Buffer.concat([EXIF_HEADER, ...parts]);
}

// ---- JPEG segments -----------------------------------------------------------------------------------------------

export interface JpegSegment {
  marker: number;
  /** Offset of the 0xFF marker byte. */
  start: number;
  /** Offset just past the segment. */
  end: number;
}

/** The marker segments before the scan (SOS); throws on a file that is not a JPEG. */
export function jpegHeaderSegments(jpeg: Buffer): { segments: JpegSegment[]; scanStart: number } {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new ExifFormatError('not a JPEG (no SOI marker)');
  const segments: JpegSegment[] = [];
  let p = 2;
  while (p + 4 <= jpeg.length) {
    if (jpeg[p] !== 0xff) throw new ExifFormatError(`JPEG marker expected at ${p}`);
    const marker = jpeg[p + 1];
    if (marker === 0xff) {
      p++; // fill byte
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return { segments, scanStart: p };
    const len = jpeg.readUInt16BE(p + 2);
    if (len < 2 || p + 2 + len > jpeg.length) throw new ExifFormatError('JPEG segment out of bounds');
    segments.push({ marker, start: p, end: p + 2 + len });
    p += 2 + len;
  }
  throw new ExifFormatError('JPEG has no scan');
}

export function isExifSegment(jpeg: Buffer, s: JpegSegment): boolean {
  return s.marker === 0xe1 && jpeg.subarray(s.start + 4, s.start + 10).equals(EXIF_HEADER);
}

/** An APP1 segment (marker and length included) around an Exif payload. */
export function app1(payload: Buffer): Buffer {
  if (payload.length + 2 > 0xffff) throw new ExifFormatError('EXIF segment too large');
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([head, payload]);
}

/**
 * A minimal EXIF (APP1) writer, spliced into the camera's JPEG without re-encoding it: re-encoding a 12 MP photo
 * costs seconds on a Pi Zero and a generation of quality. Only ASCII, SHORT, LONG, RATIONAL and SRATIONAL tags.
 */
export interface ExifFields {
  dateTime: Date;
  make?: string;
  model?: string;
  software?: string;
  description?: string;
  exposureUs?: number;
  gain?: number;
  ev?: number;
}

const ASCII = 2;
const SHORT = 3;
const LONG = 4;
const RATIONAL = 5;
const SRATIONAL = 10;
const TYPE_SIZE: Record<number, number> = { [ASCII]: 1, [SHORT]: 2, [LONG]: 4, [RATIONAL]: 8, [SRATIONAL]: 8 };

interface Entry {
  tag: number;
  type: number;
  count: number;
  value: Buffer;
}

const ascii = (tag: number, s: string): Entry => {
  const value = Buffer.from(`${s.replace(/[^\x20-\x7e]/g, '?')}\0`, 'latin1');
  return { tag, type: ASCII, count: value.length, value };
};
const short = (tag: number, v: number): Entry => {
  const value = Buffer.alloc(2);
  value.writeUInt16LE(v);
  return { tag, type: SHORT, count: 1, value };
};
const long = (tag: number, v: number): Entry => {
  const value = Buffer.alloc(4);
  value.writeUInt32LE(v);
  return { tag, type: LONG, count: 1, value };
};
const rational = (tag: number, num: number, den: number, signed = false): Entry => {
  const value = Buffer.alloc(8);
  if (signed) {
    value.writeInt32LE(num, 0);
    value.writeInt32LE(den, 4);
  } else {
    value.writeUInt32LE(num, 0);
    value.writeUInt32LE(den, 4);
  }
  return { tag, type: signed ? SRATIONAL : RATIONAL, count: 1, value };
};

export function exifDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}:${p(d.getMonth() + 1)}:${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Encodes one IFD at `offset` (from the TIFF header); out-of-line values follow it. */
function encodeIfd(entries: Entry[], offset: number): Buffer {
  entries.sort((a, b) => a.tag - b.tag);
  const dirSize = 2 + entries.length * 12 + 4;
  const dir = Buffer.alloc(dirSize);
  const extra: Buffer[] = [];
  let dataOffset = offset + dirSize;
  dir.writeUInt16LE(entries.length, 0);
  entries.forEach((e, i) => {
    const at = 2 + i * 12;
    dir.writeUInt16LE(e.tag, at);
    dir.writeUInt16LE(e.type, at + 2);
    dir.writeUInt32LE(e.count, at + 4);
    const size = TYPE_SIZE[e.type] * e.count;
    if (size <= 4) {
      e.value.copy(dir, at + 8);
    } else {
      dir.writeUInt32LE(dataOffset, at + 8);
      const padded = size % 2 ? Buffer.concat([e.value, Buffer.alloc(1)]) : e.value;
      extra.push(padded);
      dataOffset += padded.length;
    }
  });
  dir.writeUInt32LE(0, dirSize - 4); // no next IFD
  return Buffer.concat([dir, ...extra]);
}

/** The APP1 segment (marker included). */
export function buildExifSegment(f: ExifFields): Buffer {
  const when = exifDate(f.dateTime);
  const ifd0: Entry[] = [ascii(0x0132, when), short(0x0112, 1)];
  if (f.description) ifd0.push(ascii(0x010e, f.description.slice(0, 1000)));
  if (f.make) ifd0.push(ascii(0x010f, f.make));
  if (f.model) ifd0.push(ascii(0x0110, f.model));
  if (f.software) ifd0.push(ascii(0x0131, f.software));
  const exif: Entry[] = [ascii(0x9003, when), ascii(0x9004, when)];
  if (f.exposureUs && f.exposureUs > 0) exif.push(rational(0x829a, Math.round(f.exposureUs), 1_000_000));
  if (f.gain && f.gain > 0) exif.push(short(0x8827, Math.min(65535, Math.round(f.gain * 100))));
  if (f.ev !== undefined) exif.push(rational(0x9204, Math.round(f.ev * 100), 100, true));
  // IFD0 size is needed to place the Exif IFD: encode once with a dummy pointer to measure it.
  ifd0.push(long(0x8769, 0));
  const ifd0Len = encodeIfd([...ifd0], 8).length;
  ifd0[ifd0.length - 1] = long(0x8769, 8 + ifd0Len);
  const tiff = Buffer.concat([
    Buffer.from([0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0]),
    encodeIfd(ifd0, 8),
    encodeIfd(exif, 8 + ifd0Len),
  ]);
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  if (body.length + 2 > 0xffff) throw new Error('EXIF segment too large');
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([head, body]);
}

export function hasExif(jpeg: Buffer): boolean {
  let p = 2;
  while (p + 4 <= jpeg.length && jpeg[p] === 0xff) {
    const m = jpeg[p + 1];
    if (m === 0xda || m === 0xd9) return false;
    const len = jpeg.readUInt16BE(p + 2);
    if (m === 0xe1 && jpeg.subarray(p + 4, p + 10).toString('latin1') === 'Exif\0\0') return true;
    p += 2 + len;
  }
  return false;
}

/**
 * Returns the JPEG with our EXIF inserted after SOI (and after a JFIF APP0). A JPEG that already carries EXIF
 * (the real rpicam-still writes exposure, gain and the time) is returned unchanged: the camera's data is richer.
 */
export function withExif(jpeg: Buffer, f: ExifFields): Buffer {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new Error('not a JPEG');
  if (hasExif(jpeg)) return jpeg;
  let at = 2;
  if (jpeg[2] === 0xff && jpeg[3] === 0xe0) at = 4 + jpeg.readUInt16BE(4);
  return Buffer.concat([jpeg.subarray(0, at), buildExifSegment(f), jpeg.subarray(at)]);
}

/**
 * JPEG files as rpicam-still's image/jpeg.cpp (jpeg_save, create_exif_data) writes them, v1.5.0 to HEAD:
 * - one APP1 Exif segment right after SOI (the encoder's own SOI + JFIF APP0 are dropped: exif_image_offset);
 * - Make "Raspberry Pi", Model (the sensor), Software "rpicam-apps", DateTime/DateTimeOriginal/DateTimeDigitized
 *   (local time at the save), ExposureTime {µs, 1000000} and ISOSpeedRatings (100 × analogue × digital gain), all
 *   created in the Exif IFD (exif_create_tag(exif, EXIF_IFD_EXIF, …)); IFD0 holds only the pointer;
 * - `-x IFD.Tag=value` items after those;
 * - with --thumb (default 320:240:70) IFD1 ImageWidth/ImageLength/Compression 6 and the thumbnail JPEG at the end of
 *   the EXIF data, its quality lowered by 5 until it is under 60000 bytes ("failed to make acceptable thumbnail");
 * - written with fopen/fwrite: not atomic; any short write is "failed to write file - output probably corrupt".
 */
import fs from 'node:fs';
import sharp from 'sharp';
import {
  app1,
  ascii,
  buildExif,
  emptyExif,
  exifDate,
  jpegHeaderSegments,
  put,
  rational,
  short,
  TAG,
  type TiffEntry,
} from '../../../util/exif-tiff.js';

export const MAKE_STRING = 'Raspberry Pi';

export interface StillExif {
  model: string;
  exposureUs: number;
  analogueGain: number;
  digitalGain: number;
  /** `-x` items. */
  extra: readonly string[];
  thumb: { width: number; height: number; quality: number } | null;
  now?: Date;
}

/** libexif tag names the simulator knows for `-x`, with their IFD-independent format. */
const EXTRA_TAGS: Record<string, { tag: number; kind: 'ascii' | 'short' }> = {
  Artist: { tag: 0x013b, kind: 'ascii' },
  Copyright: { tag: 0x8298, kind: 'ascii' },
  ImageDescription: { tag: TAG.ImageDescription, kind: 'ascii' },
  Make: { tag: TAG.Make, kind: 'ascii' },
  Model: { tag: TAG.Model, kind: 'ascii' },
  Software: { tag: TAG.Software, kind: 'ascii' },
  Orientation: { tag: TAG.Orientation, kind: 'short' },
};

const IFD_NAMES = ['EXIF', 'IFD0', 'IFD1', 'EINT', 'GPS'] as const;

/** jpeg.cpp exif_read_tag: "IFD.Tag=value"; warnings go to stderr, bad input throws (the app's message). */
function extraTag(
  item: string,
  warn: (line: string) => void,
): { ifd: (typeof IFD_NAMES)[number]; entry: TiffEntry } | undefined {
  const m = /^([^.]*)\.([^=]*)=(.*)$/.exec(item);
  if (!m) throw new Error('failed to read EXIF IFD and tag');
  const [, ifdName, tagName, value] = m;
  if (!(IFD_NAMES as readonly string[]).includes(ifdName)) throw new Error(`bad IFD name ${ifdName}`);
  const known = EXTRA_TAGS[tagName];
  if (!known) {
    warn(`WARNING: no EXIF tag ${tagName} found - ignoring`);
    return undefined;
  }
  const entry = known.kind === 'ascii' ? ascii(known.tag, value) : short(known.tag, Number.parseInt(value, 10));
  if (known.kind === 'short' && !/^\s*\d+/.test(value)) throw new Error('failed to read EXIF unsigned short');
  return { ifd: ifdName as (typeof IFD_NAMES)[number], entry };
}

async function thumbnail(rgb: Buffer, w: number, h: number, t: NonNullable<StillExif['thumb']>): Promise<Buffer> {
  const small = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
    .resize(t.width, t.height, { fit: 'fill' })
    .raw()
    .toBuffer();
  for (let q = t.quality; q > 0; q -= 5) {
    const jpeg = await sharp(small, { raw: { width: t.width, height: t.height, channels: 3 } })
      .jpeg({ quality: q })
      .toBuffer();
    if (jpeg.length < 60000) return jpeg;
  }
  throw new Error('failed to make acceptable thumbnail');
}

/** The whole file as jpeg_save would write it. */
export async function encodeStill(
  rgb: Buffer,
  width: number,
  height: number,
  quality: number,
  x: StillExif,
  warn: (line: string) => void,
): Promise<Buffer> {
  if (width & 1 || height & 1) throw new Error('both width and height must be even');
  const d = emptyExif();
  const now = x.now ?? new Date();
  const when = exifDate(now);
  d.exif = [
    ascii(TAG.Make, MAKE_STRING),
    ascii(TAG.Model, x.model),
    ascii(TAG.Software, 'rpicam-apps'),
    ascii(TAG.DateTime, when),
    ascii(TAG.DateTimeOriginal, when),
    ascii(TAG.DateTimeDigitized, when),
    rational(TAG.ExposureTime, Math.round(x.exposureUs), 1_000_000),
    short(TAG.ISOSpeedRatings, Math.trunc(100 * x.analogueGain * x.digitalGain)),
  ];
  for (const item of x.extra) {
    const t = extraTag(item, warn);
    if (!t) continue;
    const list =
      t.ifd === 'IFD0'
        ? d.ifd0
        : t.ifd === 'IFD1'
          ? d.ifd1
          : t.ifd === 'GPS'
            ? d.gps
            : t.ifd === 'EINT'
              ? d.interop
              : d.exif;
    put(list, t.entry);
  }
  if (x.thumb) {
    d.ifd1.push(
      short(TAG.ImageWidth, x.thumb.width),
      short(TAG.ImageLength, x.thumb.height),
      short(TAG.Compression, 6),
    );
    d.thumbnail = await thumbnail(rgb, width, height, x.thumb);
  }
  const body = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
  const { segments } = jpegHeaderSegments(body);
  const skip = segments[0]?.marker === 0xe0 ? segments[0].end : 2;
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app1(buildExif(d)), body.subarray(skip)]);
}

/**
 * fopen(name, "w") + fwrite. `failAfter` simulates a full disk: that many bytes land, then the write fails (ENOSPC),
 * as fwrite does when the filesystem fills up.
 */
export function writeLikeFwrite(name: Buffer | string, data: Buffer, openError: string, failAfter?: number): void {
  let fd: number;
  try {
    fd = fs.openSync(name, 'w');
  } catch {
    throw new Error(openError);
  }
  try {
    const n = failAfter === undefined ? data.length : Math.min(failAfter, data.length);
    let off = 0;
    while (off < n) off += fs.writeSync(fd, data, off, n - off);
    if (n < data.length) throw new Error('ENOSPC');
  } catch {
    throw new Error('failed to write file - output probably corrupt');
  } finally {
    fs.closeSync(fd);
  }
}

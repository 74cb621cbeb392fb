/**
 * Pinhole's EXIF, merged into the camera's without re-encoding the photo (re-encoding a 12 MP JPEG costs seconds on a
 * Pi Zero and a generation of quality). rpicam-still already writes EXIF (image/jpeg.cpp: Make, Model, Software,
 * dates, exposure, ISO, an IFD1 thumbnail); the result keeps all of it in one APP1 Exif segment and adds or replaces
 * only what Pinhole knows better: Software (Pinhole and its version), the capture time from the daemon's clock
 * source, the settings description, EV. XMP and every other segment are kept as they are.
 */
import {
  app1,
  ascii,
  buildExif,
  cloneExif,
  type ExifData,
  emptyExif,
  exifDate,
  find,
  IFD0_TAGS,
  isExifSegment,
  jpegHeaderSegments,
  parseExif,
  put,
  rational,
  short,
  srational,
  TAG,
  type TiffEntry,
} from '../util/exif-tiff.js';

export { exifDate };

export interface ExifFields {
  /** The capture time from the daemon's clock source (DateTime, DateTimeOriginal, DateTimeDigitized). */
  dateTime: Date;
  /** Used when the camera did not write one. */
  make?: string;
  /** Used when the camera did not write one. */
  model?: string;
  /** Replaces the camera's (rpicam-still writes "rpicam-apps"). */
  software?: string;
  description?: string;
  /** Used when the camera did not measure the exposure. */
  exposureUs?: number;
  /** Used when the camera did not record the gain (as ISO = 100 × gain, like rpicam-still). */
  gain?: number;
  ev?: number;
}

/**
 * rpicam-still puts Make, Model, Software and DateTime in the Exif IFD (exif_create_tag(exif, EXIF_IFD_EXIF, …)),
 * where the EXIF spec has them in IFD0 and readers such as Exiv2 do not look; they move to IFD0, unchanged.
 */
function normalise(d: ExifData): void {
  const stay: TiffEntry[] = [];
  for (const e of d.exif) {
    if (IFD0_TAGS.has(e.tag)) {
      if (!find(d.ifd0, e.tag)) d.ifd0.push(e);
    } else stay.push(e);
  }
  d.exif = stay;
}

function merge(d: ExifData, f: ExifFields, withDescription: boolean): void {
  normalise(d);
  const when = exifDate(f.dateTime);
  put(d.ifd0, ascii(TAG.DateTime, when));
  put(d.exif, ascii(TAG.DateTimeOriginal, when));
  put(d.exif, ascii(TAG.DateTimeDigitized, when));
  if (f.software) put(d.ifd0, ascii(TAG.Software, f.software));
  if (f.make && !find(d.ifd0, TAG.Make)) put(d.ifd0, ascii(TAG.Make, f.make));
  if (f.model && !find(d.ifd0, TAG.Model)) put(d.ifd0, ascii(TAG.Model, f.model));
  if (!find(d.ifd0, TAG.Orientation)) put(d.ifd0, short(TAG.Orientation, 1));
  if (withDescription && f.description) put(d.ifd0, ascii(TAG.ImageDescription, f.description.slice(0, 1000)));
  if (f.exposureUs && f.exposureUs > 0 && !find(d.exif, TAG.ExposureTime))
    put(d.exif, rational(TAG.ExposureTime, Math.round(f.exposureUs), 1_000_000));
  if (f.gain && f.gain > 0 && !find(d.exif, TAG.ISOSpeedRatings)) put(d.exif, short(TAG.ISOSpeedRatings, f.gain * 100));
  if (f.ev !== undefined && !find(d.exif, TAG.ExposureBiasValue))
    put(d.exif, srational(TAG.ExposureBiasValue, Math.round(f.ev * 100), 100));
}

/**
 * Returns the JPEG with exactly one Exif APP1 segment: the first one the file had (the camera's), merged with ours,
 * in its place; any further Exif segment is dropped. A JPEG without EXIF gets ours after SOI (and a JFIF APP0).
 */
export function withExif(jpeg: Buffer, f: ExifFields): Buffer {
  const { segments } = jpegHeaderSegments(jpeg);
  const exifSegs = segments.filter((s) => isExifSegment(jpeg, s));
  let data = emptyExif();
  if (exifSegs.length) {
    try {
      data = parseExif(jpeg.subarray(exifSegs[0].start + 4, exifSegs[0].end));
    } catch {
      // Unreadable camera EXIF: replaced by ours rather than copied as garbage.
      data = emptyExif();
    }
  }
  const base = cloneExif(data);
  let payload: Buffer;
  try {
    merge(data, f, true);
    payload = buildExif(data);
    if (payload.length + 2 > 0xffff) throw new Error('too large');
  } catch {
    // An APP1 segment holds at most 64 KiB: drop our description before giving up anything of the camera's.
    data = base;
    merge(data, f, false);
    payload = buildExif(data);
  }
  const segment = app1(payload);
  let insertAt: number;
  let removeFrom: typeof segments;
  if (exifSegs.length) {
    insertAt = exifSegs[0].start;
    removeFrom = exifSegs;
  } else {
    insertAt = segments[0]?.marker === 0xe0 ? segments[0].end : 2;
    removeFrom = [];
  }
  const parts: Buffer[] = [];
  let p = 0;
  for (const s of removeFrom) {
    if (s.start === insertAt) {
      parts.push(jpeg.subarray(p, s.start), segment);
    } else parts.push(jpeg.subarray(p, s.start));
    p = s.end;
  }
  if (!removeFrom.length) {
    parts.push(jpeg.subarray(0, insertAt), segment);
    p = insertAt;
  }
  parts.push(jpeg.subarray(p));
  return Buffer.concat(parts);
}

/** The Exif APP1 segments of a JPEG, parsed (for checks and tests: a Pinhole photo has exactly one). */
export function readExifSegments(jpeg: Buffer): ExifData[] {
  const { segments } = jpegHeaderSegments(jpeg);
  return segments.filter((s) => isExifSegment(jpeg, s)).map((s) => parseExif(jpeg.subarray(s.start + 4, s.end)));
}

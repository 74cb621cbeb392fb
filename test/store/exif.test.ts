import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { withExif } from '../../src/store/exif.js';
import {
  app1,
  ascii,
  buildExif,
  emptyExif,
  entryText,
  find,
  isExifSegment,
  jpegHeaderSegments,
  parseExif,
  rational,
  short,
  TAG,
} from '../../src/util/exif-tiff.js';
import { faceRegionsXmp } from '../../src/vision/xmp.js';

/** A JPEG laid out like rpicam-still's (image/jpeg.cpp): SOI, one APP1 Exif with the tags in the Exif IFD, IFD1 + thumbnail. */
async function cameraJpeg(): Promise<{ jpeg: Buffer; thumb: Buffer }> {
  const body = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 90, g: 120, b: 200 } } })
    .jpeg({ quality: 90 })
    .toBuffer();
  const thumb = await sharp({ create: { width: 32, height: 24, channels: 3, background: { r: 9, g: 9, b: 9 } } })
    .jpeg({ quality: 70 })
    .toBuffer();
  const d = emptyExif();
  d.exif = [
    ascii(TAG.Make, 'Raspberry Pi'),
    ascii(TAG.Model, 'imx477'),
    ascii(TAG.Software, 'rpicam-apps'),
    ascii(TAG.DateTime, '2020:01:01 00:00:00'),
    ascii(TAG.DateTimeOriginal, '2020:01:01 00:00:00'),
    ascii(TAG.DateTimeDigitized, '2020:01:01 00:00:00'),
    rational(TAG.ExposureTime, 12345, 1_000_000),
    short(TAG.ISOSpeedRatings, 250),
  ];
  d.ifd1 = [short(TAG.ImageWidth, 32), short(TAG.ImageLength, 24), short(TAG.Compression, 6)];
  d.thumbnail = thumb;
  // jpeg.cpp drops libjpeg's SOI + JFIF APP0 (its exif_image_offset) and writes SOI + APP1 in front.
  const { segments } = jpegHeaderSegments(body);
  const afterApp0 = segments[0].marker === 0xe0 ? segments[0].end : 2;
  const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8]), app1(buildExif(d)), body.subarray(afterApp0)]);
  return { jpeg, thumb };
}

function exifSegments(jpeg: Buffer) {
  const { segments } = jpegHeaderSegments(jpeg);
  return segments.filter((s) => isExifSegment(jpeg, s)).map((s) => parseExif(jpeg.subarray(s.start + 4, s.end)));
}

describe('EXIF merge into the camera EXIF (issue 13 item 2)', () => {
  it("keeps one Exif segment: the camera's tags and thumbnail, Pinhole's Software and the daemon's capture time", async () => {
    const { jpeg, thumb } = await cameraJpeg();
    const when = new Date(2031, 4, 6, 7, 8, 9);
    const out = withExif(jpeg, {
      dateTime: when,
      make: 'Raspberry Pi',
      model: 'Pinhole camera',
      software: 'Pinhole 9.9.9',
      description: 'Pinhole capture',
      exposureUs: 999,
      gain: 4,
      ev: -1,
    });
    const all = exifSegments(out);
    expect(all).toHaveLength(1);
    const x = all[0];
    // Tags the EXIF spec puts in IFD0 are there (readers like Exiv2 look for Make only in IFD0).
    expect(entryText(find(x.ifd0, TAG.Make))).toBe('Raspberry Pi');
    expect(entryText(find(x.ifd0, TAG.Model))).toBe('imx477');
    expect(entryText(find(x.ifd0, TAG.Software))).toBe('Pinhole 9.9.9');
    expect(entryText(find(x.ifd0, TAG.DateTime))).toBe('2031:05:06 07:08:09');
    expect(entryText(find(x.exif, TAG.DateTimeOriginal))).toBe('2031:05:06 07:08:09');
    expect(find(x.exif, TAG.Make)).toBeUndefined();
    // The camera's measured exposure wins over the configured one.
    expect(find(x.exif, TAG.ExposureTime)?.data.readUInt32LE(0)).toBe(12345);
    expect(find(x.exif, TAG.ISOSpeedRatings)?.data.readUInt16LE(0)).toBe(250);
    expect(find(x.exif, TAG.ExposureBiasValue)?.data.readInt32LE(0)).toBe(-100);
    expect(x.thumbnail?.equals(thumb)).toBe(true);
    expect(find(x.ifd1, TAG.Compression)?.data.readUInt16LE(0)).toBe(6);
    // Still a valid JPEG that sharp reads, and the thumbnail decodes.
    expect(await sharp(out).metadata()).toMatchObject({ format: 'jpeg', width: 64, height: 48 });
    expect(await sharp(x.thumbnail as Buffer).metadata()).toMatchObject({ width: 32, height: 24 });
  });

  it('writes our EXIF into a JPEG that has none, and a second merge keeps a single segment', async () => {
    const plain = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#808080' } })
      .jpeg()
      .toBuffer();
    const once = withExif(plain, { dateTime: new Date(2030, 0, 1), make: 'Raspberry Pi', software: 'Pinhole 1' });
    const twice = withExif(once, { dateTime: new Date(2030, 0, 2), make: 'Raspberry Pi', software: 'Pinhole 2' });
    const all = exifSegments(twice);
    expect(all).toHaveLength(1);
    expect(entryText(find(all[0].ifd0, TAG.Software))).toBe('Pinhole 2');
    expect(entryText(find(all[0].exif, TAG.DateTimeOriginal))).toBe('2030:01:02 00:00:00');
  });

  it('a second Exif APP1 is dropped, an XMP APP1 is kept, big-endian EXIF is read', async () => {
    const { jpeg } = await cameraJpeg();
    // A big-endian copy of a minimal EXIF, inserted as a second APP1, plus an XMP packet.
    const be = Buffer.concat([
      Buffer.from('Exif\0\0', 'latin1'),
      Buffer.from([0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1]),
      Buffer.from([0x01, 0x0f, 0, 2, 0, 0, 0, 4]),
      Buffer.from('Foo\0', 'latin1'),
      Buffer.from([0, 0, 0, 0]),
    ]);
    expect(entryText(find(parseExif(be).ifd0, TAG.Make))).toBe('Foo');
    const xmpBody = Buffer.from(`http://ns.adobe.com/xap/1.0/\0${faceRegionsXmp([], 64, 48)}`, 'latin1');
    const xmp = Buffer.concat([
      Buffer.from([0xff, 0xe1, (xmpBody.length + 2) >> 8, (xmpBody.length + 2) & 0xff]),
      xmpBody,
    ]);
    const withTwo = Buffer.concat([jpeg.subarray(0, 2), app1(be), xmp, jpeg.subarray(2)]);
    const out = withExif(withTwo, { dateTime: new Date(), software: 'Pinhole 3' });
    expect(exifSegments(out)).toHaveLength(1);
    expect(out.includes(Buffer.from('http://ns.adobe.com/xap/1.0/'))).toBe(true);
    expect(entryText(find(exifSegments(out)[0].ifd0, TAG.Make))).toBe('Foo');
  });
});

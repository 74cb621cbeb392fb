import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, test } from 'vitest';
import { decodeForAnalysis, jpegDecodeSide } from '../../src/analysis/analyzer.js';
import { tempDir } from '../helpers/tmp.js';

describe('decode size of photos for analysis', () => {
  const t = tempDir('pinhole-decode-side-');
  afterAll(() => t.cleanup());

  test('a JPEG scale within 10 % below the request is taken; otherwise the request stands', () => {
    expect(jpegDecodeSide(4056, 2048)).toBe(2028); // the HQ camera's 12 MP at the default analysis size
    expect(jpegDecodeSide(4055, 2048)).toBe(2027); // odd: the factor must reach 2
    expect(jpegDecodeSide(4608, 2048)).toBe(2048); // Camera Module 3: 2304 is over, 1152 far under
    expect(jpegDecodeSide(4056, 1600)).toBe(1600); // 1014 would lose a third of the pixels per side
    expect(jpegDecodeSide(8000, 1000)).toBe(1000); // exactly 1/8
    expect(jpegDecodeSide(1126, 2048)).toBe(2048); // no shrink needed: never up
  });

  test('a 4056×3040 JPEG asked for at 2048 comes out at its half scale, 2028×1520, with the original size', async () => {
    const file = path.join(t.dir, 'hq.jpg');
    await sharp({ create: { width: 4056, height: 3040, channels: 3, background: '#806040' } })
      .jpeg({ quality: 90 })
      .toFile(file);
    const r = await decodeForAnalysis(file, 2048);
    expect([r.img.width, r.img.height, r.width, r.height]).toEqual([2028, 1520, 4056, 3040]);
    expect(r.img.data.length).toBe(2028 * 1520 * 3);
    // a PNG has no scale-on-load: the request stands
    const png = path.join(t.dir, 'hq.png');
    await sharp(file).png({ compressionLevel: 1 }).toFile(png);
    const p = await decodeForAnalysis(png, 2048);
    expect([p.img.width, p.img.height]).toEqual([2048, 1535]);
  });
});

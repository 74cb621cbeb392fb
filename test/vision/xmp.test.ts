import sharp from 'sharp';
import { describe, expect, test } from 'vitest';
import type { Face } from '../../src/vision/face.js';
import { embedFaceRegions, readXmp } from '../../src/vision/xmp.js';

const faces: Face[] = [
  { box: [100, 50, 200, 100], score: 0.9, landmarks: [] },
  { box: [700, 300, 150, 120], score: 0.8, landmarks: [] },
];

/** A small MWG reader: the regions as numbers, parsed from the attributes. */
function parseRegions(xmp: string) {
  const dims = /<mwg-rs:AppliedToDimensions stDim:w="(\d+)" stDim:h="(\d+)" stDim:unit="pixel"\/>/.exec(xmp);
  const list = [
    ...xmp.matchAll(
      /<rdf:li rdf:parseType="Resource">\s*<mwg-rs:Type>(\w+)<\/mwg-rs:Type>\s*<mwg-rs:Area stArea:x="([\d.]+)" stArea:y="([\d.]+)" stArea:w="([\d.]+)" stArea:h="([\d.]+)" stArea:unit="normalized"\/>/g,
    ),
  ];
  return {
    dims: dims ? [Number(dims[1]), Number(dims[2])] : undefined,
    regions: list.map((m) => ({ type: m[1], x: Number(m[2]), y: Number(m[3]), w: Number(m[4]), h: Number(m[5]) })),
  };
}

async function jpeg(opts: { exif?: boolean; xmp?: string } = {}): Promise<Buffer> {
  let s = sharp({ create: { width: 1000, height: 500, channels: 3, background: '#335577' } }).jpeg();
  if (opts.exif) s = s.withExif({ IFD0: { Make: 'Pinhole', Model: 'test' } });
  if (opts.xmp) s = s.withXmp(opts.xmp);
  return s.toBuffer();
}

describe('embedFaceRegions', () => {
  test('writes MWG face regions, centre-based and normalised; the JPEG still decodes', async () => {
    const src = await jpeg({ exif: true });
    const out = embedFaceRegions(src, faces, 1000, 500);
    const xmp = readXmp(out);
    expect(xmp).toBeDefined();
    const parsed = parseRegions(xmp ?? '');
    expect(parsed.dims).toEqual([1000, 500]);
    expect(parsed.regions).toEqual([
      { type: 'Face', x: 0.2, y: 0.2, w: 0.2, h: 0.2 },
      { type: 'Face', x: 0.775, y: 0.72, w: 0.15, h: 0.24 },
    ]);
    const meta = await sharp(out).metadata();
    expect(meta.width).toBe(1000);
    expect(meta.exif?.includes(Buffer.from('Pinhole'))).toBe(true);
    expect(meta.xmp?.toString()).toContain('mwg-rs:Regions');
    const a = await sharp(src).raw().toBuffer();
    const b = await sharp(out).raw().toBuffer();
    expect(b.equals(a)).toBe(true);
  });

  test('replaces an existing XMP packet instead of adding a second one', async () => {
    const src = await jpeg({
      xmp: '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:old="urn:old"><old:Tag>old</old:Tag></rdf:Description></rdf:RDF></x:xmpmeta>',
    });
    expect(readXmp(src)).toContain('old:Tag');
    const once = embedFaceRegions(src, faces.slice(0, 1), 1000, 500);
    const twice = embedFaceRegions(once, faces, 1000, 500);
    expect(twice.toString('latin1').split('http://ns.adobe.com/xap/1.0/\0').length - 1).toBe(1);
    expect(readXmp(twice)).not.toContain('old:Tag');
    expect(parseRegions(readXmp(twice) ?? '').regions).toHaveLength(2);
    expect((await sharp(twice).metadata()).width).toBe(1000);
  });

  test('boxes past the edge are clipped to the image; no faces gives an empty list', async () => {
    const out = embedFaceRegions(await jpeg(), [{ box: [-50, -50, 150, 100], score: 1, landmarks: [] }], 1000, 500);
    expect(parseRegions(readXmp(out) ?? '').regions[0]).toEqual({ type: 'Face', x: 0.05, y: 0.05, w: 0.1, h: 0.1 });
    expect(parseRegions(readXmp(embedFaceRegions(await jpeg(), [], 1000, 500)) ?? '').regions).toEqual([]);
  });

  test('not a JPEG, or a truncated header, is a clear error', () => {
    expect(() => embedFaceRegions(Buffer.from('hello'), faces, 10, 10)).toThrow(/not a JPEG/);
    expect(() => embedFaceRegions(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x40, 1, 2]), faces, 10, 10)).toThrow(
      /corrupt JPEG/,
    );
  });
});

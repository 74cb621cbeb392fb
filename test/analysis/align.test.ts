import { describe, expect, test } from 'vitest';
import {
  type Affine,
  apply,
  DESCRIPTOR_CHIP,
  faceChip,
  halve,
  mapAtLevel,
  type Point,
  pyramidLevels,
  renderCrop,
  similarity,
  squareCrop,
  warpAffine,
  YUNET_TEMPLATE,
} from '../../src/analysis/align.js';
import type { RgbImage } from '../../src/analysis/types.js';
import { mulberry32 } from '../../src/util/prng.js';

function noise(w: number, h: number, seed = 1): RgbImage {
  const r = mulberry32(seed);
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(r() * 256);
  return { data, width: w, height: h, channels: 3 };
}
const placed = (img: RgbImage) => ({ img, ox: 0, oy: 0, fullWidth: img.width, fullHeight: img.height });

describe('alignment maths', () => {
  test('similarity() recovers an exact scaled rotation and translation', () => {
    const a = 1.7 * Math.cos(0.3);
    const b = 1.7 * Math.sin(0.3);
    const t: Affine = [a, -b, 12.5, b, a, -4];
    const from: Point[] = [
      [0, 0],
      [10, 3],
      [4, 9],
      [7, 7],
    ];
    const s = similarity(
      from,
      from.map((p) => apply(t, p)),
    );
    for (let i = 0; i < 6; i++) expect(s[i]).toBeCloseTo(t[i], 10);
  });

  test("the face chip puts landmarks that match dlib's frame where the template says", () => {
    const { size, padding } = DESCRIPTOR_CHIP;
    // landmarks = a known similarity of the padded template: the chip must undo it
    const chipPts = YUNET_TEMPLATE.map(
      ([x, y]): Point => [((padding + x) / (1 + 2 * padding)) * size, ((padding + y) / (1 + 2 * padding)) * size],
    );
    const k = 2.2;
    const th = -0.25;
    const t: Affine = [k * Math.cos(th), -k * Math.sin(th), 300, k * Math.sin(th), k * Math.cos(th), 180];
    const spec = faceChip(chipPts.map((p) => apply(t, p)));
    expect(spec.width).toBe(150);
    expect(spec.sourceSide).toBeCloseTo(150 * k, 6);
    // dlib's corner mapping scales by (size·s − 1)/(size − 1) and centres pixel (size−1)/2: within half a pixel
    // of the similarity itself at every template point
    for (const p of chipPts) {
      const viaChip = apply(spec.map, [p[0] * ((150 - 1) / (150 - 1 / k)), p[1] * ((150 - 1) / (150 - 1 / k))]);
      const direct = apply(t, p);
      expect(Math.hypot(viaChip[0] - direct[0], viaChip[1] - direct[1])).toBeLessThan(k * 0.75);
    }
    // eyes level and left of right in the chip, mouth below the nose
    const [re, le, nose, rm] = YUNET_TEMPLATE;
    expect(re[1]).toBeCloseTo(le[1], 6);
    expect(re[0]).toBeLessThan(le[0]);
    expect(nose[1]).toBeGreaterThan(re[1]);
    expect(rm[1]).toBeGreaterThan(nose[1]);
  });

  test('the identity warp copies the image; a crop outside the image is all border (0)', () => {
    const img = noise(40, 30);
    expect(Buffer.from(warpAffine(placed(img), [1, 0, 0, 0, 1, 0], 40, 30)).equals(Buffer.from(img.data))).toBe(true);
    const out = warpAffine(placed(img), [1, 0, 1000, 0, 1, 1000], 8, 8);
    expect(out.every((v) => v === 0)).toBe(true);
  });

  test('a half-pixel shift averages neighbours with rounding, like OpenCV', () => {
    const img: RgbImage = { data: new Uint8Array([0, 0, 0, 100, 50, 201]), width: 2, height: 1, channels: 3 };
    const out = warpAffine(placed(img), [1, 0, 0.5, 0, 1, 0], 1, 1);
    // row 1 is outside (0): bilinear between (0,100) horizontally, and y exactly 0 keeps row 0 only
    expect(Array.from(out)).toEqual([50, 25, 101]);
  });

  test('a crop from a region of the pyramid equals the same crop from the whole-image pyramid', () => {
    const img = noise(517, 389, 7);
    const spec = squareCrop([123.4, 77.7, 301.2, 288.9], 64);
    const n = pyramidLevels(spec);
    expect(n).toBe(2);
    let whole = img;
    for (let i = 0; i < n; i++) whole = halve(whole);
    const expected = warpAffine(placed(whole), mapAtLevel(spec.map, n), 64, 64);
    expect(Buffer.from(renderCrop(img, spec)).equals(Buffer.from(expected))).toBe(true);
    // the same at the image edge (region clipped by the border)
    const edge = squareCrop([-80, 300, 260, 200], 64);
    let whole2 = img;
    for (let i = 0; i < pyramidLevels(edge); i++) whole2 = halve(whole2);
    expect(
      Buffer.from(renderCrop(img, edge)).equals(
        Buffer.from(warpAffine(placed(whole2), mapAtLevel(edge.map, pyramidLevels(edge)), 64, 64)),
      ),
    ).toBe(true);
  });

  test('pyramid levels follow dlib: halve while the halved region is larger than the crop', () => {
    expect(pyramidLevels(squareCrop([0, 0, 100, 60], 64))).toBe(0);
    expect(pyramidLevels(squareCrop([0, 0, 129, 60], 64))).toBe(1);
    expect(pyramidLevels(squareCrop([0, 0, 600, 60], 64))).toBe(3);
  });
});

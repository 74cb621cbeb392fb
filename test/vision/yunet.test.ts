import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { iou } from '../../src/vision/face.js';
import { YuNetDetector } from '../../src/vision/yunet.js';
import { imagePath, modelPath, SESSION } from './helpers.js';

const OPTS = { maxSide: 640, threshold: 0.6 };

describe('YuNetDetector', () => {
  let det: YuNetDetector;
  let tmp: string;
  beforeAll(async () => {
    det = await YuNetDetector.load(modelPath('yunet_s_dynamic.onnx'), SESSION);
  });
  afterAll(() => det.release());
  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'pinhole-yunet-'));
  });
  afterEach(() => rm(tmp, { recursive: true, force: true }));

  test('finds the faces of the shared photos with sane landmarks', async () => {
    const astro = await det.detectImage(imagePath('astronaut.png'), OPTS);
    expect(astro).toMatchObject({ width: 512, height: 512 });
    expect(astro.faces).toHaveLength(1);
    expect(astro.faces[0].score).toBeGreaterThan(0.9);
    const two = await det.detectImage(imagePath('two_people.jpg'), OPTS);
    expect(two).toMatchObject({ width: 1126, height: 661 });
    expect(two.faces).toHaveLength(2);
    for (const f of two.faces) {
      const [x, y, w, h] = f.box;
      expect(f.landmarks).toHaveLength(5);
      for (const [lx, ly] of f.landmarks) {
        expect(lx).toBeGreaterThan(x);
        expect(lx).toBeLessThan(x + w);
        expect(ly).toBeGreaterThan(y);
        expect(ly).toBeLessThan(y + h);
      }
      // right eye (subject's right) is on the image's left, eyes above the nose, nose above the mouth
      expect(f.landmarks[0][0]).toBeLessThan(f.landmarks[1][0]);
      expect(f.landmarks[0][1]).toBeLessThan(f.landmarks[2][1]);
      expect(f.landmarks[2][1]).toBeLessThan(f.landmarks[3][1]);
    }
  });

  test('boxes are in original pixels whatever the detection size', async () => {
    const a = await det.detectImage(imagePath('two_people.jpg'), { maxSide: 640, threshold: 0.6 });
    const b = await det.detectImage(imagePath('two_people.jpg'), { maxSide: 960, threshold: 0.6 });
    expect(b.faces).toHaveLength(2);
    const sorted = (fs: typeof a.faces) => [...fs].sort((p, q) => p.box[0] - q.box[0]);
    sorted(a.faces).forEach((f, i) => {
      expect(iou(f.box, sorted(b.faces)[i].box)).toBeGreaterThan(0.8);
    });
  });

  test('never upscales: a small image is detected at its own size', async () => {
    const file = path.join(tmp, 'small.png');
    await sharp(imagePath('astronaut.png')).resize(200).toFile(file);
    const r = await det.detectImage(file, { maxSide: 2048, threshold: 0.6 });
    expect(r).toMatchObject({ width: 200, height: 200 });
    expect(r.faces).toHaveLength(1);
    expect(r.faces[0].box[2]).toBeLessThan(60);
  });

  test('EXIF-rotated photo: boxes match the displayed orientation', async () => {
    const upright = await det.detectImage(imagePath('two_people.jpg'), OPTS);
    // Store the pixels turned 90° counter-clockwise and tag Orientation 6 (display rotated 90° clockwise).
    const file = path.join(tmp, 'exif6.jpg');
    await sharp(imagePath('two_people.jpg'))
      .rotate(-90)
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toFile(file);
    const meta = await sharp(file).metadata();
    expect(meta.orientation).toBe(6);
    expect(meta.width).toBe(661);
    const r = await det.detectImage(file, OPTS);
    expect(r).toMatchObject({ width: 1126, height: 661 });
    expect(r.faces).toHaveLength(2);
    const byX = (fs: typeof r.faces) => [...fs].sort((p, q) => p.box[0] - q.box[0]);
    byX(r.faces).forEach((f, i) => {
      expect(iou(f.box, byX(upright.faces)[i].box)).toBeGreaterThan(0.75);
    });
  });

  test('grayscale PNG and a PNG with alpha are detected', async () => {
    const gray = path.join(tmp, 'gray.png');
    await sharp(imagePath('two_people.jpg')).grayscale().toColourspace('b-w').png().toFile(gray);
    expect((await sharp(gray).metadata()).channels).toBe(1);
    expect((await det.detectImage(gray, OPTS)).faces).toHaveLength(2);
    const alpha = path.join(tmp, 'alpha.png');
    await sharp(imagePath('astronaut.png')).ensureAlpha(0.5).png().toFile(alpha);
    expect((await sharp(alpha).metadata()).channels).toBe(4);
    const r = await det.detectImage(alpha, OPTS);
    expect(r.faces).toHaveLength(1);
    expect(r.faces[0].score).toBeGreaterThan(0.9);
  });

  test('1×1 image and a 10000×200 panorama give no faces and no error', async () => {
    const one = path.join(tmp, 'one.png');
    await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } })
      .png()
      .toFile(one);
    expect(await det.detectImage(one, OPTS)).toEqual({ width: 1, height: 1, faces: [] });
    const pano = path.join(tmp, 'pano.jpg');
    await sharp({ create: { width: 10000, height: 200, channels: 3, background: '#406080' } })
      .jpeg()
      .toFile(pano);
    expect(await det.detectImage(pano, OPTS)).toEqual({ width: 10000, height: 200, faces: [] });
  });

  test('corrupt and truncated JPEGs, and non-images, are clear errors; the detector still works after', async () => {
    const full = await sharp(imagePath('two_people.jpg')).jpeg().toBuffer();
    const truncated = path.join(tmp, 'truncated.jpg');
    await writeFile(truncated, full.subarray(0, full.length >> 1));
    await expect(det.detectImage(truncated, OPTS)).rejects.toThrow(/truncated\.jpg: not a readable image/);
    const garbage = path.join(tmp, 'garbage.jpg');
    await writeFile(garbage, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(500, 7)]));
    await expect(det.detectImage(garbage, OPTS)).rejects.toThrow(/not a readable image/);
    await expect(det.detectImage(path.join(tmp, 'absent.jpg'), OPTS)).rejects.toThrow(/absent\.jpg/);
    await expect(det.detectImage(Buffer.from('hello'), OPTS)).rejects.toThrow(/not a readable image/);
    expect((await det.detectImage(full, OPTS)).faces).toHaveLength(2);
  });

  test('concurrent calls are serialised and all answered', async () => {
    const results = await Promise.all([1, 2, 3].map(() => det.detectImage(imagePath('astronaut.png'), OPTS)));
    for (const r of results) expect(r.faces[0].box).toEqual(results[0].faces[0].box);
  });
});

describe('fixed-size models', () => {
  test.each([
    ['yunet_s_320_320.onnx', 320],
    ['face_detection_yunet_2023mar.onnx', 640],
  ])('%s letterboxes into its %i² input and finds both faces', async (file, size) => {
    const det = await YuNetDetector.load(modelPath(file), SESSION);
    try {
      expect(det.fixedSize).toEqual({ width: size, height: size });
      const r = await det.detectImage(imagePath('two_people.jpg'), { maxSide: 1000, threshold: 0.6 });
      expect(r.faces).toHaveLength(2);
      // a raw image larger than the model input is scaled to fit, boxes come back in its pixels
      const { data, info } = await sharp(imagePath('two_people.jpg')).raw().toBuffer({ resolveWithObject: true });
      const raw = await det.detectRaw({ data, width: info.width, height: info.height, channels: 3 });
      expect(raw).toHaveLength(2);
      expect(Math.max(...raw.map((f) => f.box[0]))).toBeGreaterThan(700);
    } finally {
      await det.release();
    }
  });

  test('yunet_n_dynamic works too', async () => {
    const det = await YuNetDetector.load(modelPath('yunet_n_dynamic.onnx'), SESSION);
    try {
      expect(det.fixedSize).toBeUndefined();
      expect((await det.detectImage(imagePath('two_people.jpg'), OPTS)).faces).toHaveLength(2);
    } finally {
      await det.release();
    }
  });

  test('a model that is not YuNet is refused', async () => {
    await expect(YuNetDetector.load(modelPath('IRCNN_Mx1_fp16.onnx'), SESSION)).rejects.toThrow(/not a YuNet model/);
  });
});

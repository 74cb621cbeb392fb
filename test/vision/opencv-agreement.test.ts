import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Face, iou } from '../../src/vision/face.js';
import { YuNetDetector } from '../../src/vision/yunet.js';
import { detectionPixels, SYNTH_IMAGES } from '../fixtures/opencv/synth.js';
import { modelPath, repoRoot, SESSION, shared } from './helpers.js';

interface RefImage {
  id: string;
  groundTruthFaces: number;
  width: number;
  height: number;
  faces: number[][];
}
const ref = JSON.parse(readFileSync(path.join(repoRoot, 'test/fixtures/opencv/reference.json'), 'utf8')) as {
  maxSide: number;
  threshold: number;
  images: RefImage[];
};

// OpenCV FaceDetectorYN 4.14 outputs, generated once by test/fixtures/opencv/generate.ts on the same pixels.
describe('agreement with OpenCV FaceDetectorYN', () => {
  let det: YuNetDetector;
  const ours = new Map<string, Face[]>();
  beforeAll(async () => {
    det = await YuNetDetector.load(modelPath('yunet_s_dynamic.onnx'), SESSION);
    for (const s of SYNTH_IMAGES) {
      const px = await detectionPixels(await s.make(path.join(shared, 'images')), ref.maxSide);
      ours.set(s.id, await det.detectRaw({ ...px, channels: 3 }, { threshold: ref.threshold }));
    }
  });
  afterAll(() => det.release());

  test('every reference image is regenerated at the same detection size', () => {
    expect(ref.images.map((i) => i.id).sort()).toEqual(SYNTH_IMAGES.map((s) => s.id).sort());
  });

  test('≥ 99 % of OpenCV faces with score ≥ 0.6 matched at IoU ≥ 0.9 and |Δscore| ≤ 0.02; no extra faces', () => {
    let total = 0;
    let matched = 0;
    let maxLandmarkErr = 0;
    const misses: string[] = [];
    for (const img of ref.images) {
      const mine = ours.get(img.id) ?? [];
      for (const f of img.faces.filter((f) => f[4] >= 0.6)) {
        total++;
        const best = mine.map((m) => ({ m, iou: iou(m.box, f.slice(0, 4)) })).sort((a, b) => b.iou - a.iou)[0];
        if (best && best.iou >= 0.9 && Math.abs(best.m.score - f[4]) <= 0.02) {
          matched++;
          best.m.landmarks.forEach(([x, y], k) => {
            maxLandmarkErr = Math.max(maxLandmarkErr, Math.abs(x - f[5 + 2 * k]), Math.abs(y - f[6 + 2 * k]));
          });
        } else {
          misses.push(`${img.id} score ${f[4].toFixed(3)}`);
        }
      }
      // precision: each face we report at ≥ 0.6 is one OpenCV reports too
      for (const m of mine.filter((m) => m.score >= 0.6)) {
        expect(
          img.faces.some((f) => iou(m.box, f.slice(0, 4)) >= 0.9),
          `${img.id}: extra face ${m.score}`,
        ).toBe(true);
      }
    }
    expect(total).toBeGreaterThanOrEqual(20);
    expect(misses).toEqual([]);
    expect(matched / total).toBeGreaterThanOrEqual(0.99);
    expect(maxLandmarkErr).toBeLessThan(0.5);
  });

  test('recall and precision against ground truth are no worse than OpenCV', () => {
    let tpOurs = 0;
    let tpCv = 0;
    let fpOurs = 0;
    let fpCv = 0;
    for (const img of ref.images) {
      const nOurs = (ours.get(img.id) ?? []).filter((f) => f.score >= 0.6).length;
      const nCv = img.faces.filter((f) => f[4] >= 0.6).length;
      tpOurs += Math.min(nOurs, img.groundTruthFaces);
      tpCv += Math.min(nCv, img.groundTruthFaces);
      fpOurs += Math.max(0, nOurs - img.groundTruthFaces);
      fpCv += Math.max(0, nCv - img.groundTruthFaces);
    }
    expect(tpOurs).toBeGreaterThanOrEqual(tpCv);
    expect(fpOurs).toBeLessThanOrEqual(fpCv);
  });
});

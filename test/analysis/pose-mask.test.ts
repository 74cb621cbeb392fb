import sharp from 'sharp';
import { afterAll, describe, expect, test } from 'vitest';
import { decodeForAnalysis } from '../../src/analysis/analyzer.js';
import { isHandRaised, raisedHands } from '../../src/analysis/pose.js';
import { KEYPOINT_NAMES, type Keypoint, type Pose } from '../../src/analysis/types.js';
import { astronaut, byX, detect, makeAnalyzer, twoPeople } from './helpers.js';

/** A pose with every keypoint at (x, y) and score 0.9, then the given overrides. */
function pose(over: Partial<Record<(typeof KEYPOINT_NAMES)[number], Partial<Keypoint>>> = {}): Pose {
  return {
    width: 640,
    height: 480,
    keypoints: KEYPOINT_NAMES.map((name) => ({ name, x: 320, y: 240, score: 0.9, ...over[name] })),
  };
}

describe('hand raised above the shoulder (pure)', () => {
  test('a wrist above its shoulder on either side', () => {
    const down = pose({
      left_shoulder: { y: 200 },
      right_shoulder: { y: 200 },
      left_wrist: { y: 380 },
      right_wrist: { y: 390 },
    });
    expect(raisedHands(down)).toEqual({ left: false, right: false });
    expect(isHandRaised(down)).toBe(false);
    const left = pose({
      left_shoulder: { y: 200 },
      right_shoulder: { y: 200 },
      left_wrist: { y: 120 },
      right_wrist: { y: 390 },
    });
    expect(raisedHands(left)).toEqual({ left: true, right: false });
    expect(isHandRaised(left)).toBe(true);
    const right = pose({
      left_shoulder: { y: 200 },
      right_shoulder: { y: 210 },
      left_wrist: { y: 300 },
      right_wrist: { y: 205 },
    });
    expect(raisedHands(right)).toEqual({ left: false, right: true });
  });

  test('keypoints scored 0.3 or less are not trusted; the wrist is compared with its own side only', () => {
    const unsure = pose({ left_shoulder: { y: 200 }, left_wrist: { y: 100, score: 0.3 }, right_wrist: { y: 400 } });
    expect(isHandRaised(unsure)).toBe(false);
    const noShoulder = pose({
      right_shoulder: { y: 200, score: 0.1 },
      right_wrist: { y: 100 },
      left_wrist: { y: 400 },
    });
    expect(raisedHands(noShoulder).right).toBe(false);
    // left wrist above the right shoulder but below its own: not raised
    const crossed = pose({
      left_shoulder: { y: 100 },
      right_shoulder: { y: 300 },
      left_wrist: { y: 200 },
      right_wrist: { y: 400 },
    });
    expect(isHandRaised(crossed)).toBe(false);
    expect(isHandRaised(pose({ left_shoulder: { y: 200 }, left_wrist: { y: 150, score: 0.31 } }), 0.3)).toBe(true);
  });
});

describe('MoveNet and the person mask on the shared photos', () => {
  const a = makeAnalyzer({ maxSessions: 2 });
  afterAll(() => a.close());

  test('pose: nose and eyes inside the YuNet box, shoulders below it, keypoints in image pixels', async () => {
    const { img } = await decodeForAnalysis(astronaut, 2048);
    const [face] = await detect(astronaut);
    const p = await a.pose(img, { priority: 'live' });
    expect(p.keypoints.map((k) => k.name)).toEqual([...KEYPOINT_NAMES]);
    const kp = (n: string) => p.keypoints.find((k) => k.name === n) as Keypoint;
    const [x, y, w, h] = face.box;
    for (const n of ['nose', 'left_eye', 'right_eye']) {
      const k = kp(n);
      expect(k.score, n).toBeGreaterThan(0.3);
      expect(k.x, n).toBeGreaterThan(x);
      expect(k.x, n).toBeLessThan(x + w);
      expect(k.y, n).toBeGreaterThan(y);
      expect(k.y, n).toBeLessThan(y + h);
    }
    // the subject's left eye is on the image right
    expect(kp('left_eye').x).toBeGreaterThan(kp('right_eye').x);
    for (const n of ['left_shoulder', 'right_shoulder']) {
      expect(kp(n).score, n).toBeGreaterThan(0.3);
      expect(kp(n).y, n).toBeGreaterThan(y + h * 0.8);
    }
    expect(kp('left_shoulder').x).toBeGreaterThan(kp('right_shoulder').x);
    // no raised hand in the photo
    expect(isHandRaised(p)).toBe(false);
  });

  test('pose on a landscape photo (padded to a square): the main person is found inside the frame', async () => {
    const { img } = await decodeForAnalysis(twoPeople, 2048);
    const faces = (await detect(twoPeople)).sort(byX);
    const p = await a.pose(img);
    const nose = p.keypoints[0];
    expect(nose.score).toBeGreaterThan(0.3);
    // MoveNet is single-person: its nose is inside one of the two faces
    expect(
      faces.some(
        (f) => nose.x > f.box[0] && nose.x < f.box[0] + f.box[2] && nose.y > f.box[1] && nose.y < f.box[1] + f.box[3],
      ),
    ).toBe(true);
    // head and shoulders inside the frame; a hip may be placed just below it (the body goes on out of frame) but
    // never down in the padding that made the frame square
    for (const k of p.keypoints.filter((k) => k.score > 0.3)) {
      const limit = k.name.endsWith('hip') || k.name.endsWith('knee') || k.name.endsWith('ankle') ? 1.15 : 1;
      expect(k.x, k.name).toBeGreaterThanOrEqual(0);
      expect(k.x, k.name).toBeLessThanOrEqual(img.width);
      expect(k.y, k.name).toBeGreaterThanOrEqual(0);
      expect(k.y, k.name).toBeLessThanOrEqual(img.height * limit);
    }
    for (const n of ['left_shoulder', 'right_shoulder']) {
      const k = p.keypoints.find((x) => x.name === n) as Keypoint;
      expect(k.score, n).toBeGreaterThan(0.3);
      expect(k.y, n).toBeLessThan(img.height);
    }
  });

  test('person mask: high on the faces, low in the background corner; nothing on an empty scene', async () => {
    for (const [file, model] of [
      [astronaut, 'selfie_seg'],
      [twoPeople, 'selfie_seg_landscape'],
    ] as const) {
      const m2 = makeAnalyzer({ models: { mask: model } });
      const { img } = await decodeForAnalysis(file, 640);
      const faces = await detect(
        await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
          .png()
          .toBuffer(),
      );
      const mask = await m2.personMask(img);
      expect([mask.width, mask.height]).toEqual(model === 'selfie_seg' ? [256, 256] : [256, 144]);
      const at = (x: number, y: number) =>
        mask.data[Math.floor((y / img.height) * mask.height) * mask.width + Math.floor((x / img.width) * mask.width)];
      for (const f of faces)
        expect(at(f.box[0] + f.box[2] / 2, f.box[1] + f.box[3] / 2), `${model} face`).toBeGreaterThan(0.8);
      expect(at(img.width * 0.98, img.height * 0.02), `${model} corner`).toBeLessThan(0.2);
      expect(mask.coverage).toBeGreaterThan(0.1);
      await m2.close();
    }
    const empty = { data: new Uint8Array(320 * 240 * 3).fill(90), width: 320, height: 240, channels: 3 as const };
    expect((await a.personMask(empty)).coverage).toBeLessThan(0.01);
  });
});

import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decodeForAnalysis } from '../../src/analysis/analyzer.js';
import { descriptorDistance } from '../../src/analysis/descriptor.js';
import { type Face, SAME_PERSON_DISTANCE } from '../../src/analysis/types.js';
import { loadManifest } from '../../src/models/manifest.js';
import { dirResolver } from '../../src/models/resolver.js';
import { UnavailableError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { astronaut, byX, detect, makeAnalyzer, modelsDir, twoPeople } from './helpers.js';

describe('FaceAnalyzer on real models', () => {
  const t = tempDir('pinhole-analysis-');
  let astroFaces: Face[];
  beforeAll(async () => {
    astroFaces = await detect(astronaut);
    expect(astroFaces).toHaveLength(1);
  });
  afterAll(() => t.cleanup());

  test('no faces: nothing is loaded and nothing returned', async () => {
    const a = makeAnalyzer();
    const { img } = await decodeForAnalysis(astronaut, 2048);
    expect(await a.analyze(img, [], { expression: true, descriptor: true })).toEqual([]);
    expect(a.loads).toBe(0);
    expect(a.status().resident).toBe(0);
    await a.close();
  });

  test('30 faces in one frame: every one analysed, in batches, all the same person', async () => {
    const tile = 260;
    const tiles: sharp.OverlayOptions[] = [];
    const small = await sharp(astronaut).resize(tile, tile).png().toBuffer();
    for (let r = 0; r < 5; r++) for (let c = 0; c < 6; c++) tiles.push({ input: small, left: c * tile, top: r * tile });
    const group = await sharp({ create: { width: 6 * tile, height: 5 * tile, channels: 3, background: '#445566' } })
      .composite(tiles)
      .png()
      .toBuffer();
    const faces = await detect(group);
    expect(faces).toHaveLength(30);
    const a = makeAnalyzer({ batch: 8 });
    const res = await a.analyzeImage(group, faces, { expression: true, descriptor: true });
    expect(res.faces).toHaveLength(30);
    for (const f of res.faces) {
      expect(f.skipped).toBeUndefined();
      expect(f.smile).toBeGreaterThan(0.7);
    }
    const d0 = res.faces[0].descriptor as Float32Array;
    // the same pixels at 30 positions: YuNet's landmarks shift a little with the grid, the identity does not
    for (const f of res.faces) expect(descriptorDistance(d0, f.descriptor as Float32Array)).toBeLessThan(0.25);
    // 30 faces in batches of 8: 4 runs per model
    expect(a.status().features.expression.runs).toBe(4);
    expect(a.status().features.descriptor.runs).toBe(4);
    await a.close();
  }, 120_000);

  test('faces too small for a model are skipped with the reason; big enough ones in the same frame are not', async () => {
    const a = makeAnalyzer();
    const { img } = await decodeForAnalysis(astronaut, 2048);
    const big = astroFaces[0];
    const k = 0.25; // a 22-pixel face: enough for the expression model (≥ 20), not for the descriptor (≥ 40)
    const k2 = 0.12; // an 11-pixel face: too small for both
    const scaled = (s: number): Face => ({
      box: [big.box[0] * s, big.box[1] * s, big.box[2] * s, big.box[3] * s],
      score: big.score,
      landmarks: big.landmarks.map(([x, y]) => [x * s, y * s] as [number, number]),
    });
    const res = await a.analyze(img, [big, scaled(k), scaled(k2)], { expression: true, descriptor: true });
    expect(res[0].skipped).toBeUndefined();
    expect(res[1].expression).toBeDefined();
    expect(res[1].descriptor).toBeUndefined();
    expect(res[1].skipped?.descriptor).toMatch(/too small for the descriptor model \(28 px < 40 px\)/);
    expect(res[2].expression).toBeUndefined();
    expect(res[2].skipped?.expression).toMatch(/too small for the expression model/);
    expect(res[2].skipped?.descriptor).toMatch(/too small/);
    await a.close();
  });

  test('a face at the image edge (crop reaching outside the image) is analysed from what is there', async () => {
    const a = makeAnalyzer();
    const { img } = await decodeForAnalysis(astronaut, 2048);
    const f = astroFaces[0];
    // the photo cut through the middle of the face: its left half lies outside the image
    const c = Math.round(f.box[0] + f.box[2] / 2);
    const cut = await sharp(astronaut)
      .extract({ left: c, top: 0, width: 512 - c, height: 512 })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const crop = { data: cut.data, width: cut.info.width, height: cut.info.height, channels: 3 as const };
    const offInCrop: Face = {
      box: [f.box[0] - c, f.box[1], f.box[2], f.box[3]],
      score: f.score,
      landmarks: f.landmarks.map(([x, y]) => [x - c, y] as [number, number]),
    };
    const [whole] = await a.analyze(img, [f], { expression: true, descriptor: true });
    const [half] = await a.analyze(crop, [offInCrop], { expression: true, descriptor: true });
    expect(half.skipped).toBeUndefined();
    for (const v of half.descriptor ?? []) expect(Number.isFinite(v)).toBe(true);
    // half a face is not a reliable identity, but it is no crash and no garbage: still nearer itself than others
    const [, other] = (await a.analyzeImage(twoPeople, (await detect(twoPeople)).sort(byX), { descriptor: true }))
      .faces;
    const dSelf = descriptorDistance(whole.descriptor as Float32Array, half.descriptor as Float32Array);
    expect(dSelf).toBeLessThan(descriptorDistance(half.descriptor as Float32Array, other.descriptor as Float32Array));
    await a.close();
  }, 60_000);

  test('a corrupt expression model turns off expressions only, with the reason in status', async () => {
    const dir = path.join(t.dir, 'corrupt');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    const entry = (await loadManifest()).models.find((m) => m.name === 'fer_mini_xception');
    if (!entry) throw new Error('no fer_mini_xception in the manifest');
    writeFileSync(path.join(dir, entry.file), Buffer.alloc(entry.size, 7)); // right size, wrong bytes
    const a = makeAnalyzer({ resolve: dirResolver(dir) }); // the other models come from the bundle
    const [r] = await a
      .analyzeImage(astronaut, astroFaces, { expression: true, descriptor: true })
      .then((x) => x.faces);
    expect(r.expression).toBeUndefined();
    expect(r.smile).toBeUndefined();
    expect(r.skipped?.expression).toMatch(/fer_mini_xception.*sha256/);
    expect(r.descriptor).toHaveLength(128);
    const st = a.status().features;
    expect(st.expression.state).toBe('unavailable');
    expect(st.expression.reason).toMatch(/does not match the manifest/);
    expect(st.descriptor.state).not.toBe('unavailable');
    expect(await a.problem('mask')).toBeUndefined();
    // a good copy put back is picked up without a restart (looked up again after 5 s, or at once by problem())
    copyFileSync(path.join(process.cwd(), 'models', 'seed', entry.file), path.join(dir, entry.file));
    expect(await a.problem('expression')).toBeUndefined();
    const [again] = (await a.analyzeImage(astronaut, astroFaces)).faces;
    expect(again.smile).toBeGreaterThan(0.9);
    expect(a.status().features.expression.state).not.toBe('unavailable');
    await a.close();
  });

  test('a missing descriptor or pose model: faces still get expressions; pose() says why it cannot run', async () => {
    const real = dirResolver(modelsDir);
    const a = makeAnalyzer({
      resolve: async (name) => {
        if (name === 'dlib_resnet_faceapi' || name === 'movenet_lightning')
          throw new UnavailableError(`model ${name}: not installed`, 'model-missing');
        return real(name);
      },
    });
    const res = await a.analyzeImage(astronaut, astroFaces, { expression: true, descriptor: true });
    expect(res.faces[0].smile).toBeGreaterThan(0.9);
    expect(res.faces[0].skipped?.descriptor).toMatch(/dlib_resnet_faceapi: not installed/);
    const { img } = await decodeForAnalysis(astronaut, 640);
    await expect(a.pose(img)).rejects.toThrow(/movenet_lightning: not installed/);
    expect(a.status().features.pose).toMatchObject({ state: 'unavailable', reason: expect.stringMatching(/movenet/) });
    expect(a.status().features.expression.state).toBe('loaded');
    await a.close();
  });

  test('analyzeImage: faces in and out in original pixels, whatever the analysis size', async () => {
    const big = path.join(t.dir, 'big.jpg');
    await sharp(astronaut).resize(2000, 2000).jpeg({ quality: 92 }).toFile(big);
    const faces = await detect(big);
    const a = makeAnalyzer({ maxSide: 700 });
    const res = await a.analyzeImage(big, faces, { expression: true, descriptor: true });
    expect([res.width, res.height]).toEqual([2000, 2000]);
    expect(res.faces[0].face).toEqual(faces[0]);
    expect(res.faces[0].smile).toBeGreaterThan(0.9);
    const ref = await makeAnalyzer().analyzeImage(astronaut, astroFaces, { descriptor: true });
    expect(
      descriptorDistance(res.faces[0].descriptor as Float32Array, ref.faces[0].descriptor as Float32Array),
    ).toBeLessThan(SAME_PERSON_DISTANCE / 2);
    await a.close();
  });

  test('an unreadable image is a clear validation error', async () => {
    const a = makeAnalyzer();
    await expect(a.analyzeImage('/etc/hostname', astroFaces)).rejects.toThrow(/not a readable image/);
    await expect(a.analyzeImage(path.join(t.dir, 'missing.jpg'), astroFaces)).rejects.toThrow(/not a readable/);
    await expect(
      a.analyze({ data: new Uint8Array(10), width: 10, height: 10, channels: 3 }, astroFaces),
    ).rejects.toThrow(/too short/);
    await a.close();
  });
});

import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  BestShot,
  type FrameFindings,
  type GreyImage,
  laplacianVariance,
  measureFrame,
  SCORE_WEIGHTS,
  scoreBurst,
} from '../../src/capture/best-shot.js';
import { configureLogging } from '../../src/util/logger.js';
import { sharedDir } from '../helpers/tmp.js';

configureLogging({ level: 'silent' });

async function grey(file: string, op: (s: sharp.Sharp) => sharp.Sharp = (s) => s): Promise<GreyImage> {
  const { data, info } = await op(sharp(file).resize(256, 256)).greyscale().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

describe('laplacianVariance', () => {
  it('matches a direct computation of the 4-neighbour Laplacian on a tiny image', () => {
    // 4×4, interior pixels (1,1),(2,1),(1,2),(2,2)
    const data = Uint8Array.from([0, 0, 0, 0, 0, 10, 20, 0, 0, 30, 40, 0, 0, 0, 0, 0]);
    const lap = [0 + 30 + 0 + 20 - 40, 0 + 40 + 10 + 0 - 80, 10 + 0 + 0 + 40 - 120, 20 + 0 + 30 + 0 - 160];
    const mean = lap.reduce((a, b) => a + b) / 4;
    const variance = lap.reduce((a, b) => a + (b - mean) ** 2, 0) / 4;
    expect(laplacianVariance({ data, width: 4, height: 4 })).toBeCloseTo(variance, 9);
    expect(laplacianVariance({ data: new Uint8Array(16).fill(7), width: 4, height: 4 })).toBe(0);
  });

  it('ranks a photo above its blurred and its motion-blurred copies', async () => {
    const file = path.join(sharedDir, 'images', 'astronaut.png');
    const sharpImg = await grey(file);
    const blurred = await grey(file, (s) => s.blur(2));
    // horizontal motion blur: 7-pixel box along x
    const shaken = await grey(file, (s) =>
      s.convolve({ width: 7, height: 3, kernel: [...Array(7).fill(0), ...Array(7).fill(1), ...Array(7).fill(0)] }),
    );
    const v = [sharpImg, blurred, shaken].map((g) => laplacianVariance(g));
    expect(v[0]).toBeGreaterThan(v[1] * 3);
    expect(v[0]).toBeGreaterThan(v[2] * 2);
  });

  it('a rectangle outside the image or of one pixel gives 0, not NaN', () => {
    const g = { data: new Uint8Array(100).map((_, i) => (i * 37) % 256), width: 10, height: 10 };
    expect(laplacianVariance(g, [50, 50, 10, 10])).toBe(0);
    expect(laplacianVariance(g, [3, 3, 0.2, 0.2])).toBeGreaterThanOrEqual(0);
  });
});

describe('scoreBurst', () => {
  const m = (frame: number, faces: number, smile: number | null, faceSharpness: number | null, sharpness: number) => ({
    frame,
    faces,
    smile,
    faceSharpness,
    sharpness,
  });

  it('prefers all faces found, then smiles and sharp faces', () => {
    const { best, scores } = scoreBurst([
      m(0, 2, 0.9, 100, 50), // one face missed (blink/motion)
      m(1, 3, 0.4, 100, 50),
      m(2, 3, 0.9, 40, 50), // faces soft
      m(3, 3, 0.9, 100, 48),
    ]);
    expect(best).toBe(3);
    expect(scores[3].total).toBeGreaterThan(scores[1].total);
    expect(scores[3].total).toBeGreaterThan(scores[2].total);
    expect(scores[1].total).toBeGreaterThan(0);
    expect(scores[3].total).toBeLessThanOrEqual(1);
  });

  it('without faces in the burst only sharpness counts; ties go to the first frame', () => {
    expect(scoreBurst([m(0, 0, null, null, 10), m(1, 0, null, null, 30), m(2, 0, null, null, 20)]).best).toBe(1);
    const tie = scoreBurst([m(0, 0, null, null, 10), m(1, 0, null, null, 10)]);
    expect(tie.best).toBe(0);
    expect(tie.scores[0].total).toBe(1);
  });

  it('weights add up to 1 (the sidecar shows them)', () => {
    expect(Object.values(SCORE_WEIGHTS).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('measureFrame scales face boxes to the grey copy', () => {
    const g: GreyImage = { data: new Uint8Array(100 * 100), width: 100, height: 100 };
    // texture only in the top-left quarter
    for (let y = 0; y < 50; y++) for (let x = 0; x < 50; x++) g.data[y * 100 + x] = (x * 53 + y * 29) % 256;
    const f: FrameFindings = {
      grey: g,
      scale: 0.25,
      faces: [
        { box: [0, 0, 200, 200], smile: 0.8 },
        { box: [200, 200, 200, 200], smile: 0.4 },
      ],
    };
    const r = measureFrame(0, f);
    expect(r.faces).toBe(2);
    expect(r.smile).toBeCloseTo(0.6, 9);
    const first = laplacianVariance(g, [0, 0, 50, 50]);
    expect(first).toBeGreaterThan(0);
    expect(r.faceSharpness).toBeCloseTo((first + laplacianVariance(g, [50, 50, 50, 50])) / 2, 6);
  });
});

describe('BestShot', () => {
  const findings = (faces: number, smile: number, tex: number): FrameFindings => {
    const g: GreyImage = { data: new Uint8Array(64 * 64), width: 64, height: 64 };
    for (let i = 0; i < g.data.length; i++) g.data[i] = ((i * 7919) % 251) % tex;
    return { grey: g, scale: 1, faces: Array.from({ length: faces }, () => ({ box: [8, 8, 40, 40], smile })) };
  };

  it('keeps the best frame as the photo and the others as alternates, with the breakdown', async () => {
    const byFile: Record<string, FrameFindings> = {
      '/b/0.jpg': findings(2, 0.3, 200),
      '/b/1.jpg': findings(2, 0.95, 200),
      '/b/2.jpg': findings(1, 0.95, 200),
    };
    const committed: { file: string; source: string; chosen: number }[] = [];
    const alternates: [string, string, string][] = [];
    let cleaned = false;
    const bs = new BestShot({
      config: () => ({ frames: 3, keepAlternates: true }),
      burst: async ({ frames }) => ({
        files: Array.from({ length: frames }, (_, i) => `/b/${i}.jpg`),
        cleanup: async () => {
          cleaned = true;
        },
      }),
      analyse: async (file) => byFile[file],
      commit: async (burst, frame, req) => {
        committed.push({ file: burst.files[frame], source: req.source, chosen: req.bestShot.chosen });
        return { id: 'p00000003-0badcafe' };
      },
      addAlternate: async (id, name, file) => {
        alternates.push([id, name, file]);
      },
    });
    const r = await bs.take('button');
    expect(committed).toEqual([{ file: '/b/1.jpg', source: 'button', chosen: 1 }]);
    expect(alternates).toEqual([
      ['p00000003-0badcafe', 'frame-1', '/b/0.jpg'],
      ['p00000003-0badcafe', 'frame-3', '/b/2.jpg'],
    ]);
    expect(r.bestShot.scores.map((s) => s.chosen ?? false)).toEqual([false, true, false]);
    expect(r.bestShot.scores[0]).toMatchObject({ faces: 2, alternate: 'frame-1' });
    expect(cleaned).toBe(true);
  });

  it('an unreadable frame is scored last; the burst files are cleaned up even when storing fails', async () => {
    let cleaned = false;
    const bs = new BestShot({
      config: () => ({ frames: 2, keepAlternates: false }),
      burst: async () => ({
        files: ['/x/0.jpg', '/x/1.jpg'],
        cleanup: async () => {
          cleaned = true;
        },
      }),
      analyse: async (file) => {
        if (file.endsWith('0.jpg')) throw new Error('truncated JPEG');
        return findings(1, 0.5, 100);
      },
      commit: async () => {
        throw new Error('disk full');
      },
      addAlternate: async () => {},
    });
    await expect(bs.take('web')).rejects.toThrow('disk full');
    expect(cleaned).toBe(true);
    expect(bs.busy).toBe(false);
  });
});

import path from 'node:path';
import { FaceAnalyzer, type FaceAnalyzerOptions } from '../../src/analysis/analyzer.js';
import type { Face } from '../../src/analysis/types.js';
import { dirResolver } from '../../src/models/resolver.js';
import { loadFaceDetector } from '../../src/vision/face-model.js';
import { sharedDir } from '../helpers/tmp.js';

export const modelsDir = path.join(sharedDir, 'models');
export const imagesDir = path.join(sharedDir, 'images');
export const astronaut = path.join(imagesDir, 'astronaut.png');
export const twoPeople = path.join(imagesDir, 'two_people.jpg');
export const SESSION = { threads: 1, optimization: 'all', memArena: false } as const;

export function makeAnalyzer(opts: Partial<FaceAnalyzerOptions> = {}): FaceAnalyzer {
  return new FaceAnalyzer({
    resolve: dirResolver(modelsDir),
    session: SESSION,
    maxSessions: 4,
    idleMs: 0,
    maxSide: 2048,
    ...opts,
  });
}

/** YuNet's faces in an image (path or encoded bytes), in the pixels of that image as given. */
export async function detect(input: string | Buffer): Promise<Face[]> {
  const det = await loadFaceDetector({ model: 'yunet_s_dynamic', modelsDir, ...SESSION });
  try {
    return (await det.detectImage(input, { maxSide: 2048, threshold: 0.6 })).faces;
  } finally {
    await det.release();
  }
}

export const byX = (a: Face, b: Face) => a.box[0] + a.box[2] / 2 - (b.box[0] + b.box[2] / 2);

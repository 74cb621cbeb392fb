import type { BestShotConfig } from '../config/sections/capture-modes.js';
import { errorMessage, ValidationError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';

const log = createLogger('capture.best-shot');

/** A grey image (one byte per pixel), usually a downscaled copy of a burst frame. */
export interface GreyImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Variance of the Laplacian (4-neighbour kernel [0 1 0; 1 -4 1; 0 1 0], OpenCV's `Laplacian` with ksize 1) over a
 * rectangle of the image, border pixels excluded. The classic focus measure (Pech-Pacheco et al. 2000): blur removes
 * high frequencies, so a blurred or shaken frame has a lower variance than a sharp one of the same scene.
 */
export function laplacianVariance(img: GreyImage, rect?: [number, number, number, number]): number {
  const { data, width: w, height: h } = img;
  let [x0, y0, rw, rh] = rect ?? [0, 0, w, h];
  x0 = Math.max(1, Math.floor(x0));
  y0 = Math.max(1, Math.floor(y0));
  const x1 = Math.min(w - 1, Math.ceil(x0 + rw));
  const y1 = Math.min(h - 1, Math.ceil(y0 + rh));
  let n = 0;
  let sum = 0;
  let sum2 = 0;
  for (let y = y0; y < y1; y++) {
    const row = y * w;
    for (let x = x0; x < x1; x++) {
      const i = row + x;
      const l = data[i - w] + data[i + w] + data[i - 1] + data[i + 1] - 4 * data[i];
      sum += l;
      sum2 += l * l;
      n++;
    }
  }
  if (n === 0) return 0;
  const mean = sum / n;
  return Math.max(0, sum2 / n - mean * mean);
}

/** What the analysis of one burst frame found. Boxes are in the frame's original pixels. */
export interface FrameFindings {
  faces: { box: [number, number, number, number]; smile?: number }[];
  /** Grey copy of the frame used for the sharpness measures, and its size relative to the original. */
  grey: GreyImage;
  /** grey pixels per original pixel (≤ 1). */
  scale: number;
}

/** The sidecar's score breakdown of one frame. */
export interface FrameScore {
  frame: number;
  faces: number;
  /** Mean smile score of the faces that have one; null without any. */
  smile: number | null;
  /** Mean variance of the Laplacian inside the face boxes; null without faces. */
  faceSharpness: number | null;
  /** Variance of the Laplacian of the whole frame (low = blurred or shaken). */
  sharpness: number;
  /** Weighted sum of the parts, each normalised to 0..1 within the burst. */
  total: number;
  /** Set on the kept frame. */
  chosen?: boolean;
  /** Name of the stored alternate (the `?variant=` of the photo) for frames not chosen. */
  alternate?: string;
}

/** How much each part weighs: faces found first, then smiles and sharp faces, overall blur last. */
export const SCORE_WEIGHTS = { faces: 0.35, smile: 0.25, faceSharpness: 0.25, sharpness: 0.15 } as const;

/** Measures of one frame (pure). */
export function measureFrame(frame: number, f: FrameFindings): Omit<FrameScore, 'total'> {
  const smiles = f.faces.map((x) => x.smile).filter((s): s is number => typeof s === 'number' && Number.isFinite(s));
  const faceSharp = f.faces.map((x) =>
    laplacianVariance(f.grey, [x.box[0] * f.scale, x.box[1] * f.scale, x.box[2] * f.scale, x.box[3] * f.scale]),
  );
  return {
    frame,
    faces: f.faces.length,
    smile: smiles.length ? smiles.reduce((a, b) => a + b, 0) / smiles.length : null,
    faceSharpness: faceSharp.length ? faceSharp.reduce((a, b) => a + b, 0) / faceSharp.length : null,
    sharpness: laplacianVariance(f.grey),
  };
}

/**
 * Scores the frames of one burst against each other (pure): faces found (relative to the most found in any frame),
 * mean smile, face sharpness and overall sharpness (relative to the sharpest frame). Parts nobody has (no faces in
 * the whole burst) drop out and the rest is renormalised. Ties go to the earlier frame (closest to the press).
 */
export function scoreBurst(measures: Omit<FrameScore, 'total'>[]): { best: number; scores: FrameScore[] } {
  if (measures.length === 0) throw new ValidationError('a burst needs at least one frame');
  const maxFaces = Math.max(...measures.map((m) => m.faces));
  const maxFaceSharp = Math.max(0, ...measures.map((m) => m.faceSharpness ?? 0));
  const maxSharp = Math.max(0, ...measures.map((m) => m.sharpness));
  const anySmile = measures.some((m) => m.smile !== null);
  const w = {
    faces: maxFaces > 0 ? SCORE_WEIGHTS.faces : 0,
    smile: anySmile ? SCORE_WEIGHTS.smile : 0,
    faceSharpness: maxFaceSharp > 0 ? SCORE_WEIGHTS.faceSharpness : 0,
    sharpness: SCORE_WEIGHTS.sharpness,
  };
  const sumW = w.faces + w.smile + w.faceSharpness + w.sharpness;
  const scores = measures.map((m) => {
    const parts =
      w.faces * (maxFaces > 0 ? m.faces / maxFaces : 0) +
      w.smile * (m.smile ?? 0) +
      w.faceSharpness * (maxFaceSharp > 0 ? (m.faceSharpness ?? 0) / maxFaceSharp : 0) +
      w.sharpness * (maxSharp > 0 ? m.sharpness / maxSharp : 1);
    return { ...m, total: Math.round((parts / sumW) * 1e4) / 1e4 };
  });
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i].total > scores[best].total) best = i;
  return { best, scores };
}

/** The sidecar's `bestShot` key. */
export interface BestShotMeta {
  frames: number;
  chosen: number;
  weights: typeof SCORE_WEIGHTS;
  scores: FrameScore[];
  /** ms from the request to the burst's last frame, and to the analysis' end. */
  burstMs?: number;
  analysisMs?: number;
}

export interface BurstResult {
  /** Full-resolution JPEG files of the frames, in capture order. */
  files: string[];
  /** performance.now() of the request, and each frame's timing after it (for the kept photo's shutter lag). */
  trigger?: number;
  lags?: { commandIssuedMs: number; exposureDoneMs: number; writtenMs: number }[];
  /** Removes the files (and their folder) once the kept ones are stored. */
  cleanup(): Promise<void>;
}

export interface BestShotDeps {
  config: () => BestShotConfig;
  /** N full-resolution frames as fast as the camera path allows (the capture service's burst). */
  burst: (req: { source: string; frames: number }) => Promise<BurstResult>;
  /** Faces (with smiles) and a grey copy of one frame. */
  analyse: (file: string) => Promise<FrameFindings>;
  /** Stores frame `frame` of the burst as a new photo with `bestShot` in its sidecar; resolves with its id. */
  commit: (
    burst: BurstResult,
    frame: number,
    req: { source: string; bestShot: BestShotMeta },
  ) => Promise<{ id: string }>;
  /** Stores a frame that was not chosen with the photo, under `name`. */
  addAlternate: (photoId: string, name: string, file: string, score: FrameScore) => Promise<void>;
  now?: () => number;
}

/** Alternate names: `frame-<n>`, n counted from 1 in capture order (stable when one is promoted). */
export const alternateName = (frame: number) => `frame-${frame + 1}`;

/** Best shot: burst → score every frame → keep the best as the photo, the others as its alternates. */
export class BestShot {
  private running = false;

  constructor(private readonly deps: BestShotDeps) {}

  get busy(): boolean {
    return this.running;
  }

  async take(source: string): Promise<{ id: string; bestShot: BestShotMeta }> {
    const now = this.deps.now ?? (() => performance.now());
    const cfg = this.deps.config();
    const t0 = now();
    this.running = true;
    try {
      const burst = await this.deps.burst({ source, frames: cfg.frames });
      try {
        const burstMs = now() - t0;
        if (burst.files.length === 0) throw new ValidationError('the burst returned no frames');
        const measures: Omit<FrameScore, 'total'>[] = [];
        for (let i = 0; i < burst.files.length; i++) {
          // One frame at a time: only one decoded copy is alive (a 512 MB board).
          try {
            measures.push(measureFrame(i, await this.deps.analyse(burst.files[i])));
          } catch (e) {
            // An unreadable frame is scored last rather than losing the whole burst.
            log.warn('burst frame not analysed', { frame: i, error: errorMessage(e) });
            measures.push({ frame: i, faces: 0, smile: null, faceSharpness: null, sharpness: 0 });
          }
        }
        const { best, scores } = scoreBurst(measures);
        scores[best].chosen = true;
        if (cfg.keepAlternates) for (const s of scores) if (!s.chosen) s.alternate = alternateName(s.frame);
        const meta: BestShotMeta = {
          frames: burst.files.length,
          chosen: best,
          weights: SCORE_WEIGHTS,
          scores,
          burstMs: Math.round(burstMs),
          analysisMs: Math.round(now() - t0 - burstMs),
        };
        const photo = await this.deps.commit(burst, best, { source, bestShot: meta });
        for (const s of scores) {
          if (!s.alternate) continue;
          try {
            await this.deps.addAlternate(photo.id, s.alternate, burst.files[s.frame], s);
          } catch (e) {
            log.warn('alternate not stored', { id: photo.id, frame: s.frame, error: errorMessage(e) });
          }
        }
        log.info('best shot', { id: photo.id, frames: meta.frames, chosen: best, total: scores[best].total });
        return { id: photo.id, bestShot: meta };
      } finally {
        await burst.cleanup().catch(() => {});
      }
    } finally {
      this.running = false;
    }
  }
}

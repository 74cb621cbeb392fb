import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { DENOISE_MODELS, denoiseTiling, runModelFile, UPSCALE_MODEL } from '../filters/model-filters.js';
import { decodeToV, encodeFromV, probeImage } from '../filters/raw-image.js';
import { imageStats, mapRows } from '../filters/strips.js';
import type { FaceFinder, FilterContext, ModelProvider } from '../filters/types.js';
import { commitFile, TEMP_MARK, tempPathFor } from '../util/atomic-write.js';
import { UnavailableError, ValidationError } from '../util/errors.js';
import { loadCv } from './cv.js';
import { cvStepsInWorker } from './cv-steps.js';
import { enhanceSmallFaces, type FacesReport } from './faces.js';
import { applyFade, FADE_CLIP, type FadeParams, fadeLuts, fadeParams } from './fade.js';
import type { Quad } from './geometry.js';
import { detectPrint } from './quad.js';
import type { ScratchReport } from './scratches.js';

/**
 * `pinhole scan`: a photographed old print, flattened and restored. Steps, each optional and in this order:
 * crop (find the print, warp it upright at its own aspect), scratches (dust and scratch repair), fade (levels and
 * colour cast), denoise (IRCNN), faces (small faces through Real-ESRGAN, blended back). Every step works on a `.v`
 * file tile by tile or row by row, so a 12 MP photo never sits in memory whole.
 */
export const SCAN_STEPS = ['crop', 'scratches', 'fade', 'denoise', 'faces'] as const;
export type ScanStep = (typeof SCAN_STEPS)[number];

/** Longest side of the preview the print is looked for in (the detector is tuned on ~1 MP views). */
export const DETECT_SIDE = 960;

export interface ScanOptions {
  input: string;
  out: string;
  steps: ScanStep[];
  /** true when the caller listed the steps: a step that cannot run is then an error, not a skip. */
  explicitSteps?: boolean;
  /** Corners chosen by hand (IN's pixels, clockwise from top-left): no detection. */
  corners?: Quad;
  workDir: string;
  models?: ModelProvider;
  faces?: FaceFinder;
  tileSize?: number;
  maxInputMegapixels?: number;
  maxOutputMegapixels?: number;
  signal?: AbortSignal;
  onProgress?: (f: number) => void;
  log?: (msg: string) => void;
}

export type StepReport =
  | { skipped: string }
  | ({ corners: Quad | null; width: number; height: number; aspect: number; source: string; reason?: string } & {
      support?: number;
    })
  | ScratchReport
  | (FadeParams & { clip: number })
  | { model: string }
  | FacesReport;

export interface ScanResult {
  out: string;
  corners: Quad | null;
  steps: Partial<Record<ScanStep, StepReport>>;
  width: number;
  height: number;
  ms: number;
}

export function parseSteps(list: string): ScanStep[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0)
    throw new ValidationError(
      `--steps is empty: give a comma-separated subset of ${SCAN_STEPS.join(',')}`,
      undefined,
      'usage',
    );
  const bad = names.filter((n) => !(SCAN_STEPS as readonly string[]).includes(n));
  if (bad.length)
    throw new ValidationError(
      `unknown scan step ${bad.join(', ')}: --steps takes a comma-separated subset of ${SCAN_STEPS.join(',')}`,
      undefined,
      'usage',
    );
  return SCAN_STEPS.filter((s) => names.includes(s));
}

export async function runScan(o: ScanOptions): Promise<ScanResult> {
  const t0 = performance.now();
  if (path.resolve(o.input) === path.resolve(o.out))
    throw new ValidationError('refusing to overwrite the input: choose another OUT', undefined, 'same-file');
  const ext = path.extname(o.out).toLowerCase();
  if (!['.png', '.jpg', '.jpeg'].includes(ext))
    throw new ValidationError(`unsupported output type ${ext || '(none)'}: OUT must end in .png, .jpg or .jpeg`);
  const log = o.log ?? (() => {});
  await probeImage(o.input, o.maxInputMegapixels ?? 100);
  const steps: ScanResult['steps'] = {};
  const want = new Set(o.steps);
  // Model steps: refused up front when asked for by name, skipped (and said so) when they came with the default.
  for (const step of ['denoise', 'faces'] as const) {
    if (!want.has(step)) continue;
    const problem = await modelProblem(step, o);
    if (!problem) continue;
    if (o.explicitSteps) throw new UnavailableError(`--steps ${step}: ${problem}`, 'filter-unavailable');
    want.delete(step);
    steps[step] = { skipped: problem };
    log(`scan: ${step} skipped: ${problem}`);
  }
  await fs.mkdir(o.workDir, { recursive: true });
  const temps: string[] = [];
  const temp = (suffix: string) => {
    const f = path.join(o.workDir, `${TEMP_MARK}scan-${process.pid}-${randomBytes(5).toString('hex')}${suffix}`);
    temps.push(f);
    return f;
  };
  const active = SCAN_STEPS.filter((s) => want.has(s));
  const weight: Record<ScanStep, number> = { crop: 1, scratches: 2, fade: 0.3, denoise: 4, faces: 1 };
  const total = active.reduce((s, k) => s + weight[k], 0.5);
  let done = 0.5;
  const progress = (step: ScanStep) => (f: number) => o.onProgress?.(Math.min(1, (done + f * weight[step]) / total));
  const finish = (step: ScanStep) => {
    done += weight[step];
    o.onProgress?.(done / total);
  };
  let corners: Quad | null = null;
  try {
    let current = temp('.v');
    const size = await decodeToV(o.input, current);
    // One worker thread per OpenCV step: each ends with its step, so the print finder's working memory and the
    // scratch repair's never add up in OpenCV's heap (it only grows while its thread lives).
    for (const step of ['crop', 'scratches'] as const) {
      if (!want.has(step)) continue;
      const tempPrefix = `${TEMP_MARK}scan-${process.pid}-${randomBytes(5).toString('hex')}-`;
      const r = await cvStepsInWorker(
        {
          input: current,
          width: step === 'crop' ? size.width : 0,
          height: step === 'crop' ? size.height : 0,
          crop: step === 'crop',
          scratches: step === 'scratches',
          corners: o.corners,
          maxOutputMegapixels: o.maxOutputMegapixels ?? 50,
          workDir: o.workDir,
          tempPrefix,
        },
        (p) => progress(p.step)(p.f),
        o.signal,
      ).catch(async (e: unknown) => {
        // what the worker wrote before it failed or was stopped
        const left = (await fs.readdir(o.workDir).catch(() => [] as string[])).filter((f) => f.startsWith(tempPrefix));
        temps.push(...left.map((f) => path.join(o.workDir, f)));
        throw e;
      });
      temps.push(...r.temps);
      current = r.current;
      if (r.crop) {
        corners = r.corners;
        if (r.crop.reason) log(`scan: ${r.crop.reason}`);
        steps.crop = r.crop;
      }
      if (r.scratches) steps.scratches = r.scratches;
      finish(step);
    }
    if (want.has('fade')) {
      const p = fadeParams(await imageStats(current));
      const luts = fadeLuts(p);
      const next = temp('.v');
      await mapRows(current, next, (rows, _y, n, w) => applyFade(rows, n * w, luts, p.saturation), {
        signal: o.signal,
        onProgress: progress('fade'),
      });
      current = next;
      steps.fade = { ...p, saturation: round(p.saturation, 3), clip: FADE_CLIP };
      finish('fade');
    }
    const ctx: FilterContext | undefined = o.models
      ? {
          signal: o.signal,
          onProgress: () => {},
          models: o.models,
          faces: o.faces,
          tileSize: o.tileSize ?? 256,
          maxOutputMegapixels: o.maxOutputMegapixels ?? 50,
          tempFile: temp,
        }
      : undefined;
    if (want.has('denoise') && ctx) {
      const next = temp('.v');
      await runModelFile(DENOISE_MODELS.normal, current, next, 1, denoiseTiling(ctx.tileSize), {
        ...ctx,
        onProgress: progress('denoise'),
      });
      current = next;
      steps.denoise = { model: DENOISE_MODELS.normal };
      finish('denoise');
    }
    if (want.has('faces') && ctx && o.faces) {
      const next = temp('.v');
      steps.faces = await enhanceSmallFaces(current, next, o.faces, { ...ctx, onProgress: progress('faces') });
      current = next;
      finish('faces');
    }
    const outSize = await sharp(current).metadata();
    const tmpOut = tempPathFor(o.out);
    try {
      await encodeFromV(current, tmpOut, ext === '.png' ? 'png' : 'jpeg');
      await commitFile(tmpOut, o.out);
    } catch (e) {
      await fs.rm(tmpOut, { force: true });
      throw e;
    }
    o.onProgress?.(1);
    return {
      out: o.out,
      corners,
      steps,
      width: outSize.width ?? 0,
      height: outSize.height ?? 0,
      ms: Math.round(performance.now() - t0),
    };
  } finally {
    await Promise.all(temps.map((t) => fs.rm(t, { force: true })));
  }
}

async function modelProblem(step: 'denoise' | 'faces', o: ScanOptions): Promise<string | undefined> {
  if (!o.models) return 'the filter models are not available';
  if (step === 'denoise') return o.models.problem(DENOISE_MODELS.normal);
  if (!o.faces) return 'face detection is not available (vision.faces disabled)';
  return (await o.faces.problem?.()) ?? (await o.models.problem(UPSCALE_MODEL));
}

/**
 * The print in a `.v` photo: detected on a preview of at most DETECT_SIDE pixels, corners scaled back to the
 * photo's pixels (pixel centres at integers in both).
 */
export async function findPrint(vFile: string, width: number, height: number) {
  const cv = await loadCv();
  const { data, info } = await sharp(vFile)
    .resize(DETECT_SIDE, DETECT_SIDE, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const d = detectPrint(cv, { data, width: info.width, height: info.height });
  if (!d) return undefined;
  const sx = width / info.width;
  const sy = height / info.height;
  const corners = d.corners.map(([x, y]) => [round((x + 0.5) * sx - 0.5, 2), round((y + 0.5) * sy - 0.5, 2)]) as Quad;
  return { ...d, corners };
}

function round(v: number, digits: number): number {
  const k = 10 ** digits;
  return Math.round(v * k) / k;
}

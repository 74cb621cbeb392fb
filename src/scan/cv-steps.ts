import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { appRoot } from '../config/locate.js';
import { loadCv } from './cv.js';
import { outputSize, type Quad } from './geometry.js';
import { repairScratches, type ScratchReport } from './scratches.js';
import { warpPrint } from './warp.js';

/**
 * The scan steps that need OpenCV (crop, scratches). They run in a worker thread that ends with them: OpenCV's
 * WebAssembly heap (~80 MB, never given back while its isolate lives) is gone before the model steps (IRCNN,
 * Real-ESRGAN) load their sessions, so the two never add up in the process's peak.
 */
export interface CvStepsInput {
  /** The photo as a `.v` file, its size. */
  input: string;
  width: number;
  height: number;
  crop: boolean;
  scratches: boolean;
  /** Corners chosen by hand (input pixels): no detection. */
  corners?: Quad;
  maxOutputMegapixels: number;
  workDir: string;
  /** Start of every temp file's name in workDir (unique to the run: what a failed run left is found by it). */
  tempPrefix: string;
}

export interface CropReport {
  corners: Quad | null;
  width: number;
  height: number;
  aspect: number;
  source: string;
  support?: number;
  reason?: string;
}

export interface CvStepsOutput {
  /** The last `.v` written (or `input` when nothing ran). */
  current: string;
  corners: Quad | null;
  crop?: CropReport;
  scratches?: ScratchReport;
  /** Every temp file written (the caller removes them). */
  temps: string[];
}

type Progress = { step: 'crop' | 'scratches'; f: number };

const YOUNG_MB = 4;

/** Runs the OpenCV steps here (the worker's side, or in-process when asked). */
export async function cvSteps(o: CvStepsInput, onProgress: (p: Progress) => void): Promise<CvStepsOutput> {
  const cv = await loadCv();
  const temps: string[] = [];
  const temp = () => {
    const f = path.join(o.workDir, `${o.tempPrefix}${randomBytes(5).toString('hex')}.v`);
    temps.push(f);
    return f;
  };
  let current = o.input;
  let corners: Quad | null = null;
  const out: CvStepsOutput = { current, corners, temps };
  if (o.crop) {
    let source = 'manual';
    let support: number | undefined;
    if (o.corners) corners = o.corners;
    else {
      // imported here: the print finder is only needed when nobody gave the corners
      const { findPrint } = await import('./scan.js');
      const found = await findPrint(current, o.width, o.height);
      corners = found?.corners ?? null;
      source = found?.source ?? 'none';
      support = found?.support;
    }
    if (corners) {
      const s = outputSize(corners, o.width, o.height, o.maxOutputMegapixels * 1e6);
      const next = temp();
      await warpPrint(cv, current, next, corners, s, (f) => onProgress({ step: 'crop', f }));
      current = next;
      out.crop = { corners, width: s.width, height: s.height, aspect: round(s.aspect, 4), source, support };
    } else {
      out.crop = {
        corners: null,
        width: o.width,
        height: o.height,
        aspect: round(o.width / o.height, 4),
        source,
        reason: 'no print found in view: the whole frame is used',
      };
    }
  }
  if (o.scratches) {
    const next = temp();
    out.scratches = await repairScratches(cv, current, next, (f) => onProgress({ step: 'scratches', f }));
    current = next;
  }
  return { ...out, current, corners };
}

/**
 * Runs cvSteps in a worker thread and waits for it to end (its OpenCV heap with it). `signal` terminates it; the
 * temp files it wrote are the caller's to remove (all start with `tempPrefix`, also when it failed).
 */
export function cvStepsInWorker(
  o: CvStepsInput,
  onProgress: (p: Progress) => void,
  signal?: AbortSignal,
): Promise<CvStepsOutput> {
  return new Promise((resolve, reject) => {
    // A small young generation: the print finder's and the scratch repair's short-lived arrays are collected every
    // few MB instead of growing the worker's heap by ~25 MB first (12 MP scan: see test/scan/memory.test.ts).
    const w = new Worker(workerEntry(), { workerData: o, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB } });
    let result: CvStepsOutput | undefined;
    let failure: Error | undefined;
    const abort = () => {
      failure = signal?.reason instanceof Error ? signal.reason : new Error('cancelled');
      void w.terminate();
    };
    signal?.addEventListener('abort', abort, { once: true });
    w.on('message', (m: { progress?: Progress; done?: CvStepsOutput; error?: { message: string; name: string } }) => {
      if (m.progress) onProgress(m.progress);
      else if (m.done) result = m.done;
      else if (m.error) failure = Object.assign(new Error(m.error.message), { name: m.error.name });
    });
    w.on('error', (e) => {
      failure ??= e;
    });
    w.on('exit', () => {
      signal?.removeEventListener('abort', abort);
      if (result && !failure) resolve(result);
      else reject(failure ?? new Error('the scan worker ended without a result'));
    });
  });
}

function workerEntry(): string {
  const beside = fileURLToPath(new URL('./cv-steps-worker.js', import.meta.url));
  if (existsSync(beside)) return beside;
  // running from the TypeScript sources (tests): the built worker
  return path.join(appRoot(), 'dist', 'src', 'scan', 'cv-steps-worker.js');
}

function round(v: number, digits: number): number {
  const k = 10 ** digits;
  return Math.round(v * k) / k;
}

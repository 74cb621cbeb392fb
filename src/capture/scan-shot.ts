import type { JobOutcome } from '../filters/job-runner.js';
import type { JobTask } from '../filters/jobs.js';
import type { Quad } from '../scan/geometry.js';
import { SCAN_STEPS, type ScanResult } from '../scan/scan.js';
import { errorMessage, ValidationError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';

const log = createLogger('capture.scan');

/** The variant a scan restoration is stored as (the original photo stays as taken). */
export const SCAN_VARIANT = 'scan';

/** What the `scan` variant records in the sidecar: the corners used and every step's parameters. */
export interface ScanVariantInfo {
  recipe: 'scan';
  params: {
    /** In the photo's pixels, clockwise from top-left; null when no print was found (the whole frame). */
    corners: Quad | null;
    /** The same as fractions of the photo's width and height (what the viewer draws and sends back). */
    cornersFraction: Quad | null;
    /** 'manual' (dragged by the owner), 'detected', or 'none'. */
    cornersFrom: string;
    steps: ScanResult['steps'];
    width: number;
    height: number;
  };
  ms: number;
}

export interface ScanShotDeps {
  /** One photo through the normal capture path; `record` goes into its sidecar under `mode`. */
  capture: (source: string, record: { name: 'scan'; firedAt: number }) => Promise<{ id: string }>;
  /** The stored photo's original and size. */
  photo: (id: string) => Promise<{ path: string; width: number; height: number }>;
  /** Queues the restoration as a filter job (the low-priority worker); `done` settles with it. */
  enqueue: (photoId: string, task: JobTask) => { job: { id: string }; done: Promise<void> };
  /** Stores `file` (a JPEG) as variant `name` with `info` in the sidecar. */
  writeVariant: (photoId: string, name: string, file: string, info: ScanVariantInfo) => Promise<void>;
  /** Fractions of the image → pixels (and back), see src/scan/corners-input.ts. */
  toPixels: (q: Quad, w: number, h: number) => Quad;
  toFractions: (q: Quad, w: number, h: number) => Quad;
}

export interface ScanStarted {
  photoId: string;
  jobId: string;
  /** Resolves when the variant is stored. */
  done: Promise<ScanVariantInfo>;
}

/**
 * Scan mode: the photo is taken and kept as it is; the restoration (perspective crop at the print's aspect, scratch
 * and dust repair, fade, IRCNN, small faces) runs as a filter job and lands as the `scan` variant, so the viewer's
 * before/after slider compares the two. Corners dragged by the owner (fractions of the image) win over detection;
 * the viewer can send new corners for a stored photo and the variant is made again.
 */
export class ScanShot {
  constructor(private readonly deps: ScanShotDeps) {}

  async take(source: string, corners?: Quad): Promise<ScanStarted> {
    const photo = await this.deps.capture(source, { name: 'scan', firedAt: performance.now() });
    return this.restore(photo.id, corners);
  }

  async restore(photoId: string, corners?: Quad): Promise<ScanStarted> {
    const photo = await this.deps.photo(photoId);
    let info: ScanVariantInfo | undefined;
    const t0 = Date.now();
    const task: JobTask = {
      prepare: async () => ({
        source: photo.path,
        scan: {
          steps: [...SCAN_STEPS],
          ...(corners ? { corners: this.deps.toPixels(corners, photo.width, photo.height) } : {}),
        },
      }),
      import: async (output: string, outcome: JobOutcome) => {
        const r = outcome.scan;
        if (!r) throw new ValidationError('the scan job returned no report');
        info = {
          recipe: 'scan',
          params: {
            corners: r.corners,
            cornersFraction: r.corners ? this.deps.toFractions(r.corners, photo.width, photo.height) : null,
            cornersFrom: corners ? 'manual' : r.corners ? 'detected' : 'none',
            steps: r.steps,
            width: r.width,
            height: r.height,
          },
          ms: Date.now() - t0,
        };
        await this.deps.writeVariant(photoId, SCAN_VARIANT, output, info);
      },
    };
    const queued = this.deps.enqueue(photoId, task);
    const done = queued.done.then(() => info as ScanVariantInfo);
    done.catch((e: unknown) => log.warn('scan restoration failed', { id: photoId, error: errorMessage(e) }));
    log.info('scan restoration queued', { id: photoId, job: queued.job.id, corners: corners ? 'manual' : 'detect' });
    return { photoId, jobId: queued.job.id, done };
  }
}

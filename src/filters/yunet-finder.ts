import type { SessionOptions } from '../vision/onnx.js';
import { YuNetDetector } from '../vision/yunet.js';
import type { Face } from './faces.js';
import type { FaceFinder } from './types.js';

/**
 * The real FaceFinder: YuNet loaded on first use and released after `idleMs`, like the filter models, so a
 * portrait job does not pin the detector in memory for the rest of the day.
 */
export class YuNetFaceFinder implements FaceFinder {
  private detector?: Promise<YuNetDetector>;
  private timer?: NodeJS.Timeout;
  private busy = 0;

  constructor(
    private readonly modelPath: () => Promise<string>,
    private readonly opts: SessionOptions,
    private readonly detect: { maxSide: number; threshold: number },
    private readonly idleMs: number,
  ) {}

  async problem(): Promise<string | undefined> {
    try {
      await this.modelPath();
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  }

  async find(imagePath: string): Promise<Face[]> {
    clearTimeout(this.timer);
    this.busy++;
    try {
      if (!this.detector) {
        this.detector = this.modelPath().then((p) => YuNetDetector.load(p, this.opts));
        this.detector.catch(() => {
          this.detector = undefined;
        });
      }
      const d = await this.detector;
      return (await d.detectImage(imagePath, this.detect)).faces;
    } finally {
      this.busy--;
      if (this.busy === 0) {
        this.timer = setTimeout(() => void this.release(), this.idleMs);
        this.timer.unref();
      }
    }
  }

  async release(): Promise<void> {
    clearTimeout(this.timer);
    if (this.busy > 0 || !this.detector) return;
    const d = this.detector;
    this.detector = undefined;
    await (await d.catch(() => undefined))?.release();
  }
}

import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { FaceAnalyzer } from '../analysis/analyzer.js';
import { FaceAnalyzer as Analyzer, decodeForAnalysis } from '../analysis/analyzer.js';
import { descriptorTensor } from '../analysis/descriptor.js';
import { expressionTensor } from '../analysis/expression.js';
import { MASK_GRIDS, maskTensor } from '../analysis/mask.js';
import { guideImage, memoryRows, upscaleMaskRows } from '../analysis/mask-upscale.js';
import { poseTensor } from '../analysis/pose.js';
import type { RgbImage } from '../analysis/types.js';
import { appRoot } from '../config/locate.js';
import { dirResolver } from '../models/resolver.js';
import type { Face } from '../vision/face.js';
import { loadFaceDetector } from '../vision/face-model.js';
import { ort, type SessionOptions } from '../vision/onnx.js';
import { median, ms, p90, r4 } from './detect.js';

export interface StepResult {
  n: number;
  median_ms: number;
  p90_ms: number;
  /** onnxruntime run() alone on the same, prepared inputs (absent for steps with no model: mask_upscale). */
  inference_median_ms?: number;
  /** With `cpu`: the same in CPU time of this process, which a machine shared with other work disturbs less. */
  cpu_median_ms?: number;
  cpu_inference_median_ms?: number;
}

export interface FacesBenchResult {
  threads: number;
  images: number;
  faces: number;
  expression: StepResult;
  descriptor: StepResult;
  mask: StepResult;
  pose: StepResult;
  /** The person mask brought to the photo's full size (edge-aware, strip by strip): its own step, no model. */
  mask_upscale: StepResult & { megapixels: number };
}

export interface FacesBenchOptions {
  modelsDir: string;
  images: string[];
  threads: number;
  runs: number;
  session?: Partial<Pick<SessionOptions, 'optimization' | 'memArena'>>;
  maskModel?: 'selfie_seg' | 'selfie_seg_landscape';
  /** Decode size for expressions and descriptors (vision.analysis.maxSide). */
  maxSide?: number;
  /** Size of the frames the mask and pose steps start from (the preview: 640×480). */
  frame?: { width: number; height: number };
  /** Also report CPU-time medians (npm run bench; the CLI's JSON keeps the contract's keys). */
  cpu?: boolean;
}

/** Wall-clock (and, with `cpu`, this process's CPU time) per timed call of M and of I. */
interface Samples {
  m: number[];
  i: number[];
  mc: number[];
  ic: number[];
}

const step = (s: Samples, cpu = false): StepResult => ({
  n: s.m.length,
  median_ms: r4(median(s.m)),
  p90_ms: r4(p90(s.m)),
  ...(s.i.length ? { inference_median_ms: r4(median(s.i)) } : {}),
  ...(cpu ? { cpu_median_ms: r4(median(s.mc)) } : {}),
  ...(cpu && s.ic.length ? { cpu_inference_median_ms: r4(median(s.ic)) } : {}),
});

/**
 * Per analysis step, M: from the decoded image and the face (box, landmarks) to the model's output — crop,
 * alignment, tensor, inference and parsing, through the analyzer's own queue — and I: onnxruntime run() alone of the
 * same session on inputs prepared beforehand. M and I calls alternate so machine noise hits both alike. Expressions
 * and descriptors run per face on the photos decoded at maxSide; mask and pose on preview-size frames (where they run
 * live); mask_upscale brings the mask to the photo's full size.
 */
export async function benchFaces(opts: FacesBenchOptions): Promise<FacesBenchResult> {
  const det = await loadFaceDetector({
    model: 'yunet_s_dynamic',
    modelsDir: opts.modelsDir,
    threads: opts.threads,
    optimization: 'all',
    memArena: true,
  });
  const frame = opts.frame ?? { width: 640, height: 480 };
  const photos: { img: RgbImage; faces: Face[]; file: string; width: number; height: number }[] = [];
  const frames: RgbImage[] = [];
  try {
    for (const file of opts.images) {
      const found = await det.detectImage(file, { maxSide: 640, threshold: 0.6 });
      const { img, width, height } = await decodeForAnalysis(file, opts.maxSide ?? 2048);
      const s = img.width / width;
      photos.push({
        img,
        file,
        width,
        height,
        faces: found.faces.map((f) => ({
          ...f,
          box: f.box.map((v) => v * s) as Face['box'],
          landmarks: f.landmarks.map(([x, y]) => [x * s, y * s] as [number, number]),
        })),
      });
      const { data } = await sharp(file, { autoOrient: true })
        .resize(frame.width, frame.height, { fit: 'fill' })
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      frames.push({ data, width: frame.width, height: frame.height, channels: 3 });
    }
  } finally {
    await det.release();
  }
  const maskModel = opts.maskModel ?? 'selfie_seg';
  const analyzer: FaceAnalyzer = new Analyzer({
    resolve: dirResolver(opts.modelsDir),
    session: {
      threads: opts.threads,
      optimization: opts.session?.optimization ?? 'all',
      memArena: opts.session?.memArena ?? true,
    },
    maxSessions: 4,
    idleMs: 0,
    maxSide: opts.maxSide ?? 2048,
    models: { mask: maskModel },
  });
  try {
    const faces = photos.flatMap((p) => p.faces.map((f) => ({ img: p.img, face: f })));
    const cpuMs = (c: NodeJS.CpuUsage) => {
      const u = process.cpuUsage(c);
      return (u.user + u.system) / 1000;
    };
    const time = async (mFn: () => Promise<unknown>, iFn?: () => Promise<unknown>, out?: Samples) => {
      let c = process.cpuUsage();
      let t0 = process.hrtime.bigint();
      await mFn();
      out?.m.push(ms(t0));
      out?.mc.push(cpuMs(c));
      if (iFn) {
        c = process.cpuUsage();
        t0 = process.hrtime.bigint();
        await iFn();
        out?.i.push(ms(t0));
        out?.ic.push(cpuMs(c));
      }
    };
    const run = (s: ort.InferenceSession, t: ort.Tensor) => s.run({ [s.inputNames[0]]: t });
    const bench = async (items: { m: () => Promise<unknown>; i?: () => Promise<unknown> }[]): Promise<Samples> => {
      for (let w = 0; w < 3; w++) for (const it of items) await time(it.m, it.i);
      const out: Samples = { m: [], i: [], mc: [], ic: [] };
      for (let r = 0; r < opts.runs; r++) for (const it of items) await time(it.m, it.i, out);
      return out;
    };
    const expr = await bench(
      faces.map(({ img, face }) => {
        const t = expressionTensor(img, [face], ort.Tensor);
        return {
          m: () => analyzer.analyze(img, [face], { expression: true }),
          i: () => analyzer.withSession('expression', (s) => run(s, t)),
        };
      }),
    );
    const desc = await bench(
      faces.map(({ img, face }) => {
        const t = descriptorTensor(img, [face], ort.Tensor);
        return {
          m: () => analyzer.analyze(img, [face], { expression: false, descriptor: true }),
          i: () => analyzer.withSession('descriptor', (s) => run(s, t)),
        };
      }),
    );
    const grid = MASK_GRIDS[maskModel];
    const mask = await bench(
      frames.map((img) => {
        const t = maskTensor(img, grid, ort.Tensor);
        return { m: () => analyzer.personMask(img), i: () => analyzer.withSession('mask', (s) => run(s, t)) };
      }),
    );
    const pose = await bench(
      frames.map((img) => {
        const { tensor } = poseTensor(img, ort.Tensor);
        return { m: () => analyzer.pose(img), i: () => analyzer.withSession('pose', (s) => run(s, tensor)) };
      }),
    );
    // the mask of each photo, brought to the photo's own full size
    const masks = await Promise.all(photos.map((p) => analyzer.personMask(p.img)));
    const up = await bench(
      photos.map((p, k) => ({
        m: async () => upscaleMaskRows(masks[k], await guideImage(p.img), memoryRows(p.img), () => undefined),
      })),
    );
    const mp = photos.reduce((s, p) => s + (p.width * p.height) / 1e6, 0) / Math.max(1, photos.length);
    return {
      threads: opts.threads,
      images: photos.length,
      faces: faces.length,
      expression: step(expr, opts.cpu),
      descriptor: step(desc, opts.cpu),
      mask: step(mask, opts.cpu),
      pose: step(pose, opts.cpu),
      mask_upscale: { ...step({ ...up, i: [], ic: [] }, opts.cpu), megapixels: r4(mp) },
    };
  } finally {
    await analyzer.close();
  }
}

/** Speed goal per step: within 1.2× of run() alone, or within 1 ms of it for models that take under 5 ms. */
export function withinGoal(s: StepResult): boolean {
  const i = s.inference_median_ms ?? 0;
  return i < 5 ? s.median_ms - i <= 1 : s.median_ms / i <= 1.2;
}

/**
 * For `npm run bench`: the four steps on ../shared/images with 1 thread, in three rounds (median of medians), with
 * the goal checked on wall-clock and on CPU time (a machine shared with other jobs stretches wall-clock unevenly).
 */
export async function run(opts: { quick: boolean }): Promise<Record<string, unknown>> {
  const shared = path.resolve(appRoot(), '../shared');
  const images = ['astronaut.png', 'two_people.jpg']
    .map((f) => path.join(shared, 'images', f))
    .filter((f) => existsSync(f));
  if (images.length === 0) return { skipped: `no images under ${shared}` };
  const rounds: FacesBenchResult[] = [];
  for (let r = 0; r < 3; r++)
    rounds.push(
      await benchFaces({
        modelsDir: path.join(shared, 'models'),
        images,
        threads: 1,
        runs: opts.quick ? 5 : 15,
        cpu: true,
      }),
    );
  const out: Record<string, unknown> = { threads: 1, images: rounds[0].images, faces: rounds[0].faces };
  for (const k of ['expression', 'descriptor', 'mask', 'pose', 'mask_upscale'] as const) {
    const rs = rounds.map((x) => x[k]);
    const s: StepResult = {
      n: rs.reduce((n, x) => n + x.n, 0),
      median_ms: r4(median(rs.map((x) => x.median_ms))),
      p90_ms: r4(median(rs.map((x) => x.p90_ms))),
    };
    s.cpu_median_ms = r4(median(rs.map((x) => x.cpu_median_ms ?? 0)));
    if (k !== 'mask_upscale') {
      s.inference_median_ms = r4(median(rs.map((x) => x.inference_median_ms ?? 0)));
      s.cpu_inference_median_ms = r4(median(rs.map((x) => x.cpu_inference_median_ms ?? 0)));
      const cpu = { median_ms: s.cpu_median_ms, inference_median_ms: s.cpu_inference_median_ms } as StepResult;
      out[k] = {
        ...s,
        m_over_i: r4(s.median_ms / (s.inference_median_ms ?? 1)),
        goal_met: withinGoal(s),
        cpu_m_over_i: r4(s.cpu_median_ms / (s.cpu_inference_median_ms || 1)),
        cpu_goal_met: withinGoal({ ...cpu, n: s.n, p90_ms: 0 }),
      };
    } else out[k] = { ...s, megapixels: rounds[0].mask_upscale.megapixels };
  }
  return out;
}

import sharp from 'sharp';
import { errorMessage, UnavailableError, ValidationError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { YoungGarbage } from '../util/young-garbage.js';
import { scaleFace } from '../vision/face.js';
import { ort, type SessionOptions } from '../vision/onnx.js';
import { DESCRIPTOR_MIN_FACE, descriptorTensor, runDescriptor } from './descriptor.js';
import { EXPRESSION_MIN_FACE, expressionTensor, runExpression } from './expression.js';
import { MASK_GRIDS, runMask } from './mask.js';
import { runPose } from './pose.js';
import { Scratch } from './scratch.js';
import { type Priority, SessionPool } from './sessions.js';
import {
  ANALYSIS_FEATURES,
  type AnalysisFeature,
  type AnalysisStatus,
  type AnalyzeOptions,
  type Face,
  type FaceAnalysis,
  type FeatureStatus,
  type ImageAnalysis,
  type PersonMask,
  type Pose,
  type RgbImage,
} from './types.js';

const log = createLogger('analysis');

/** Manifest names of the model behind each feature. */
export type AnalyzerModels = Record<AnalysisFeature, string>;

export const DEFAULT_MODELS: AnalyzerModels = {
  expression: 'fer_mini_xception',
  descriptor: 'dlib_resnet_faceapi',
  mask: 'selfie_seg',
  pose: 'movenet_lightning',
};

export interface FaceAnalyzerOptions {
  /** Verified file path of a manifest model, or throws (UnavailableError) saying why it cannot be used. */
  resolve: (name: string) => Promise<string>;
  session: SessionOptions;
  /** Sessions resident at once (board profile). */
  maxSessions: number;
  /** Unload a session after this long unused. */
  idleMs: number;
  /** Encoded images are decoded at most this large (longest side) for analysis. */
  maxSide: number;
  models?: Partial<AnalyzerModels>;
  /** Faces per onnxruntime run (bounds the input tensor: 8 descriptors = 2.2 MB). */
  batch?: number;
  /** Injectable for tests (counting or failing loads). */
  loadSession?: (modelPath: string, opts: SessionOptions) => Promise<ort.InferenceSession>;
}

export interface RunOptions {
  priority?: Priority;
}

/** Dead onnxruntime output copies and decoded images allowed between young-generation collections. */
const GARBAGE_BYTES = 4 << 20;

/**
 * Face analysis after YuNet: expressions and descriptors per face, the person mask and the pose per image. Each
 * model's session loads on first use, unloads after `idleMs`, and at most `maxSessions` are resident (SessionPool).
 * A model that is missing or corrupt turns off only its own feature: faces get a `skipped` reason instead of a
 * value, and `personMask()`/`pose()` throw UnavailableError with the reason, which status() also shows.
 */
export class FaceAnalyzer {
  readonly models: AnalyzerModels;
  private readonly pool: SessionPool;
  private readonly batch: number;
  private readonly stats = new Map<AnalysisFeature, { runs: number; lastMs?: number; reason?: string }>();
  private readonly garbage = new YoungGarbage(GARBAGE_BYTES);
  /** Input buffers reused between jobs (one job runs at a time); dropped when the sessions unload. */
  private readonly scratch = new Scratch();
  /** The file each feature's model was last resolved to (status: which sessions are resident). */
  private readonly paths = new Map<AnalysisFeature, string>();

  constructor(private readonly opts: FaceAnalyzerOptions) {
    this.models = { ...DEFAULT_MODELS, ...opts.models };
    this.pool = new SessionPool({
      session: opts.session,
      maxResident: opts.maxSessions,
      idleMs: opts.idleMs,
      load: opts.loadSession,
      onEmpty: () => this.scratch.clear(),
    });
    this.batch = Math.max(1, opts.batch ?? 8);
    for (const f of ANALYSIS_FEATURES) this.stats.set(f, { runs: 0 });
  }

  /** Why a feature cannot run now (model missing or corrupt), or undefined when it can. */
  async problem(feature: AnalysisFeature): Promise<string | undefined> {
    this.resolved.delete(feature);
    try {
      await this.resolveFor(feature);
      this.stat(feature).reason = undefined;
      return undefined;
    } catch (e) {
      const reason = errorMessage(e);
      this.stat(feature).reason = reason;
      return reason;
    }
  }

  /**
   * Expressions (default) and descriptors (`descriptor: true`) of `faces`, given in the pixels of `img`. Faces too
   * small for a model, or a feature whose model is unavailable, get `skipped[feature]` with the reason.
   */
  async analyze(
    img: RgbImage,
    faces: readonly Face[],
    opts: AnalyzeOptions & RunOptions = {},
  ): Promise<FaceAnalysis[]> {
    checkImage(img);
    const out: FaceAnalysis[] = faces.map((face) => ({ face }));
    if (faces.length === 0) return out;
    if (opts.expression ?? true) await this.faceFeature('expression', img, out, EXPRESSION_MIN_FACE, opts.priority);
    if (opts.descriptor ?? false) await this.faceFeature('descriptor', img, out, DESCRIPTOR_MIN_FACE, opts.priority);
    return out;
  }

  /**
   * Decodes a photo (path or encoded bytes, EXIF orientation honoured) at most `maxSide` large and analyses the
   * faces, which are given — and returned — in the pixels of the displayed original (what `pinhole detect` and the
   * sidecar use).
   */
  async analyzeImage(
    input: string | Buffer,
    faces: readonly Face[],
    opts: AnalyzeOptions & RunOptions = {},
  ): Promise<ImageAnalysis> {
    const { img, width, height } = await decodeForAnalysis(input, this.opts.maxSide);
    const sx = img.width / width;
    const sy = img.height / height;
    const res = await this.analyze(
      img,
      faces.map((f) => scaleFace(f, sx, sy)),
      opts,
    );
    this.garbage.add(img.data.byteLength);
    return { width, height, faces: res.map((r, i) => ({ ...r, face: faces[i] })) };
  }

  /** The person mask of an image (on the model's grid; see mask-upscale.ts to bring it to the photo). */
  personMask(img: RgbImage, opts: RunOptions = {}): Promise<PersonMask> {
    checkImage(img);
    const grid = MASK_GRIDS[this.models.mask];
    if (!grid) throw new ValidationError(`unknown person mask model ${this.models.mask}`);
    return this.timed('mask', opts.priority, (s) => runMask(s, img, grid, ort.Tensor, this.scratch));
  }

  /** The pose of the most prominent person (MoveNet is single-person), keypoints in the pixels of `img`. */
  pose(img: RgbImage, opts: RunOptions = {}): Promise<Pose> {
    checkImage(img);
    return this.timed('pose', opts.priority, (s) => runPose(s, img, ort.Tensor, this.scratch));
  }

  status(): AnalysisStatus {
    const resident = new Set(this.pool.resident());
    const features = {} as AnalysisStatus['features'];
    for (const f of ANALYSIS_FEATURES) {
      const st = this.stat(f);
      const file = this.paths.get(f);
      const loaded = file !== undefined && resident.has(file);
      const s: FeatureStatus = {
        state: st.reason ? 'unavailable' : loaded ? 'loaded' : 'idle',
        model: this.models[f],
        runs: st.runs,
      };
      if (st.reason) s.reason = st.reason;
      if (st.lastMs !== undefined) s.lastMs = st.lastMs;
      features[f] = s;
    }
    return { features, resident: resident.size, maxSessions: this.pool.maxResident };
  }

  /**
   * Runs `fn` with the feature's own session, queued like every analysis job: the benchmark times onnxruntime's
   * run() alone on prepared inputs with it. Throws UnavailableError when the model cannot be used.
   */
  withSession<T>(
    feature: AnalysisFeature,
    fn: (s: ort.InferenceSession) => Promise<T>,
    priority?: Priority,
  ): Promise<T> {
    return this.timed(feature, priority, fn, false);
  }

  /** Unloads every session now (they load again on the next use). */
  releaseAll(): Promise<void> {
    return this.pool.releaseAll();
  }

  /** Finishes queued work and unloads everything; the analyzer refuses work afterwards. */
  close(): Promise<void> {
    return this.pool.close();
  }

  /** Sessions loaded since start (tests: on-demand loading and the cap). */
  get loads(): number {
    return this.pool.loads;
  }

  private readonly resolved = new Map<AnalysisFeature, { at: number; file?: string; error?: unknown }>();

  private async resolveFor(feature: AnalysisFeature): Promise<string> {
    const now = performance.now();
    const r = this.resolved.get(feature);
    if (r && now - r.at < RESOLVE_TTL_MS) {
      if (r.file) return r.file;
      throw r.error;
    }
    try {
      const file = await this.opts.resolve(this.models[feature]);
      this.resolved.set(feature, { at: now, file });
      return file;
    } catch (e) {
      this.resolved.set(feature, { at: now, error: e });
      throw e;
    }
  }

  private stat(f: AnalysisFeature) {
    return this.stats.get(f) as { runs: number; lastMs?: number; reason?: string };
  }

  private async faceFeature(
    feature: 'expression' | 'descriptor',
    img: RgbImage,
    out: FaceAnalysis[],
    minFace: number,
    priority: Priority | undefined,
  ): Promise<void> {
    const todo: number[] = [];
    for (let i = 0; i < out.length; i++) {
      const [, , w, h] = out[i].face.box;
      const side = Math.max(w, h);
      if (side < minFace) {
        skip(out[i], feature, `face too small for the ${feature} model (${Math.round(side)} px < ${minFace} px)`);
      } else if (feature === 'descriptor' && out[i].face.landmarks?.length !== 5) {
        skip(out[i], feature, 'no 5-point landmarks to align the face');
      } else todo.push(i);
    }
    if (todo.length === 0) return;
    for (let k = 0; k < todo.length; k += this.batch) {
      const ids = todo.slice(k, k + this.batch);
      const faces = ids.map((i) => out[i].face);
      try {
        if (feature === 'expression') {
          const res = await this.timed('expression', priority, (s) =>
            runExpression(s, expressionTensor(img, faces, ort.Tensor, this.scratch)),
          );
          ids.forEach((i, j) => {
            out[i].expression = res[j];
            out[i].smile = res[j].happy;
          });
        } else {
          const res = await this.timed('descriptor', priority, (s) =>
            runDescriptor(s, descriptorTensor(img, faces, ort.Tensor, this.scratch)),
          );
          ids.forEach((i, j) => {
            out[i].descriptor = res[j];
          });
        }
      } catch (e) {
        if (!(e instanceof UnavailableError)) throw e;
        for (const i of todo.slice(k)) skip(out[i], feature, e.message);
        return;
      }
    }
  }

  private async timed<T>(
    feature: AnalysisFeature,
    priority: Priority | undefined,
    fn: (s: ort.InferenceSession) => Promise<T>,
    count = true,
  ): Promise<T> {
    let file: string;
    try {
      file = await this.resolveFor(feature);
    } catch (e) {
      const reason = errorMessage(e);
      if (this.stat(feature).reason !== reason) log.warn(`${feature} unavailable`, { reason });
      this.stat(feature).reason = reason;
      throw e instanceof UnavailableError ? e : new UnavailableError(`${feature}: ${reason}`, 'model-unavailable', e);
    }
    this.stat(feature).reason = undefined;
    this.paths.set(feature, file);
    return this.pool.use(
      file,
      async (s) => {
        const t0 = performance.now();
        const r = await fn(s);
        if (!count) return r;
        const st = this.stat(feature);
        st.runs++;
        st.lastMs = Math.round((performance.now() - t0) * 100) / 100;
        this.garbage.add(1 << 16);
        return r;
      },
      priority,
    );
  }
}

/**
 * How long a model resolved (found and hash-checked, or found missing/corrupt) is trusted before it is looked up
 * again: live analysis asks several times a second, and each look-up is a file stat on libuv's small thread pool.
 */
const RESOLVE_TTL_MS = 5000;

function skip(a: FaceAnalysis, feature: 'expression' | 'descriptor', reason: string): void {
  a.skipped = { ...a.skipped, [feature]: reason };
}

function checkImage(img: RgbImage): void {
  if (img.channels !== 3) throw new ValidationError(`expected an RGB image, got ${img.channels} channels`);
  if (img.data.length < img.width * img.height * 3)
    throw new ValidationError(`image buffer too short for ${img.width}x${img.height} RGB`);
}

/**
 * Decodes a photo for analysis: EXIF orientation applied, downscaled (never up) to fit maxSide×maxSide, sRGB, no
 * alpha. Returns the pixels and the displayed size of the original.
 */
export async function decodeForAnalysis(
  input: string | Buffer,
  maxSide: number,
): Promise<{ img: RgbImage; width: number; height: number }> {
  try {
    const s = sharp(input, { autoOrient: true, failOn: 'error', limitInputPixels: false });
    const meta = await s.metadata();
    const width = meta.autoOrient?.width ?? meta.width ?? 0;
    const height = meta.autoOrient?.height ?? meta.height ?? 0;
    const side = meta.format === 'jpeg' ? jpegDecodeSide(Math.max(width, height), maxSide) : maxSide;
    return { img: await rgbInside(s, side), width, height };
  } catch (e) {
    const what = typeof input === 'string' ? input : 'image';
    throw new ValidationError(
      `${what}: not a readable image (${errorMessage(e).split('\n')[0]})`,
      undefined,
      'bad-image',
    );
  }
}

/**
 * The side to decode a JPEG at for a request of maxSide. libjpeg scales by 1/2, 1/4 or 1/8 while it decodes, but
 * only when the whole factor fits: a 4056-pixel photo asked for at 2048 (factor 1.98) was decoded at 12 MP and then
 * reduced, 26 MB of peak RSS for a 9 MB result. Its half scale, 2028, is within 10 % of the request and costs
 * 11 MB: when such a scale exists, take it.
 */
export function jpegDecodeSide(longSide: number, maxSide: number): number {
  if (longSide <= maxSide) return maxSide;
  for (const scale of [2, 4, 8]) {
    // floor: the factor must reach the whole scale (4055 / 2027 ≥ 2; 4055 / 2028 is not)
    const side = Math.floor(longSide / scale);
    if (side <= maxSide) return side >= 0.9 * maxSide ? side : maxSide;
  }
  return maxSide;
}

/** A sharp pipeline's image downscaled (never up) to fit maxSide×maxSide, as 8-bit sRGB without alpha. */
export async function rgbInside(s: sharp.Sharp, maxSide: number): Promise<RgbImage> {
  const { data, info } = await s
    .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: 3 };
}

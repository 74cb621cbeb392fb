import sharp from 'sharp';
import { ValidationError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { YoungGarbage } from '../util/young-garbage.js';
import { type Face, scaleFace } from './face.js';
import { jpegFrameInfo } from './jpeg-header.js';
import { createSession, ort, type SessionOptions } from './onnx.js';
import { NchwBgrTensor } from './tensor.js';
import { decodeYuNet, type StrideOutputs, YUNET_STRIDES } from './yunet-decode.js';

const log = createLogger('vision.yunet');

export interface RgbImage {
  data: Buffer | Uint8Array;
  width: number;
  height: number;
  channels: 3;
}

export interface YuNetLoadOptions extends SessionOptions {
  /** Size used for the warm-up run (and the first tensor buffer). Default: the fixed model size, or 640×480. */
  inputSize?: { width: number; height: number };
}

export interface DetectImageResult {
  /** Displayed size of the original image (after EXIF orientation). */
  width: number;
  height: number;
  faces: Face[];
}

export interface DetectFrameResult extends DetectImageResult {
  /** Wall time of the JPEG decode (at detection size) and of detectRaw (tensor, inference, decode, NMS), ms. */
  decodeMs: number;
  detectMs: number;
}

const DYNAMIC_MULTIPLE = 32;
const DEFAULT_THRESHOLD = 0.6;
/** Dead output copies allowed to pile up between young-generation collections (about 10 frames at 640×480). */
const OUTPUT_GARBAGE_BYTES = 4 << 20;

/**
 * YuNet on onnxruntime: one session, one reusable input tensor, calls serialised (the tensor buffer is shared and
 * two inferences at once would only fight for the same cores). `detectRaw` is what OpenCV's FaceDetectorYN.detect()
 * does: image → tensor, inference, decode, NMS.
 */
export class YuNetDetector {
  private tensor?: NchwBgrTensor;
  private ortInput?: ort.Tensor;
  private outputs?: {
    padW: number;
    padH: number;
    fetches: Record<string, ort.Tensor>;
    strides: StrideOutputs[];
    bytes: number;
  };
  private readonly garbage = new YoungGarbage(OUTPUT_GARBAGE_BYTES);
  private queue: Promise<unknown> = Promise.resolve();
  private released = false;

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly modelPath: string,
    /** Set for the fixed-size files (320×320, 640×640); undefined for the dynamic ones. */
    readonly fixedSize: { width: number; height: number } | undefined,
  ) {}

  static async load(modelPath: string, opts: YuNetLoadOptions): Promise<YuNetDetector> {
    const session = await createSession(modelPath, opts);
    const det = new YuNetDetector(session, modelPath, fixedInputSize(session));
    try {
      det.checkOutputs();
      const warm = det.fixedSize ?? opts.inputSize ?? { width: 640, height: 480 };
      const w = Math.min(warm.width, det.fixedSize?.width ?? Number.POSITIVE_INFINITY);
      const h = Math.min(warm.height, det.fixedSize?.height ?? Number.POSITIVE_INFINITY);
      const t0 = performance.now();
      await det.detectRaw({ data: new Uint8Array(w * h * 3), width: w, height: h, channels: 3 });
      log.debug('loaded', {
        model: modelPath,
        fixed: det.fixedSize ? `${det.fixedSize.width}x${det.fixedSize.height}` : 'dynamic',
        warmupMs: Math.round(performance.now() - t0),
      });
    } catch (e) {
      await session.release().catch(() => {});
      throw e;
    }
    return det;
  }

  private checkOutputs(): void {
    const names = new Set(this.session.outputNames);
    const missing = YUNET_STRIDES.flatMap((s) => [`cls_${s}`, `obj_${s}`, `bbox_${s}`, `kps_${s}`]).filter(
      (n) => !names.has(n),
    );
    if (missing.length || this.session.inputNames.length !== 1) {
      throw new ValidationError(
        `${this.modelPath} is not a YuNet model (missing outputs: ${missing.join(', ') || 'none'}, inputs: ${this.session.inputNames.join(', ')})`,
        undefined,
        'model-invalid',
      );
    }
  }

  /** The padded tensor size for an image of w×h. */
  paddedSize(w: number, h: number): { width: number; height: number } {
    if (this.fixedSize) return this.fixedSize;
    return {
      width: Math.max(1, Math.ceil(w / DYNAMIC_MULTIPLE)) * DYNAMIC_MULTIPLE,
      height: Math.max(1, Math.ceil(h / DYNAMIC_MULTIPLE)) * DYNAMIC_MULTIPLE,
    };
  }

  /**
   * Faces in an interleaved RGB image that is already at detection size, in that image's pixels. With a fixed-size
   * model an image larger than the model input is letterboxed (scaled to fit) first.
   */
  detectRaw(img: RgbImage, opts: { threshold?: number } = {}): Promise<Face[]> {
    return this.serial(() => this.detectRawNow(img, opts.threshold ?? DEFAULT_THRESHOLD));
  }

  private async detectRawNow(img: RgbImage, threshold: number): Promise<Face[]> {
    if (this.released) throw new Error('detector released');
    if (img.channels !== 3) throw new ValidationError(`expected 3 channels, got ${img.channels}`);
    const fx = this.fixedSize;
    if (fx && (img.width > fx.width || img.height > fx.height)) {
      const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
        .resize({ width: fx.width, height: fx.height, fit: 'inside' })
        .raw()
        .toBuffer({ resolveWithObject: true });
      const faces = await this.infer(data, info.width, info.height, threshold);
      return faces.map((f) => scaleFace(f, img.width / info.width, img.height / info.height));
    }
    return this.infer(img.data, img.width, img.height, threshold);
  }

  private async infer(rgb: Uint8Array, w: number, h: number, threshold: number): Promise<Face[]> {
    const input = this.inputFor(rgb, w, h);
    const { width: padW, height: padH } = this.paddedSize(w, h);
    const outputs = this.outputsFor(padW, padH);
    // onnxruntime writes into our preallocated outputs (no allocation inside onnxruntime); the binding still returns
    // fresh copies of them, which are garbage at once
    await this.session.run({ [this.session.inputNames[0]]: input }, outputs.fetches);
    const faces = decodeYuNet(outputs.strides, padW, padH, threshold);
    this.garbage.add(outputs.bytes);
    return faces;
  }

  private outputsFor(padW: number, padH: number): NonNullable<YuNetDetector['outputs']> {
    if (this.outputs && this.outputs.padW === padW && this.outputs.padH === padH) return this.outputs;
    const fetches: Record<string, ort.Tensor> = {};
    let bytes = 0;
    const strides = YUNET_STRIDES.map((s) => {
      const n = (padW / s) * (padH / s);
      const o = {
        cls: new Float32Array(n),
        obj: new Float32Array(n),
        bbox: new Float32Array(n * 4),
        kps: new Float32Array(n * 10),
      };
      fetches[`cls_${s}`] = new ort.Tensor('float32', o.cls, [1, n, 1]);
      fetches[`obj_${s}`] = new ort.Tensor('float32', o.obj, [1, n, 1]);
      fetches[`bbox_${s}`] = new ort.Tensor('float32', o.bbox, [1, n, 4]);
      fetches[`kps_${s}`] = new ort.Tensor('float32', o.kps, [1, n, 10]);
      bytes += o.cls.byteLength + o.obj.byteLength + o.bbox.byteLength + o.kps.byteLength;
      return o;
    });
    this.outputs = { padW, padH, fetches, strides, bytes };
    return this.outputs;
  }

  /** Fills the reusable tensor for this image (exposed for the benchmark, which times inference alone on it). */
  inputFor(rgb: Uint8Array, w: number, h: number): ort.Tensor {
    const { width: padW, height: padH } = this.paddedSize(w, h);
    if (!this.tensor || this.tensor.padW !== padW || this.tensor.padH !== padH) {
      this.tensor = new NchwBgrTensor(padW, padH);
      this.ortInput = new ort.Tensor('float32', this.tensor.data, [1, 3, padH, padW]);
    }
    this.tensor.fill(rgb, w, h);
    return this.ortInput as ort.Tensor;
  }

  /** onnxruntime run() alone on a prepared tensor: the benchmark's inference-only figure. */
  runInference(input: ort.Tensor): Promise<ort.InferenceSession.ReturnType> {
    return this.session.run({ [this.session.inputNames[0]]: input });
  }

  /**
   * Decodes a photo (file path or encoded bytes) with sharp, honouring EXIF orientation, downscales it (never up)
   * to fit maxSide×maxSide, detects, and maps the faces back to the displayed original's pixels.
   */
  async detectImage(input: string | Buffer, opts: { maxSide: number; threshold: number }): Promise<DetectImageResult> {
    const fx = this.fixedSize;
    const boxW = Math.min(opts.maxSide, fx?.width ?? opts.maxSide);
    const boxH = Math.min(opts.maxSide, fx?.height ?? opts.maxSide);
    let width: number;
    let height: number;
    let data: Buffer;
    let info: sharp.OutputInfo;
    try {
      const img = sharp(input, { autoOrient: true, failOn: 'error' });
      const meta = await img.metadata();
      width = meta.autoOrient?.width ?? meta.width ?? 0;
      height = meta.autoOrient?.height ?? meta.height ?? 0;
      ({ data, info } = await img
        .resize({ width: boxW, height: boxH, fit: 'inside', withoutEnlargement: true })
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer({ resolveWithObject: true }));
    } catch (e) {
      const what = typeof input === 'string' ? input : 'image';
      throw new ValidationError(
        `${what}: not a readable image (${(e as Error).message.split('\n')[0]})`,
        undefined,
        'bad-image',
      );
    }
    if (info.channels !== 3)
      throw new ValidationError(`unexpected ${info.channels}-channel output from the decoder`, undefined, 'bad-image');
    const faces = await this.detectRaw(
      { data, width: info.width, height: info.height, channels: 3 },
      { threshold: opts.threshold },
    );
    // the decoded pixels are garbage from here on, like the output copies
    this.garbage.add(data.byteLength);
    const sx = width / info.width;
    const sy = height / info.height;
    return { width, height, faces: faces.map((f) => scaleFace(f, sx, sy)) };
  }

  /**
   * The live path: a preview JPEG decoded straight at detection size (libjpeg's shrink-on-load when the frame is at
   * least twice the detection size), with nothing the model does not need: the size comes from the frame header
   * (no metadata() round trip), no EXIF orientation (preview frames carry none), no colour-space or alpha steps
   * (a camera's MJPEG is 3-component YCbCr). Anything else goes through detectImage().
   */
  async detectFrame(jpeg: Buffer, opts: { maxSide: number; threshold: number }): Promise<DetectFrameResult> {
    const info = jpegFrameInfo(jpeg);
    const t0 = performance.now();
    if (info?.components !== 3) {
      const r = await this.detectImage(jpeg, opts);
      return { ...r, decodeMs: Number.NaN, detectMs: performance.now() - t0 };
    }
    const fx = this.fixedSize;
    const boxW = Math.min(opts.maxSide, fx?.width ?? opts.maxSide);
    const boxH = Math.min(opts.maxSide, fx?.height ?? opts.maxSide);
    const scale = Math.min(1, boxW / info.width, boxH / info.height);
    const w = Math.max(1, Math.round(info.width * scale));
    const h = Math.max(1, Math.round(info.height * scale));
    let data: Buffer;
    try {
      let img = sharp(jpeg, { failOn: 'error' });
      if (w !== info.width || h !== info.height) img = img.resize(w, h, { fit: 'fill', fastShrinkOnLoad: true });
      data = await img.raw().toBuffer();
    } catch (e) {
      throw new ValidationError(
        `preview frame: not a readable JPEG (${(e as Error).message.split('\n')[0]})`,
        undefined,
        'bad-image',
      );
    }
    if (data.length !== w * h * 3)
      throw new ValidationError(`preview frame decoded to ${data.length} bytes, expected ${w * h * 3}`);
    const t1 = performance.now();
    const faces = await this.detectRaw({ data, width: w, height: h, channels: 3 }, { threshold: opts.threshold });
    const t2 = performance.now();
    this.garbage.add(data.byteLength);
    const sx = info.width / w;
    const sy = info.height / h;
    return {
      width: info.width,
      height: info.height,
      faces: sx === 1 && sy === 1 ? faces : faces.map((f) => scaleFace(f, sx, sy)),
      decodeMs: t1 - t0,
      detectMs: t2 - t1,
    };
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.queue.catch(() => {});
    this.tensor = undefined;
    this.ortInput = undefined;
    this.outputs = undefined;
    await this.session.release();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }
}

function fixedInputSize(session: ort.InferenceSession): { width: number; height: number } | undefined {
  const meta = session.inputMetadata?.[0] as { isTensor?: boolean; shape?: (number | string)[] } | undefined;
  const shape = meta?.shape;
  if (shape?.length !== 4) return undefined;
  const [, , h, w] = shape;
  return typeof h === 'number' && typeof w === 'number' && h > 0 && w > 0 ? { width: w, height: h } : undefined;
}

import { MASK_GRIDS, runMask } from '../analysis/mask.js';
import { fitGuidedMask, type GuidedMask, greyOf, guideImage } from '../analysis/mask-upscale.js';
import type { RgbImage } from '../analysis/types.js';
import { errorMessage } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { ort } from '../vision/onnx.js';
import { ellipseMask, type Face, faceRegion } from './faces.js';
import { RowReader, RowWriter } from './raw-image.js';
import { abortError } from './tiled-model.js';
import type { FilterContext } from './types.js';

const log = createLogger('filters.portrait');

const STRIP_ROWS = 64;
/** Below this share of the frame the selfie model saw no person (measured: an empty scene gives < 0.01). */
export const MIN_PERSON_COVERAGE = 0.01;

export interface SubjectMask {
  mask: GuidedMask;
  /** `person`: the segmentation model's mask; `faces`: feathered ellipses around the faces (no person found). */
  source: 'person' | 'faces';
  guide: RgbImage;
  guideGrey: Float32Array;
}

/**
 * What to keep sharp: the person mask of the segmentation model, or — when it finds no person or cannot run —
 * feathered ellipses around the detected faces (the portrait filter's mask before it had a person model). Both go
 * through the same guided filter, so either follows the photo's edges. Undefined when there is neither.
 */
export async function subjectMask(
  input: string,
  width: number,
  height: number,
  faces: readonly Face[],
  ctx: FilterContext,
): Promise<SubjectMask | undefined> {
  const guide = await guideImage(input);
  const guideGrey = greyOf(guide);
  const model = ctx.personMaskModel ?? 'selfie_seg';
  const grid = MASK_GRIDS[model];
  const problem = grid ? await ctx.models.problem(model) : `unknown person mask model ${model}`;
  if (!problem && grid) {
    const lazy = await ctx.models.session(model);
    const person = await lazy.run((s) => runMask(s, guide, grid, ort.Tensor));
    if (person.coverage >= MIN_PERSON_COVERAGE)
      return { mask: fitGuidedMask(person, guide, width, height), source: 'person', guide, guideGrey };
    log.debug('no person in the photo: falling back to the faces', { coverage: person.coverage });
  } else {
    log.warn('person mask unavailable: falling back to the faces', { reason: problem });
  }
  if (faces.length === 0) return undefined;
  const prob = new Float32Array(guide.width * guide.height);
  const sx = guide.width / width;
  const sy = guide.height / height;
  for (const f of faces) {
    const small: Face = { ...f, box: [f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy] };
    const r = faceRegion(small, 0.3, guide.width, guide.height);
    if (!r) continue;
    const e = ellipseMask(r.width, r.height, 0.35);
    for (let y = 0; y < r.height; y++)
      for (let x = 0; x < r.width; x++) {
        const i = (r.top + y) * guide.width + r.left + x;
        prob[i] = Math.max(prob[i], e[y * r.width + x] / 255);
      }
  }
  return {
    mask: fitGuidedMask({ data: prob, width: guide.width, height: guide.height }, guide, width, height),
    source: 'faces',
    guide,
    guideGrey,
  };
}

/** Three box passes ≈ a Gaussian of σ ≈ r (separable, running sums, clamped at the edges), in place on planes. */
export function boxBlur3(planes: Float32Array[], w: number, h: number, r: number): void {
  if (r < 1) return;
  const tmp = new Float32Array(Math.max(w, h));
  const pass = (p: Float32Array, n: number, count: number, at: (i: number, k: number) => number) => {
    for (let i = 0; i < count; i++) {
      let s = 0;
      for (let k = -r; k <= r; k++) s += p[at(i, Math.min(n - 1, Math.max(0, k)))];
      for (let k = 0; k < n; k++) {
        tmp[k] = s / (2 * r + 1);
        s += p[at(i, Math.min(n - 1, k + r + 1))] - p[at(i, Math.max(0, k - r))];
      }
      for (let k = 0; k < n; k++) p[at(i, k)] = tmp[k];
    }
  };
  for (const p of planes)
    for (let it = 0; it < 3; it++) {
      pass(p, w, h, (row, k) => row * w + k);
      pass(p, h, w, (col, k) => k * w + col);
    }
}

/**
 * The background with the subject taken out, blurred (normalised convolution: blur(I·(1−α)) / blur(1−α)), on the
 * guide's grid. Taking the subject out is what keeps a halo of its colours from bleeding into the blurred
 * background around it.
 */
export function blurredBackground(subject: SubjectMask, radius: number): Float32Array[] {
  const { guide, guideGrey } = subject;
  const n = guide.width * guide.height;
  const alpha = subject.mask.alphaOnGuide(guideGrey);
  const planes = [new Float32Array(n), new Float32Array(n), new Float32Array(n), new Float32Array(n)];
  const plain = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    const w = 1 - alpha[i];
    for (let c = 0; c < 3; c++) {
      planes[c][i] = guide.data[p + c] * w;
      plain[c][i] = guide.data[p + c];
    }
    planes[3][i] = w;
  }
  boxBlur3(planes, guide.width, guide.height, radius);
  boxBlur3(plain, guide.width, guide.height, radius);
  for (let i = 0; i < n; i++) {
    const w = planes[3][i];
    // deep inside the subject no background is near: the plain blur (fully covered by the subject anyway)
    for (let c = 0; c < 3; c++) planes[c][i] = w > 1e-3 ? planes[c][i] / w : plain[c][i];
  }
  return planes.slice(0, 3);
}

/**
 * Writes `output` (.v): `input` (.v) with everything outside the subject replaced by the blurred background,
 * blended by the full-resolution alpha, 64 rows at a time (a 12 MP photo never sits in memory).
 */
export async function blurBackground(
  input: string,
  output: string,
  subject: SubjectMask,
  amount: number,
  ctx: Pick<FilterContext, 'signal' | 'onProgress'>,
): Promise<void> {
  const { guide } = subject;
  const radius = Math.max(1, Math.round(amount * 0.04 * Math.max(guide.width, guide.height)));
  const bg = blurredBackground(subject, radius);
  const reader = await RowReader.open(input);
  let writer: RowWriter | undefined;
  try {
    const W = reader.width;
    const H = reader.height;
    writer = await RowWriter.create(output, W, H);
    const gw = guide.width;
    const gh = guide.height;
    const x0 = new Int32Array(W);
    const x1 = new Int32Array(W);
    const fx = new Float32Array(W);
    for (let x = 0; x < W; x++) {
      const g = Math.min(gw - 1, Math.max(0, ((x + 0.5) * gw) / W - 0.5));
      x0[x] = Math.floor(g);
      x1[x] = Math.min(gw - 1, x0[x] + 1);
      fx[x] = g - x0[x];
    }
    const buf = Buffer.allocUnsafe(STRIP_ROWS * W * 3);
    const alpha = new Uint8Array(STRIP_ROWS * W);
    for (let y = 0; y < H; y += STRIP_ROWS) {
      if (ctx.signal?.aborted) throw abortError(ctx.signal);
      const n = Math.min(STRIP_ROWS, H - y);
      const rows = await reader.read(y, n, buf);
      subject.mask.alphaRows(rows, y, n, alpha);
      for (let j = 0; j < n; j++) {
        const g = Math.min(gh - 1, Math.max(0, ((y + j + 0.5) * gh) / H - 0.5));
        const r0 = Math.floor(g) * gw;
        const r1 = Math.min(gh - 1, Math.floor(g) + 1) * gw;
        const fy = g - Math.floor(g);
        for (let x = 0, p = j * W * 3; x < W; x++, p += 3) {
          const a = alpha[j * W + x];
          if (a === 255) continue;
          const f = fx[x];
          const k = a / 255;
          for (let c = 0; c < 3; c++) {
            const pl = bg[c];
            const top = pl[r0 + x0[x]] + (pl[r0 + x1[x]] - pl[r0 + x0[x]]) * f;
            const bot = pl[r1 + x0[x]] + (pl[r1 + x1[x]] - pl[r1 + x0[x]]) * f;
            const b = top + (bot - top) * fy;
            rows[p + c] = Math.round(rows[p + c] * k + b * (1 - k));
          }
        }
      }
      await writer.write(rows, n);
      ctx.onProgress((y + n) / H);
    }
    await writer.close();
  } catch (e) {
    await writer?.abandon();
    log.debug('background blur failed', { error: errorMessage(e) });
    throw e;
  } finally {
    await reader.close();
  }
}

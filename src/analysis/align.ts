import { type Buffers, FRESH } from './scratch.js';
import type { Face, RgbImage } from './types.js';
import { WASM_BASE64 as STRETCH_WASM } from './wasm/stretch.wasm.js';

/**
 * Crops for the analysis models, made the way their training data was made, with one resampler that matches
 * OpenCV's `warpAffine` (INTER_LINEAR, BORDER_CONSTANT 0) bit for bit, so a Python reference built on OpenCV gets
 * the very same input pixels (test/fixtures/analysis/).
 *
 * Every crop is an affine map from crop pixels to image pixels ("dst → src", OpenCV's WARP_INVERSE_MAP). When the
 * crop is much smaller than its source region, bilinear sampling would skip pixels and alias, so, like dlib's
 * `extract_image_chips`, the source is first halved (2×2 box average) as long as the halved region is still larger
 * than the crop; the last step is then at most a 2× reduction.
 */

/** 2×3 row-major affine map: x' = a·x + b·y + c, y' = d·x + e·y + f. */
export type Affine = [number, number, number, number, number, number];
export type Point = [number, number];

export interface CropSpec {
  /** Crop pixels → image pixels at full resolution. */
  map: Affine;
  width: number;
  height: number;
  /** Side of the source region in image pixels: decides how many times the source is halved first. */
  sourceSide: number;
}

// dlib's 68-point mean face (interpolation.h, get_face_chip_details: mean_face_shape_x/y, points 17..67). The
// 5-point template of shape_predictor_5_face_landmarks is calibrated to give the same chips, but its points are eye
// corners and the subnasale; YuNet gives eye centres, the nose tip and the mouth corners, which the 68-point shape
// has directly (eye centre = mean of the six eye-contour points).
const MEAN_X = [
  0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004, 0.490127,
  0.490127, 0.490127, 0.490127, 0.36688, 0.426036, 0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606,
  0.260918, 0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149, 0.340985, 0.428858, 0.490127,
  0.551395, 0.639268, 0.726104, 0.642159, 0.556721, 0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127,
  0.552157, 0.689874, 0.553364, 0.490127, 0.42689,
];
const MEAN_Y = [
  0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454, 0.203352,
  0.307009, 0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852,
  0.231733, 0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099, 0.780233, 0.745405,
  0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805, 0.902192, 0.909281, 0.902192, 0.864805, 0.784792,
  0.778746, 0.785343, 0.778746, 0.784792, 0.824182, 0.831803, 0.824182,
];
const mean68 = (i: number): Point => [MEAN_X[i - 17], MEAN_Y[i - 17]];
const centroid = (ids: number[]): Point => {
  const ps = ids.map(mean68);
  return [ps.reduce((s, p) => s + p[0], 0) / ps.length, ps.reduce((s, p) => s + p[1], 0) / ps.length];
};

/**
 * YuNet's 5 landmarks in dlib's normalised face frame (0..1, before padding), in YuNet's order: the subject's right
 * eye (image left: iBUG points 36–41), left eye (42–47), nose tip (30), right mouth corner (48), left mouth corner
 * (54).
 */
export const YUNET_TEMPLATE: readonly Point[] = [
  centroid([36, 37, 38, 39, 40, 41]),
  centroid([42, 43, 44, 45, 46, 47]),
  mean68(30),
  mean68(48),
  mean68(54),
];

export const DESCRIPTOR_CHIP = { size: 150, padding: 0.25 } as const;

/**
 * Least-squares similarity (scaled rotation + translation) taking `from` onto `to`: the transform dlib's
 * `find_similarity_transform` (Umeyama) finds, in the closed form that exists in 2-D.
 */
export function similarity(from: readonly Point[], to: readonly Point[]): Affine {
  const n = from.length;
  let fx = 0;
  let fy = 0;
  let tx = 0;
  let ty = 0;
  for (let i = 0; i < n; i++) {
    fx += from[i][0];
    fy += from[i][1];
    tx += to[i][0];
    ty += to[i][1];
  }
  fx /= n;
  fy /= n;
  tx /= n;
  ty /= n;
  let sxx = 0;
  let sxy = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const ax = from[i][0] - fx;
    const ay = from[i][1] - fy;
    const bx = to[i][0] - tx;
    const by = to[i][1] - ty;
    sxx += ax * bx + ay * by;
    sxy += ax * by - ay * bx;
    norm += ax * ax + ay * ay;
  }
  const a = sxx / norm;
  const b = sxy / norm;
  return [a, -b, tx - a * fx + b * fy, b, a, ty - b * fx - a * fy];
}

export const apply = (m: Affine, [x, y]: Point): Point => [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];

/**
 * The descriptor crop, exactly as dlib frames a face chip: `get_face_chip_details(det, size, padding)` builds a
 * similarity from the padded template (p' = (padding + p)/(1 + 2·padding)·size) to the landmarks, keeps its angle
 * and scale and a rectangle `centered_drect(T(size/2, size/2), size·scale, size·scale)`; `extract_image_chip` then
 * maps chip pixels (0,0), (size−1,0), (0,size−1) onto that rectangle's rotated corners.
 */
export function faceChip(
  landmarks: readonly Point[],
  size: number = DESCRIPTOR_CHIP.size,
  padding: number = DESCRIPTOR_CHIP.padding,
): CropSpec {
  if (landmarks.length !== 5) throw new RangeError(`expected 5 landmarks, got ${landmarks.length}`);
  const from = YUNET_TEMPLATE.map(
    ([x, y]): Point => [((padding + x) / (1 + 2 * padding)) * size, ((padding + y) / (1 + 2 * padding)) * size],
  );
  const t = similarity(from, landmarks);
  const angle = Math.atan2(t[3], t[0]);
  const scale = Math.hypot(t[0], t[3]);
  const [cx, cy] = apply(t, [size / 2, size / 2]);
  // centered_drect: width-- before halving, so the corners are (size·scale − 1)/2 from the centre
  const half = (size * scale - 1) / 2;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const rot = (dx: number, dy: number): Point => [cx + cos * dx - sin * dy, cy + sin * dx + cos * dy];
  const tl = rot(-half, -half);
  const tr = rot(half, -half);
  const bl = rot(-half, half);
  const ex = [(tr[0] - tl[0]) / (size - 1), (tr[1] - tl[1]) / (size - 1)];
  const ey = [(bl[0] - tl[0]) / (size - 1), (bl[1] - tl[1]) / (size - 1)];
  return { map: [ex[0], ey[0], tl[0], ex[1], ey[1], tl[1]], width: size, height: size, sourceSide: size * scale };
}

export const EXPRESSION_CROP = 64;

/**
 * The expression crop verified in the MANIFEST: a square of side max(w, h) centred on the YuNet box, resized to
 * 64×64 with the pixel-centre convention of cv2.resize (src = x0 + (u + 0.5)·side/64 − 0.5).
 */
export function squareCrop(box: Face['box'], size: number = EXPRESSION_CROP): CropSpec {
  const [x, y, w, h] = box;
  const side = Math.max(w, h);
  const s = side / size;
  const x0 = x + w / 2 - side / 2;
  const y0 = y + h / 2 - side / 2;
  return { map: [s, 0, x0 + 0.5 * s - 0.5, 0, s, y0 + 0.5 * s - 0.5], width: size, height: size, sourceSide: side };
}

/** dlib's rule: halve while the halved source region still has more pixels than the crop. */
export function pyramidLevels(spec: CropSpec): number {
  let n = 0;
  let side = spec.sourceSide;
  while (side / 2 > Math.max(spec.width, spec.height)) {
    side /= 2;
    n++;
  }
  return n;
}

/** Crop → level-n pixels, where level-n pixel i covers full-resolution pixels [i·2ⁿ, (i+1)·2ⁿ). */
export function mapAtLevel(m: Affine, n: number): Affine {
  const k = 2 ** n;
  const off = (k - 1) / 2;
  return [m[0] / k, m[1] / k, (m[2] - off) / k, m[3] / k, m[4] / k, (m[5] - off) / k];
}

// ---- OpenCV's fixed-point bilinear warp ----
// imgwarp.cpp: INTER_BITS 5 (1/32 px), AB_BITS 10, weights from BilinearTab_i (INTER_REMAP_COEF_BITS 15).
const INTER_BITS = 5;
const TAB = 1 << INTER_BITS;
const AB_SCALE = 1 << 10;
const ROUND_DELTA = AB_SCALE / TAB / 2;
const COEF_BITS = 15;

/** cvRound: round half to even, as lrint does in the default rounding mode. */
function cvRound(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

let bilinearTab: Int32Array | undefined;
/** BilinearTab_i: for each (fy, fx) in 1/32 steps, four int16 weights summing to 2^15 (float32 products, cvRound). */
function weights(): Int32Array {
  if (bilinearTab) return bilinearTab;
  const t = new Int32Array(TAB * TAB * 4);
  const f = Math.fround;
  const step = f(1 / TAB);
  for (let i = 0; i < TAB; i++) {
    const fy = f(i * step);
    for (let j = 0; j < TAB; j++) {
      const fx = f(j * step);
      const wy = [f(1 - fy), fy];
      const wx = [f(1 - fx), fx];
      let k = (i * TAB + j) * 4;
      for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) t[k++] = cvRound(f(wy[a] * wx[b]) * (1 << COEF_BITS));
    }
  }
  bilinearTab = t;
  return t;
}

/** A view of an image whose pixel (0,0) sits at (ox, oy) of a larger image that is W×H; outside W×H reads as 0. */
export interface PlacedImage {
  img: RgbImage;
  ox: number;
  oy: number;
  fullWidth: number;
  fullHeight: number;
}

/**
 * cv2.warpAffine(src, M, (w, h), INTER_LINEAR | WARP_INVERSE_MAP, BORDER_CONSTANT, 0) for an 8-bit RGB image, with
 * M given in the coordinates of the full image (`src.ox/oy` locate the part of it we hold). Output: packed RGB.
 */
export function warpAffine(
  src: PlacedImage,
  m: Affine,
  w: number,
  h: number,
  out: Uint8Array = new Uint8Array(w * h * 3),
): Uint8Array {
  const tab = weights();
  const { img, ox, oy, fullWidth: W, fullHeight: H } = src;
  const d = img.data;
  const stride = img.width * 3;
  const adelta = new Int32Array(w);
  const bdelta = new Int32Array(w);
  for (let x = 0; x < w; x++) {
    adelta[x] = cvRound(m[0] * x * AB_SCALE);
    bdelta[x] = cvRound(m[3] * x * AB_SCALE);
  }
  const half = 1 << (COEF_BITS - 1);
  // the held part of the image: a pixel and its right/bottom neighbours are all inside it on the fast path
  const hx0 = ox;
  const hy0 = oy;
  const hx1 = ox + img.width - 1;
  const hy1 = oy + img.height - 1;
  let o = 0;
  for (let y = 0; y < h; y++) {
    const X0 = cvRound((m[1] * y + m[2]) * AB_SCALE) + ROUND_DELTA;
    const Y0 = cvRound((m[4] * y + m[5]) * AB_SCALE) + ROUND_DELTA;
    for (let x = 0; x < w; x++, o += 3) {
      const X = (X0 + adelta[x]) >> (10 - INTER_BITS);
      const Y = (Y0 + bdelta[x]) >> (10 - INTER_BITS);
      const xi = X >> INTER_BITS;
      const yi = Y >> INTER_BITS;
      const t = (((Y & (TAB - 1)) << INTER_BITS) | (X & (TAB - 1))) << 2;
      const w0 = tab[t];
      const w1 = tab[t + 1];
      const w2 = tab[t + 2];
      const w3 = tab[t + 3];
      if (xi >= hx0 && yi >= hy0 && xi < hx1 && yi < hy1) {
        const p = (yi - oy) * stride + (xi - ox) * 3;
        const q = p + stride;
        out[o] = (d[p] * w0 + d[p + 3] * w1 + d[q] * w2 + d[q + 3] * w3 + half) >> COEF_BITS;
        out[o + 1] = (d[p + 1] * w0 + d[p + 4] * w1 + d[q + 1] * w2 + d[q + 4] * w3 + half) >> COEF_BITS;
        out[o + 2] = (d[p + 2] * w0 + d[p + 5] * w1 + d[q + 2] * w2 + d[q + 5] * w3 + half) >> COEF_BITS;
        continue;
      }
      // at the border: neighbours outside the full image read as 0 (BORDER_CONSTANT); the four weights are
      // positive and sum to 2^15, so no clamping is needed
      let r = half;
      let g = half;
      let b = half;
      for (let k = 0; k < 4; k++) {
        const sy = yi + (k >> 1);
        const sx = xi + (k & 1);
        if (sx < 0 || sy < 0 || sx >= W || sy >= H) continue;
        const p = (sy - oy) * stride + (sx - ox) * 3;
        const wk = tab[t + k];
        r += d[p] * wk;
        g += d[p + 1] * wk;
        b += d[p + 2] * wk;
      }
      out[o] = r >> COEF_BITS;
      out[o + 1] = g >> COEF_BITS;
      out[o + 2] = b >> COEF_BITS;
    }
  }
  return out;
}

/**
 * One 2×2 box-average halving of the region [x0, x0 + w) × [y0, y0 + h) of an image `stride` pixels wide:
 * out = (a + b + c + d + 2) >> 2, floor(w/2) × floor(h/2) pixels, written into `out`.
 */
export function halveRegion(
  src: Uint8Array,
  stride: number,
  x0: number,
  y0: number,
  w: number,
  h: number,
  out: Uint8Array,
): Uint8Array {
  const ow = w >> 1;
  const oh = h >> 1;
  const row = stride * 3;
  let o = 0;
  for (let y = 0; y < oh; y++) {
    let p = (y0 + 2 * y) * row + x0 * 3;
    let q = p + row;
    for (let x = 0; x < ow; x++, o += 3, p += 6, q += 6) {
      out[o] = (src[p] + src[p + 3] + src[q] + src[q + 3] + 2) >> 2;
      out[o + 1] = (src[p + 1] + src[p + 4] + src[q + 1] + src[q + 4] + 2) >> 2;
      out[o + 2] = (src[p + 2] + src[p + 5] + src[q + 2] + src[q + 5] + 2) >> 2;
    }
  }
  return out;
}

/** The whole image halved (tests and references). */
export function halve(img: RgbImage): RgbImage {
  const w = img.width >> 1;
  const h = img.height >> 1;
  return {
    data: halveRegion(img.data, img.width, 0, 0, img.width, img.height, new Uint8Array(w * h * 3)),
    width: w,
    height: h,
    channels: 3,
  };
}

/**
 * Renders a crop: picks the pyramid level, halves only the part of the image the crop reads (aligned to the level's
 * 2ⁿ grid, so the pixels equal those of a whole-image pyramid), then warps. Packed RGB, width×height.
 */
export function renderCrop(img: RgbImage, spec: CropSpec, out?: Uint8Array, buf: Buffers = FRESH): Uint8Array {
  const n = pyramidLevels(spec);
  const m = mapAtLevel(spec.map, n);
  if (n === 0)
    return warpAffine(
      { img, ox: 0, oy: 0, fullWidth: img.width, fullHeight: img.height },
      m,
      spec.width,
      spec.height,
      out,
    );
  const k = 2 ** n;
  const lw = Math.floor(img.width / k);
  const lh = Math.floor(img.height / k);
  // bounding box of the sample points at level n, one pixel of margin for the bilinear neighbours
  const corners: Point[] = [
    [0, 0],
    [spec.width - 1, 0],
    [0, spec.height - 1],
    [spec.width - 1, spec.height - 1],
  ].map((p) => apply(m, p as Point));
  const lx0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p[0]))) - 1);
  const ly0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p[1]))) - 1);
  const lx1 = Math.min(lw, Math.ceil(Math.max(...corners.map((p) => p[0]))) + 2);
  const ly1 = Math.min(lh, Math.ceil(Math.max(...corners.map((p) => p[1]))) + 2);
  if (lx1 <= lx0 || ly1 <= ly0) {
    // the crop lies wholly outside the image: all border
    return out ? out.fill(0) : new Uint8Array(spec.width * spec.height * 3);
  }
  // level 1 straight from the image's region, each further level from the one before, in reused buffers
  let w = (lx1 - lx0) * k;
  let h = (ly1 - ly0) * k;
  let data = halveRegion(img.data, img.width, lx0 * k, ly0 * k, w, h, buf.u8('level1', (w >> 1) * (h >> 1) * 3));
  w >>= 1;
  h >>= 1;
  for (let i = 2; i <= n; i++) {
    data = halveRegion(data, w, 0, 0, w, h, buf.u8(`level${i}`, (w >> 1) * (h >> 1) * 3));
    w >>= 1;
    h >>= 1;
  }
  const level: RgbImage = { data, width: w, height: h, channels: 3 };
  return warpAffine({ img: level, ox: lx0, oy: ly0, fullWidth: lw, fullHeight: lh }, m, spec.width, spec.height, out);
}

/**
 * cv2.cvtColor(RGB2GRAY) for 8-bit as OpenCV 4 does it (color_rgb.simd.hpp, 15-bit weights):
 * (R·9798 + G·19235 + B·3735 + 2^14) >> 15.
 */
export function toGrey(rgb: Uint8Array, out: Uint8Array = new Uint8Array(rgb.length / 3)): Uint8Array {
  for (let i = 0, j = 0; j < out.length; i += 3, j++)
    out[j] = (rgb[i] * 9798 + rgb[i + 1] * 19235 + rgb[i + 2] * 3735 + 16384) >> 15;
  return out;
}

const SUPERSAMPLE_ABOVE = 4;

interface StretchKernel {
  memory: WebAssembly.Memory;
  stretch(
    src: number,
    cols: number,
    dw: number,
    rows: number,
    dh: number,
    dst: number,
    stride: number,
    scale: number,
    add: number,
  ): void;
  round_i32(p: number, n: number): void;
}
let kernel: StretchKernel | undefined;
const PAGE = 65536;

/** The SIMD kernel's memory, grown to at least `bytes`. */
function stretchKernel(bytes: number): StretchKernel {
  kernel ??= new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(STRETCH_WASM, 'base64')))
    .exports as unknown as StretchKernel;
  const have = kernel.memory.buffer.byteLength;
  if (bytes > have) kernel.memory.grow(Math.ceil((bytes - have) / PAGE));
  return kernel;
}

/**
 * A fast stretch of (a region of) the image to dw×dh (bilinear, pixel-centre convention, edge clamped) for the
 * models whose input is the whole frame (person mask, pose). When the reduction exceeds 4× on an axis each output
 * pixel averages two bilinear samples along it, so a 1280-px preview does not alias into the 192-px pose input;
 * below that plain bilinear is kept (both models were trained on resized frames and tolerate it). This is on the live
 * path, in budget against the models' own 1–6 ms, so the sampling runs in a WebAssembly SIMD kernel
 * (wasm/stretch.wat: one pixel per f32x4) over tables of source offsets and weights computed here. Writes interleaved
 * RGB times `scale` into `out` at row stride `outStride` (values); the rest of `out` is zeroed. An Int32Array `out`
 * gets the values rounded (MoveNet's int32 input).
 */
export function stretch(
  img: RgbImage,
  dw: number,
  dh: number,
  region: { x: number; y: number; w: number; h: number } | undefined,
  out: Float32Array | Int32Array,
  outStride: number = dw * 3,
  scale = 1,
): void {
  const { width: W, height: H } = img;
  const rx = region ?? { x: 0, y: 0, w: W, h: H };
  const sx = rx.w / dw;
  const sy = rx.h / dh;
  const kx = sx > SUPERSAMPLE_ABOVE ? 2 : 1;
  const ky = sy > SUPERSAMPLE_ABOVE ? 2 : 1;
  const srcBytes = W * H * 3;
  const srcOff = 0;
  const colOff = align16(srcOff + srcBytes + 16);
  const rowOff = colOff + dw * 16;
  const dstOff = rowOff + dh * 16;
  const dstFloats = align16(Math.max(out.length, outStride * dh));
  const k = stretchKernel(dstOff + dstFloats * 4 + 16);
  const mem = k.memory.buffer;
  new Uint8Array(mem, srcOff, srcBytes).set(img.data.length === srcBytes ? img.data : img.data.subarray(0, srcBytes));
  const cols = new DataView(mem, colOff, dw * 16);
  const rows = new DataView(mem, rowOff, dh * 16);
  const dst = new Float32Array(mem, dstOff, dstFloats);
  dst.fill(0);
  let pass = 0;
  for (let jy = 0; jy < ky; jy++) {
    for (let y = 0; y < dh; y++) {
      const c = Math.min(H - 1, Math.max(0, rx.y + (y + (jy + 0.5) / ky) * sy - 0.5));
      const y0 = Math.floor(c);
      rows.setInt32(y * 16, y0 * W * 3, true);
      rows.setInt32(y * 16 + 4, Math.min(H - 1, y0 + 1) * W * 3, true);
      rows.setFloat32(y * 16 + 8, c - y0, true);
    }
    for (let jx = 0; jx < kx; jx++, pass++) {
      for (let x = 0; x < dw; x++) {
        const c = Math.min(W - 1, Math.max(0, rx.x + (x + (jx + 0.5) / kx) * sx - 0.5));
        const x0 = Math.floor(c);
        cols.setInt32(x * 16, x0 * 3, true);
        cols.setInt32(x * 16 + 4, Math.min(W - 1, x0 + 1) * 3, true);
        cols.setFloat32(x * 16 + 8, c - x0, true);
      }
      k.stretch(srcOff, colOff, dw, rowOff, dh, dstOff, outStride * 4, scale / (kx * ky), pass > 0 ? 1 : 0);
    }
  }
  if (out instanceof Int32Array) {
    k.round_i32(dstOff, dstFloats);
    out.set(new Int32Array(mem, dstOff, out.length));
  } else out.set(dst.subarray(0, out.length));
}

const align16 = (v: number) => (v + 15) & ~15;

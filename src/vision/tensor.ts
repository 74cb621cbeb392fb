import { WASM_BASE64 } from './wasm/nchw-fill.wasm.js';

interface FillExports {
  memory: WebAssembly.Memory;
  fill(src: number, w: number, h: number, dst: number, padW: number, padH: number): void;
}

let compiled: WebAssembly.Module | undefined;
const PAGE = 65536;

/**
 * The YuNet input tensor: BGR planes of raw 0..255 floats (NCHW), the image in the top-left corner and zero padding
 * right and bottom. This is the hot path of live detection and part of every detect() timing, so the planes live in
 * WebAssembly memory and are filled by a SIMD kernel (wasm/nchw-fill.wat: 2-3× faster than the best JavaScript loop,
 * which V8 does not vectorise), the buffer is reused between frames, and the padding is written only when the image
 * size changes. onnxruntime reads `data` in place.
 */
export class NchwBgrTensor {
  readonly data: Float32Array;
  private readonly kernel: FillExports;
  private readonly src: Uint8Array;
  private lastW = -1;
  private lastH = -1;

  constructor(
    readonly padW: number,
    readonly padH: number,
  ) {
    compiled ??= new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
    this.kernel = new WebAssembly.Instance(compiled).exports as unknown as FillExports;
    const planes = 3 * padW * padH;
    // planes first (float32-aligned at 0), then room for the RGB bytes of an image filling the whole tensor
    const bytes = planes * 4 + planes;
    const have = this.kernel.memory.buffer.byteLength;
    if (bytes > have) this.kernel.memory.grow(Math.ceil((bytes - have) / PAGE));
    const buf = this.kernel.memory.buffer;
    this.data = new Float32Array(buf, 0, planes);
    this.src = new Uint8Array(buf, planes * 4, planes);
  }

  /** Writes an interleaved RGB image of `w`×`h` (w ≤ padW, h ≤ padH) into the planes. */
  fill(rgb: Uint8Array, w: number, h: number): void {
    if (w > this.padW || h > this.padH)
      throw new RangeError(`image ${w}x${h} larger than tensor ${this.padW}x${this.padH}`);
    const n = w * h * 3;
    if (rgb.length < n) throw new RangeError(`expected ${n} bytes of RGB, got ${rgb.length}`);
    if (w !== this.lastW || h !== this.lastH) {
      this.data.fill(0);
      this.lastW = w;
      this.lastH = h;
    }
    this.src.set(rgb.length === n ? rgb : rgb.subarray(0, n));
    this.kernel.fill(this.src.byteOffset, w, h, 0, this.padW, this.padH);
  }
}

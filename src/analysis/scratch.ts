/**
 * Reusable input buffers for the analysis models, one per (purpose, length). A fresh 0.2–0.8 MB typed array per
 * frame costs a page fault per 4 kB the first time it is written — measured here, that was most of the mask and
 * descriptor steps' overhead over inference — while a buffer reused is already mapped. Only for inputs that are
 * consumed before the next job starts (the SessionPool runs one job at a time).
 */
export class Scratch {
  private readonly f32s = new Map<string, Float32Array>();
  private readonly i32s = new Map<string, Int32Array>();
  private readonly u8s = new Map<string, Uint8Array>();

  f32(key: string, n: number): Float32Array {
    return get(this.f32s, `${key}:${n}`, () => new Float32Array(n));
  }

  i32(key: string, n: number): Int32Array {
    return get(this.i32s, `${key}:${n}`, () => new Int32Array(n));
  }

  u8(key: string, n: number): Uint8Array {
    return get(this.u8s, `${key}:${n}`, () => new Uint8Array(n));
  }

  /** Drops every buffer (when the sessions unload, so an idle analyzer holds nothing). */
  clear(): void {
    this.f32s.clear();
    this.i32s.clear();
    this.u8s.clear();
  }
}

function get<T>(m: Map<string, T>, key: string, make: () => T): T {
  let v = m.get(key);
  if (!v) {
    v = make();
    m.set(key, v);
  }
  return v;
}

/** Fresh buffers every call: for callers outside the analyzer's job queue. */
export const FRESH = {
  f32: (_: string, n: number) => new Float32Array(n),
  i32: (_: string, n: number) => new Int32Array(n),
  u8: (_: string, n: number) => new Uint8Array(n),
};

export type Buffers = Pick<Scratch, 'f32' | 'i32' | 'u8'>;

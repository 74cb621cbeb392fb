// @types/node 20 has no WebAssembly types (they come with @types/node 22) and lib.dom would bring in the browser's
// globals, so this declares the part of the JavaScript API the SIMD kernels use.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(deltaPages: number): number;
  }
}

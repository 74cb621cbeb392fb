import v8 from 'node:v8';
import vm from 'node:vm';

type GcFn = (opts?: { type?: 'minor' | 'major' }) => void;

let gcFn: GcFn | null | undefined;

/** V8's gc(), exposed at run time when node was not started with --expose-gc; null if that is refused. */
function gc(): GcFn | null {
  if (gcFn !== undefined) return gcFn;
  const g = (globalThis as { gc?: GcFn }).gc;
  if (typeof g === 'function') {
    gcFn = g;
    return gcFn;
  }
  try {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as GcFn;
  } catch {
    gcFn = null;
  }
  return gcFn;
}

/**
 * Bounds the memory held by dead ArrayBuffers that a native library allocates on every call. onnxruntime-node
 * copies every output of every run into a fresh ArrayBuffer (even into preallocated outputs), and V8 frees those
 * only when it next scavenges, which their external memory triggers only after tens of MB: measured here, YuNet at
 * 640×480 kept ~30 MB of dead outputs resident in glibc's heap after a few hundred frames (and fragmented it).
 * Collecting the young generation once every `limitBytes` of such garbage keeps that near zero, at ~0.05 ms a time.
 */
export class YoungGarbage {
  private pending = 0;

  constructor(private readonly limitBytes: number) {}

  /** Counts `bytes` of newly dead buffers and collects when the limit is reached. */
  add(bytes: number): void {
    this.pending += bytes;
    if (this.pending < this.limitBytes) return;
    this.pending = 0;
    gc()?.({ type: 'minor' });
  }
}

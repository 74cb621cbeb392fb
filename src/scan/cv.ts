import { createRequire } from 'node:module';

/**
 * OpenCV 4.12 compiled to WebAssembly (npm `@techstark/opencv-js`, Apache-2.0): contours, perspective warps,
 * morphology and inpainting come from it rather than from hand-written code. It costs ~80 MB of RSS and a few
 * seconds to load (a Pi Zero 2 W: tens of seconds), and its heap never shrinks, so it is loaded only where it is
 * used — a worker thread that ends with the job, or the live-outline child process — never in the daemon's main
 * thread. Images handed to it are tiles or previews, never a whole 12 MP photo.
 */
export type CV = typeof import('@techstark/opencv-js');

let loading: Promise<CV> | undefined;

export function loadCv(): Promise<CV> {
  loading ??= (async () => {
    // The Emscripten glue registers process-wide 'uncaughtException' and 'unhandledRejection' handlers (the latter
    // aborts the process); this code has its own error handling, so they are removed again.
    const before = {
      ue: new Set(process.listeners('uncaughtException')),
      ur: new Set(process.listeners('unhandledRejection')),
    };
    const require = createRequire(import.meta.url);
    const cv = require('@techstark/opencv-js') as CV & { onRuntimeInitialized?: () => void; then?: unknown };
    if (!cv.Mat)
      await new Promise<void>((resolve) => {
        cv.onRuntimeInitialized = resolve;
      });
    // The module object is a thenable that resolves to itself: returned from an async function as it is, the
    // promise machinery would unwrap it forever.
    delete cv.then;
    for (const l of process.listeners('uncaughtException'))
      if (!before.ue.has(l)) process.removeListener('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection'))
      if (!before.ur.has(l)) process.removeListener('unhandledRejection', l);
    return cv;
  })();
  return loading;
}

/** Runs `fn` with Mats it creates through `keep`, deleting every one of them afterwards (the WASM heap has no GC). */
export function withMats<T>(fn: (keep: <M extends { delete(): void }>(m: M) => M) => T): T {
  const mats: { delete(): void }[] = [];
  try {
    return fn((m) => {
      mats.push(m);
      return m;
    });
  } finally {
    for (const m of mats) m.delete();
  }
}

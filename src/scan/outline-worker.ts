import sharp from 'sharp';
import { loadCv } from './cv.js';
import { detectPrint } from './quad.js';

/**
 * The live outline's child process (src/scan/live-outline.ts): OpenCV's WebAssembly heap (~80 MB, never given back)
 * lives here, not in the daemon, and goes away with the process when scan mode is left. One message at a time: a
 * preview JPEG in, the print's corners out as fractions of the frame (or null).
 */
export interface OutlineRequest {
  id: number;
  jpeg: Uint8Array;
}
export interface OutlineReply {
  id: number;
  corners: [number, number][] | null;
  width: number;
  height: number;
  ms: number;
  error?: string;
}

/** Longest side the preview is looked at in: enough for a 1 % corner, cheap on a Zero 2 W. */
const SIDE = 640;

async function outline(req: OutlineRequest): Promise<OutlineReply> {
  const t0 = performance.now();
  const cv = await loadCv();
  const { data, info } = await sharp(Buffer.from(req.jpeg))
    .resize(SIDE, SIDE, { fit: 'inside', withoutEnlargement: true })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const d = detectPrint(cv, { data, width: info.width, height: info.height });
  const r = (v: number) => Math.round(v * 1e4) / 1e4;
  return {
    id: req.id,
    corners: d ? d.corners.map(([x, y]) => [r((x + 0.5) / info.width), r((y + 0.5) / info.height)]) : null,
    width: info.width,
    height: info.height,
    ms: Math.round(performance.now() - t0),
  };
}

if (process.send) {
  sharp.concurrency(1);
  process.on('message', (m: OutlineRequest) => {
    void outline(m)
      .catch((e: unknown) => ({
        id: m.id,
        corners: null,
        width: 0,
        height: 0,
        ms: 0,
        error: e instanceof Error ? e.message : String(e),
      }))
      .then((reply) => process.send?.(reply));
  });
  // the daemon went away: so does this process
  process.on('disconnect', () => process.exit(0));
}

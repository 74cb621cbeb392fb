import sharp from 'sharp';
import { errorMessage, ValidationError } from '../../util/errors.js';
import type { Face } from '../../vision/face.js';
import { loadFaceDetector } from '../../vision/face-model.js';
import { resolveCliConfig } from '../config.js';
import type { CliCommand } from '../types.js';

const r2 = (v: number) => Math.round(v * 100) / 100;

export function intFlag(name: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ValidationError(`--${name} must be an integer from ${min} to ${max}, got "${v}"`);
  return n;
}

export function numFlag(name: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new ValidationError(`--${name} must be a number from ${min} to ${max}, got "${v}"`);
  }
  return n;
}

function faceJson(f: Face) {
  return {
    box: f.box.map(r2),
    score: Math.round(f.score * 1e4) / 1e4,
    landmarks: f.landmarks.map(([x, y]) => [r2(x), r2(y)]),
  };
}

export const command: CliCommand = {
  name: 'detect',
  summary: 'Detect faces in photos (YuNet) and print boxes, scores and landmarks',
  usage: '[--max-side N] [--threshold T] [--threads N] [--model NAME|PATH] [--json] IMAGE...',
  help: [
    'Each image is downscaled (never upscaled) to fit N×N (default vision.faces.maxSide, 640), keeping its aspect',
    'ratio. Boxes [x, y, w, h] and landmarks (right eye, left eye, nose tip, right and left mouth corner) are in the',
    'pixels of the original image as displayed (EXIF orientation applied). With --json, one JSON line per image.',
    'An unreadable image is reported on stderr; the others are still processed and the exit status is 1.',
  ].join('\n'),
  options: {
    'max-side': { type: 'string' },
    threshold: { type: 'string' },
    threads: { type: 'string' },
    model: { type: 'string' },
    json: { type: 'boolean' },
  },
  allowPositionals: true,
  async run({ values, positionals }, ctx) {
    if (positionals.length === 0) throw new ValidationError('no IMAGE given');
    // every image is decoded once: libvips' operation cache would only hold on to memory
    sharp.cache(false);
    const { config } = await resolveCliConfig(ctx);
    const faces = config.vision.faces;
    const maxSide = intFlag('max-side', values['max-side'], 16, 8192) ?? faces.maxSide;
    const threshold = numFlag('threshold', values.threshold, 0, 1) ?? faces.threshold;
    const threads = intFlag('threads', values.threads, 1, 64) ?? config.vision.threads;
    const detector = await loadFaceDetector({
      model: typeof values.model === 'string' ? values.model : faces.model,
      modelsDir: config.models.dir,
      threads,
      optimization: config.vision.optimization,
      memArena: config.vision.memArena,
      inputSize: { width: Math.min(maxSide, 640), height: Math.min(maxSide, 480) },
    });
    let failed = 0;
    try {
      for (const image of positionals) {
        const t0 = performance.now();
        try {
          const res = await detector.detectImage(image, { maxSide, threshold });
          const ms = r2(performance.now() - t0);
          if (values.json) {
            ctx.out(
              JSON.stringify({ image, width: res.width, height: res.height, faces: res.faces.map(faceJson), ms }),
            );
          } else {
            ctx.out(
              `${image}  ${res.width}x${res.height}  ${res.faces.length} face${res.faces.length === 1 ? '' : 's'}  ${ms} ms`,
            );
            res.faces.forEach((f, i) => {
              const [x, y, w, h] = f.box.map((v) => Math.round(v));
              ctx.out(`  #${i + 1}  score ${f.score.toFixed(3)}  box x=${x} y=${y} w=${w} h=${h}`);
            });
          }
        } catch (e) {
          failed++;
          ctx.err(`pinhole detect: ${errorMessage(e)}`);
        }
      }
    } finally {
      await detector.release();
    }
    return failed ? 1 : 0;
  },
};

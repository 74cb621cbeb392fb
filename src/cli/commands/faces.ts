import sharp from 'sharp';
import { analyzerFromConfig } from '../../analysis/component.js';
import { EXPRESSION_NAMES, type FaceAnalysis } from '../../analysis/types.js';
import { errorMessage, ValidationError } from '../../util/errors.js';
import { loadFaceDetector } from '../../vision/face-model.js';
import { resolveCliConfig } from '../config.js';
import type { CliCommand } from '../types.js';
import { intFlag } from './detect.js';

const r2 = (v: number) => Math.round(v * 100) / 100;
const r6 = (v: number) => Math.round(v * 1e6) / 1e6;

/** The contract's face object; values a model could not give (tiny face, model unavailable) are null, with why. */
export function faceAnalysisJson(a: FaceAnalysis) {
  const f = a.face;
  return {
    box: f.box.map(r2),
    score: Math.round(f.score * 1e4) / 1e4,
    landmarks: f.landmarks.map(([x, y]) => [r2(x), r2(y)]),
    smile: a.smile === undefined ? null : r6(a.smile),
    expression: a.expression ? Object.fromEntries(EXPRESSION_NAMES.map((n) => [n, r6(a.expression?.[n] ?? 0)])) : null,
    descriptor: a.descriptor ? Array.from(a.descriptor, r6) : null,
    ...(a.skipped ? { skipped: a.skipped } : {}),
  };
}

export const command: CliCommand = {
  name: 'faces',
  summary: 'Detect faces in photos and analyse them: expression, smile score and 128-D descriptor (nothing stored)',
  usage: '[--json] [--max-side N] IMAGE...',
  help: [
    'Detection as `pinhole detect` does it (each image downscaled to fit N×N, default vision.faces.maxSide), then',
    'for every face the expression (7 probabilities; smile = P(happy)) and the dlib descriptor (same person below',
    'distance 0.6), computed on the photo decoded at up to vision.analysis.maxSide. Everything is in the pixels of',
    'the original image (EXIF orientation applied). With --json, one JSON line per image:',
    '  {"image","width","height","faces":[{"box","score","landmarks","smile","expression":{...},"descriptor":[128]}]}',
    'A face too small for a model gets null there and a "skipped" reason. A file tool: it stores nothing.',
    'An unreadable image is reported on stderr; the others are still processed and the exit status is 1.',
  ].join('\n'),
  options: { json: { type: 'boolean' }, 'max-side': { type: 'string' }, threads: { type: 'string' } },
  allowPositionals: true,
  async run({ values, positionals }, ctx) {
    if (positionals.length === 0) throw new ValidationError('no IMAGE given');
    sharp.cache(false);
    const { config } = await resolveCliConfig(ctx);
    const f = config.vision.faces;
    const maxSide = intFlag('max-side', values['max-side'], 16, 8192) ?? f.maxSide;
    const threads = intFlag('threads', values.threads, 1, 64) ?? config.vision.threads;
    const session = { threads, optimization: config.vision.optimization, memArena: config.vision.memArena };
    const detector = await loadFaceDetector({
      model: f.model,
      modelsDir: config.models.dir,
      ...session,
      inputSize: { width: Math.min(maxSide, 640), height: Math.min(maxSide, 480) },
    });
    // a one-shot tool: no idle timers; the two face models are all it loads
    const analyzer = analyzerFromConfig({ ...config, vision: { ...config.vision, threads } }, { idleMs: 0 });
    let failed = 0;
    try {
      for (const image of positionals) {
        try {
          const det = await detector.detectImage(image, { maxSide, threshold: f.threshold });
          const res = await analyzer.analyzeImage(image, det.faces, { expression: true, descriptor: true });
          if (values.json) {
            ctx.out(
              JSON.stringify({ image, width: det.width, height: det.height, faces: res.faces.map(faceAnalysisJson) }),
            );
            continue;
          }
          ctx.out(`${image}  ${det.width}x${det.height}  ${res.faces.length} face${res.faces.length === 1 ? '' : 's'}`);
          res.faces.forEach((a, i) => {
            const [x, y, w, h] = a.face.box.map((v) => Math.round(v));
            const top = a.expression
              ? EXPRESSION_NAMES.reduce((b, n) => ((a.expression?.[n] ?? 0) > (a.expression?.[b] ?? 0) ? n : b))
              : undefined;
            const what = [
              `score ${a.face.score.toFixed(3)}`,
              `box x=${x} y=${y} w=${w} h=${h}`,
              a.smile === undefined ? undefined : `smile ${a.smile.toFixed(2)}`,
              top,
              a.descriptor ? 'descriptor ok' : undefined,
              ...Object.values(a.skipped ?? {}),
            ].filter(Boolean);
            ctx.out(`  #${i + 1}  ${what.join('  ')}`);
          });
        } catch (e) {
          failed++;
          ctx.err(`pinhole faces: ${errorMessage(e)}`);
        }
      }
    } finally {
      await Promise.all([detector.release(), analyzer.close()]);
    }
    return failed ? 1 : 0;
  },
};

import { benchFaces } from '../../bench/faces.js';
import { ValidationError } from '../../util/errors.js';
import { resolveCliConfig } from '../config.js';
import type { CliCommand } from '../types.js';
import { intFlag } from './detect.js';

export const command: CliCommand = {
  name: 'bench faces',
  summary: 'Time each face analysis step (expression, descriptor, mask, pose) against onnxruntime run() alone',
  usage: '[--threads N] [--runs R] [--json] IMAGE...',
  help: [
    'Faces are found with YuNet first. Per step, median_ms/p90_ms time everything from the decoded image and the',
    'face to the model output (crop and alignment included); inference_median_ms is onnxruntime run() alone of the',
    'same session on inputs prepared beforehand. expression and descriptor run per face on the photo decoded at',
    'vision.analysis.maxSide; mask and pose on the image resized to 640×480 (preview frames). mask_upscale brings',
    'the person mask to the photo at full size (no model). n is the number of timed calls.',
  ].join('\n'),
  options: { threads: { type: 'string' }, runs: { type: 'string' }, json: { type: 'boolean' } },
  allowPositionals: true,
  async run({ values, positionals }, ctx) {
    if (positionals.length === 0) throw new ValidationError('no IMAGE given');
    const { config } = await resolveCliConfig(ctx);
    const res = await benchFaces({
      modelsDir: config.models.dir,
      images: positionals,
      threads: intFlag('threads', values.threads, 1, 64) ?? config.vision.threads,
      runs: intFlag('runs', values.runs, 1, 10_000) ?? 20,
      session: { optimization: config.vision.optimization, memArena: config.vision.memArena },
      maskModel: config.vision.analysis.maskModel,
      maxSide: config.vision.analysis.maxSide,
    });
    if (values.json) {
      ctx.out(JSON.stringify(res));
      return 0;
    }
    ctx.out(`${res.images} image(s), ${res.faces} face(s), ${res.threads} thread(s):`);
    for (const k of ['expression', 'descriptor', 'mask', 'pose', 'mask_upscale'] as const) {
      const s = res[k];
      const inf = s.inference_median_ms;
      ctx.out(
        `  ${k.padEnd(12)} median ${s.median_ms} ms, p90 ${s.p90_ms} ms${inf === undefined ? '' : `; run() alone ${inf} ms (M/I ${(s.median_ms / inf).toFixed(2)})`}`,
      );
    }
    return 0;
  },
};

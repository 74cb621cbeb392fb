import { benchDetect } from '../../bench/detect.js';
import { resolveModel } from '../../models/manifest.js';
import { ValidationError } from '../../util/errors.js';
import { resolveCliConfig } from '../config.js';
import type { CliCommand } from '../types.js';
import { intFlag } from './detect.js';

export const command: CliCommand = {
  name: 'bench detect',
  summary: 'Time face detection (image→tensor, inference, decode, NMS) against onnxruntime run() alone',
  usage: '--size WxH [--threads N] [--runs R] [--model NAME|PATH] [--json] IMAGE...',
  help: [
    'Images are decoded and resized to W×H before timing. median_ms/p90_ms time what OpenCV FaceDetectorYN.detect()',
    'does; inference_median_ms is onnxruntime run() alone of the unmodified model on the same float32 NCHW tensors.',
    'n is the number of timed calls (runs × images).',
  ].join('\n'),
  options: {
    size: { type: 'string' },
    threads: { type: 'string' },
    runs: { type: 'string' },
    model: { type: 'string' },
    json: { type: 'boolean' },
  },
  allowPositionals: true,
  async run({ values, positionals }, ctx) {
    if (positionals.length === 0) throw new ValidationError('no IMAGE given');
    const m = /^(\d{1,5})x(\d{1,5})$/i.exec(String(values.size ?? ''));
    if (!m) throw new ValidationError('--size WxH is required, e.g. --size 640x480');
    const width = Number(m[1]);
    const height = Number(m[2]);
    if (width < 1 || height < 1 || width > 4096 || height > 4096)
      throw new ValidationError('--size must be between 1x1 and 4096x4096');
    const { config } = await resolveCliConfig(ctx);
    const threads = intFlag('threads', values.threads, 1, 64) ?? config.vision.threads;
    const runs = intFlag('runs', values.runs, 1, 10_000) ?? 20;
    const model = await resolveModel(
      typeof values.model === 'string' ? values.model : config.vision.faces.model,
      config.models.dir,
    );
    const res = await benchDetect({
      modelPath: model.path,
      width,
      height,
      threads,
      images: positionals,
      runs,
      optimization: config.vision.optimization,
      memArena: config.vision.memArena,
    });
    if (values.json) {
      ctx.out(JSON.stringify(res));
    } else {
      ctx.out(
        `${res.size}, ${res.threads} thread(s), ${res.n} runs: median ${res.median_ms} ms, p90 ${res.p90_ms} ms; inference alone ${res.inference_median_ms} ms (M/I ${(res.median_ms / res.inference_median_ms).toFixed(2)})`,
      );
    }
    return 0;
  },
};

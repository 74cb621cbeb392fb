import path from 'node:path';
import sharp from 'sharp';
import { filterDepsFromConfig } from '../../filters/setup.js';
import { parseSteps, runScan, SCAN_STEPS } from '../../scan/scan.js';
import { ValidationError } from '../../util/errors.js';
import { configureLogging } from '../../util/logger.js';
import { resolveCliConfig } from '../config.js';
import { needsSmallHeap, reexecWithSmallHeap } from '../small-heap.js';
import type { CliCommand } from '../types.js';

export const command: CliCommand = {
  name: 'scan',
  summary: 'Flatten and restore a photographed old print (scan mode, in this process)',
  usage: 'IN OUT [--no-crop] [--steps LIST] [--json] [--models DIR]',
  help: [
    'Finds the print in IN (the largest plausible quadrilateral), warps it upright at its own aspect, then repairs',
    'scratches and dust, corrects fade and colour cast, denoises (IRCNN) and enhances small faces (Real-ESRGAN on',
    'their crops). LIST is a comma-separated subset of crop,scratches,fade,denoise,faces (default: all); --no-crop',
    'drops crop. When no print is found the whole frame is used, and the command says so on stderr. With the default',
    'steps, a model step whose model is missing is skipped (said so); named in --steps, it is an error.',
    'With --json, stdout is {"out", "corners": [[x, y] x4 in IN\'s pixels, clockwise from top-left, the paper\'s',
    'outer edge] or null, "steps": {step: its parameters}, "ms"}.',
  ].join('\n'),
  options: {
    'no-crop': { type: 'boolean' },
    steps: { type: 'string' },
    json: { type: 'boolean' },
    models: { type: 'string' },
  },
  allowPositionals: true,
  async run({ values, positionals }, ctx) {
    if (positionals.length !== 2)
      throw new ValidationError(
        `expected IN OUT, got ${positionals.length} argument(s); see pinhole scan --help`,
        undefined,
        'usage',
      );
    const [input, out] = positionals;
    const explicit = typeof values.steps === 'string';
    let steps = explicit ? parseSteps(values.steps as string) : [...SCAN_STEPS];
    if (values['no-crop']) steps = steps.filter((s) => s !== 'crop');
    if (needsSmallHeap()) return reexecWithSmallHeap();
    configureLogging({ sink: (line) => process.stderr.write(`${line}\n`) });
    sharp.cache(false);
    const { config } = await resolveCliConfig(ctx);
    const modelsDir = typeof values.models === 'string' ? path.resolve(values.models) : undefined;
    const workDir = path.dirname(path.resolve(out));
    const deps = filterDepsFromConfig(config, { modelsDir, workDir });
    try {
      const r = await runScan({
        input: path.resolve(input),
        out: path.resolve(out),
        steps,
        explicitSteps: explicit,
        workDir,
        models: deps.models,
        faces: deps.faces,
        tileSize: config.filters.tileSize,
        maxInputMegapixels: config.filters.maxInputMegapixels,
        maxOutputMegapixels: config.filters.maxOutputMegapixels,
        log: (m) => ctx.err(`pinhole ${m}`),
      });
      if (values.json) ctx.out(JSON.stringify({ out, corners: r.corners, steps: r.steps, ms: r.ms }));
      else
        ctx.out(
          `wrote ${out} (${r.width}x${r.height}) in ${r.ms} ms; steps ${Object.keys(r.steps).join(',') || 'none'}${r.corners ? '' : steps.includes('crop') ? '; no print found, whole frame used' : ''}`,
        );
    } finally {
      await deps.models.releaseAll();
      await deps.faces?.release?.();
    }
    return 0;
  },
};

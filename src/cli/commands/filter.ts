import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describeParam, parseParamArgs } from '../../filters/params.js';
import { runPipeline } from '../../filters/pipeline.js';
import { filterDepsFromConfig } from '../../filters/setup.js';
import { ValidationError } from '../../util/errors.js';
import { resolveCliConfig } from '../config.js';
import { needsSmallHeap, reexecWithSmallHeap } from '../small-heap.js';
import type { CliCommand } from '../types.js';

export const command: CliCommand = {
  name: 'filter',
  summary: 'Apply a filter or recipe to a photo (in this process, not via the daemon)',
  usage: 'NAME|RECIPE INPUT OUTPUT [--param key=value ...] [--models DIR]\n       pinhole filter --list [--json]',
  help: [
    'Writes OUTPUT (.jpg, .png, .webp or .tif) atomically; INPUT is never modified.',
    'Model filters need the models installed (pinhole models install) in models.dir or --models DIR.',
    'Recipes come from filters.recipes in the config. `pinhole filter --list` shows filters, parameters and recipes.',
  ].join('\n'),
  options: {
    list: { type: 'boolean' },
    json: { type: 'boolean' },
    param: { type: 'string', multiple: true },
    models: { type: 'string' },
  },
  allowPositionals: true,
  async run({ values, positionals }, ctx) {
    if (!values.list && needsSmallHeap()) return reexecWithSmallHeap();
    // A small libvips cache: the CLI must fit in a Pi Zero 2 W next to the daemon.
    sharp.cache(false);
    const { config } = await resolveCliConfig(ctx);
    const modelsDir = typeof values.models === 'string' ? path.resolve(values.models) : undefined;

    if (values.list) {
      const deps = filterDepsFromConfig(config, { modelsDir, workDir: os.tmpdir() });
      const filters = await deps.registry.info(deps.models, deps.faces);
      const recipes = Object.fromEntries(deps.registry.recipeNames().map((n) => [n, deps.registry.recipe(n)]));
      if (values.json) {
        ctx.out(JSON.stringify({ filters, recipes }));
        return 0;
      }
      const w = Math.max(...filters.map((f) => f.name.length));
      ctx.out('Filters:');
      for (const f of filters) {
        ctx.out(
          `  ${f.name.padEnd(w)}  ${f.kind.padEnd(9)}  ${f.cost.padEnd(6)}  ${f.available ? '' : '[unavailable] '}${f.description}`,
        );
        for (const [k, spec] of Object.entries(f.params))
          ctx.out(`  ${''.padEnd(w)}    --param ${describeParam(k, spec)}`);
        for (const p of f.problems) ctx.out(`  ${''.padEnd(w)}    ! ${p}`);
      }
      ctx.out(Object.keys(recipes).length ? 'Recipes:' : 'Recipes: none (define them in filters.recipes)');
      for (const [n, steps] of Object.entries(recipes)) ctx.out(`  ${n}: ${JSON.stringify(steps)}`);
      return 0;
    }

    if (positionals.length !== 3) {
      throw new ValidationError(
        `expected NAME|RECIPE INPUT OUTPUT, got ${positionals.length} argument(s); see pinhole filter --help`,
        undefined,
        'usage',
      );
    }
    const [name, input, output] = positionals;
    const params = parseParamArgs((values.param as string[] | undefined) ?? []);
    // Intermediates go beside the output: same disk, and never a RAM-backed /tmp on the Pi.
    const deps = filterDepsFromConfig(config, { modelsDir, workDir: path.dirname(path.resolve(output)) });
    const steps = deps.registry.resolve(name, params);
    const t0 = performance.now();
    try {
      const size = await runPipeline(deps, steps, path.resolve(input), path.resolve(output));
      ctx.out(`wrote ${output} (${size.width}x${size.height}) in ${Math.round(performance.now() - t0)} ms`);
    } finally {
      await deps.models.releaseAll();
      await deps.faces?.release?.();
    }
    return 0;
  },
};

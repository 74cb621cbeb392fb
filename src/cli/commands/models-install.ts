import path from 'node:path';
import { cliModelsDir } from '../../models/dir.js';
import { installModels } from '../../models/installer.js';
import { loadManifest } from '../../models/manifest.js';
import { ValidationError } from '../../util/errors.js';
import type { CliCommand } from '../types.js';

export const command: CliCommand = {
  name: 'models install',
  summary: 'Install the ONNX models (copied from a folder or downloaded), verifying every sha256',
  usage: '[--from DIR] [--dir DIR] [NAME...]',
  help: [
    'Without --from, each model is downloaded from its upstream address (https). With --from DIR, files in DIR are',
    'recognised by their sha256 whatever their names. Files are written atomically into models.dir (or --dir);',
    'a file whose hash differs from models/manifest.json is refused. Models already installed and verified are kept.',
    'Models Pinhole ships itself (conversions with no upstream ONNX address: expression, descriptor, person mask,',
    'pose) are used from the app folder when models.dir has no copy; they count as installed.',
  ].join('\n'),
  options: { from: { type: 'string' }, dir: { type: 'string' } },
  allowPositionals: true,
  async run({ values, positionals }, ctx) {
    const manifest = await loadManifest();
    const unknown = positionals.filter((n) => !manifest.models.some((m) => m.name === n));
    if (unknown.length) throw new ValidationError(`unknown model(s): ${unknown.join(', ')} (see: pinhole models list)`);
    const dir = await cliModelsDir(ctx, values.dir);
    const from = typeof values.from === 'string' ? path.resolve(values.from) : undefined;
    ctx.out(`Installing into ${dir}${from ? ` from ${from}` : ' from upstream'}`);
    const results = await installModels({
      dir,
      manifest,
      from,
      names: positionals,
      onResult: (r) =>
        r.action === 'failed'
          ? ctx.err(`  ${r.name}: FAILED: ${r.error}`)
          : ctx.out(
              `  ${r.name}: ${r.action === 'unchanged' ? 'already installed' : r.action === 'bundled' ? `bundled with Pinhole (${r.source})` : 'installed'}`,
            ),
    });
    const failed = results.filter((r) => r.action === 'failed').length;
    ctx.out(`${results.length - failed} of ${results.length} models installed and verified (bundled ones included)`);
    return failed ? 1 : 0;
  },
};

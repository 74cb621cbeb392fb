import { cliModelsDir } from '../../models/dir.js';
import { allModelStatus, loadManifest } from '../../models/manifest.js';
import type { CliCommand } from '../types.js';

export const command: CliCommand = {
  name: 'models list',
  summary: 'List the models of the manifest with license and install state',
  usage: '[--dir DIR] [--json]',
  options: { dir: { type: 'string' }, json: { type: 'boolean' } },
  async run({ values }, ctx) {
    const manifest = await loadManifest();
    const dir = await cliModelsDir(ctx, values.dir);
    const status = await allModelStatus(dir, { verify: false }, manifest);
    const rows = manifest.models.map((m, i) => ({
      ...m,
      state: status[i].state,
      reason: status[i].reason,
      path: status[i].path,
      ...(status[i].source ? { source: status[i].source } : {}),
    }));
    if (values.json) {
      ctx.out(JSON.stringify({ dir, models: rows }));
      return 0;
    }
    const w = Math.max(...rows.map((r) => r.name.length));
    ctx.out(`Models in ${dir}:`);
    for (const r of rows) {
      ctx.out(
        `  ${r.name.padEnd(w)}  ${r.kind.padEnd(15)}  ${(r.size / 1024).toFixed(0).padStart(5)} kB  ${r.license.split(';')[0].padEnd(24)}  ${r.state}${r.source === 'bundled' ? ' (bundled)' : ''}`,
      );
    }
    return 0;
  },
};

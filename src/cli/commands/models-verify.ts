import { cliModelsDir } from '../../models/dir.js';
import { allModelStatus } from '../../models/manifest.js';
import type { CliCommand } from '../types.js';

export const command: CliCommand = {
  name: 'models verify',
  summary: 'Check every installed model against the sha256 in the manifest',
  usage: '[--dir DIR] [--json]',
  options: { dir: { type: 'string' }, json: { type: 'boolean' } },
  async run({ values }, ctx) {
    const dir = await cliModelsDir(ctx, values.dir);
    const status = await allModelStatus(dir, { verify: true });
    if (values.json) {
      ctx.out(JSON.stringify({ dir, models: status }));
    } else {
      for (const s of status)
        (s.state === 'verified' ? ctx.out : ctx.err)(
          `${s.state.padEnd(8)}  ${s.name}${s.reason ? `: ${s.reason}` : ''}`,
        );
    }
    return status.every((s) => s.state === 'verified') ? 0 : 1;
  },
};

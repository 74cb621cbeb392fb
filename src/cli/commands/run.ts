import { runDaemon } from '../../daemon.js';
import { version } from '../version.js';
import type { CliCommand } from '../types.js';

export const command: CliCommand = {
  name: 'run',
  summary: 'Run the daemon (systemd runs this; `npm start` runs it with the simulator)',
  usage: '[--config FILE] [--dev]',
  options: { dev: { type: 'boolean' } },
  async run({ values }, ctx) {
    await runDaemon({ configFlag: ctx.configFlag, version: version(), dev: Boolean(values.dev) || process.env.PINHOLE_DEV === '1' });
    return -1; // keep running until a signal
  },
};

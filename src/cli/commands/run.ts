import { runDaemon } from '../../daemon.js';
import { errorMessage } from '../../util/errors.js';
import type { CliCommand } from '../types.js';
import { version } from '../version.js';

export const command: CliCommand = {
  name: 'run',
  summary: 'Run the daemon (systemd runs this; `npm start` runs it with the simulator)',
  usage: '[--config FILE] [--dev]',
  options: { dev: { type: 'boolean' } },
  async run({ values }, ctx) {
    try {
      await runDaemon({
        configFlag: ctx.configFlag,
        version: version(),
        dev: Boolean(values.dev) || process.env.PINHOLE_DEV === '1',
      });
    } catch (e) {
      ctx.err(`pinhole run: cannot start: ${errorMessage(e)}`);
      return 1;
    }
    return -1; // keep running until a signal
  },
};

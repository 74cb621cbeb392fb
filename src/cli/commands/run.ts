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
      // Loaded here, not at the top: the daemon pulls in the whole app (sharp, express, the web routes, sync...),
      // which every other `pinhole` command would otherwise load too (~1 s of CPU per call on this machine).
      const { runDaemon } = await import('../../daemon.js');
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

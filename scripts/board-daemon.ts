/**
 * The daemon as if it ran on another board: `node dist/scripts/board-daemon.js MODEL_FILE MEMINFO_FILE --config FILE`
 * reads the device-tree model and meminfo from the given files instead of /proc, so the board profile (threads,
 * caches, preview size of a 512 MB Zero 2 W ...) applies on this machine. The bench measures memory this way.
 */
import { version } from '../src/cli/version.js';
import { runDaemon } from '../src/daemon.js';

const [model, meminfo, flag, configFlag] = process.argv.slice(2);
if (!model || !meminfo || flag !== '--config' || !configFlag) {
  process.stderr.write('usage: board-daemon MODEL_FILE MEMINFO_FILE --config FILE\n');
  process.exit(2);
}
await runDaemon({ configFlag, version: version(), dev: false, boardPaths: { model, meminfo } });

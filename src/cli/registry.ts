import { checkCommand as configCheck, initCommand as configInit, showCommand as configShow } from './commands/config.js';
import { command as doctor } from './commands/doctor.js';
import { command as run } from './commands/run.js';
import { command as status } from './commands/status.js';
import type { CliCommand } from './types.js';

/** Every `pinhole` sub-command. One import and one entry per command file in ./commands. */
export const commands: CliCommand[] = [run, status, configCheck, configShow, configInit, doctor];

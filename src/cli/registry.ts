import type { CliCommand } from './types.js';

/** Every `pinhole` sub-command. One import and one entry per command file in ./commands. */
export const commands: CliCommand[] = [];

import path from 'node:path';
import { resolveCliConfig } from '../cli/config.js';
import type { CliContext } from '../cli/types.js';

/** The models folder for a CLI command: `--dir` when given, else `models.dir` from the config. */
export async function cliModelsDir(ctx: CliContext, dirFlag: unknown): Promise<string> {
  if (typeof dirFlag === 'string' && dirFlag.length > 0) return path.resolve(dirFlag);
  return (await resolveCliConfig(ctx)).config.models.dir;
}

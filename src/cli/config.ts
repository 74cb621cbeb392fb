import { defaultConfig, loadConfigFile } from '../config/load.js';
import { locateConfig } from '../config/locate.js';
import type { PinholeConfig } from '../config/schema.js';
import type { CliContext } from './types.js';

export interface CliConfig {
  /** The file that was used (or would be used, when none exists). */
  file: string;
  exists: boolean;
  config: PinholeConfig;
}

/**
 * The config a CLI command works with: found by the lookup order (--config, $PINHOLE_CONFIG, /etc, .dev). A missing
 * file means all defaults; an invalid one throws a ConfigError listing every error.
 */
export async function resolveCliConfig(ctx: CliContext): Promise<CliConfig> {
  const loc = locateConfig(ctx.configFlag);
  if (!loc.exists) {
    if (loc.source === 'flag' || loc.source === 'env') {
      // Named explicitly but absent: that is an error, not "use defaults".
      await loadConfigFile(loc.file);
    }
    return { file: loc.file, exists: false, config: defaultConfig() };
  }
  const loaded = await loadConfigFile(loc.file);
  return { file: loc.file, exists: true, config: loaded.config };
}

import { defaultConfig, lenientConfig, loadConfigFile } from '../config/load.js';
import { locateConfig } from '../config/locate.js';
import type { PinholeConfig } from '../config/schema.js';
import { ConfigError } from '../util/errors.js';
import type { CliContext } from './types.js';

export interface CliConfig {
  /** The file that was used (or would be used, when none exists). */
  file: string;
  exists: boolean;
  config: PinholeConfig;
  /** Errors of an invalid file that was read leniently. */
  errors: string[];
}

/**
 * The config a CLI command works with: found by the lookup order (--config, $PINHOLE_CONFIG, /etc, .dev). A missing
 * file means all defaults. An invalid file is an error with `strict`; otherwise (the default) a warning, and the
 * few keys a command needs to find the daemon and its files (dataDir, control.socket, models.dir) are taken from
 * the file when they are usable — so `pinhole status` still reaches a daemon whose config was broken by an edit.
 */
export async function resolveCliConfig(ctx: CliContext, opts: { strict?: boolean } = {}): Promise<CliConfig> {
  const loc = locateConfig(ctx.configFlag);
  if (!loc.exists) {
    if (loc.source === 'flag' || loc.source === 'env') {
      // Named explicitly but absent: that is an error, not "use defaults".
      await loadConfigFile(loc.file);
    }
    return { file: loc.file, exists: false, config: defaultConfig(), errors: [] };
  }
  try {
    const loaded = await loadConfigFile(loc.file);
    return { file: loc.file, exists: true, config: loaded.config, errors: [] };
  } catch (e) {
    if (opts.strict || !(e instanceof ConfigError)) throw e;
    ctx.err(
      `warning: ${loc.file} has ${e.errors.length} error(s) (see \`pinhole config check\`); using defaults for what cannot be read`,
    );
    return { file: loc.file, exists: true, config: await lenientConfig(loc.file), errors: e.errors };
  }
}

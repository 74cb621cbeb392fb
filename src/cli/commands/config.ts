import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { exampleConfigText } from '../../config/example.js';
import { loadConfigFile } from '../../config/load.js';
import { locateConfig } from '../../config/locate.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { ConfigError, ValidationError } from '../../util/errors.js';
import { resolveCliConfig } from '../config.js';
import type { CliCommand } from '../types.js';

export const checkCommand: CliCommand = {
  name: 'config check',
  summary: 'Validate a config file: `ok`, or every error as `<key.path>: <message> (line N)`',
  usage: '[--config FILE]',
  async run(_args, ctx) {
    const loc = locateConfig(ctx.configFlag);
    try {
      await loadConfigFile(loc.file);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      for (const line of e.errors) ctx.out(line);
      return 1;
    }
    ctx.out('ok');
    return 0;
  },
};

export const showCommand: CliCommand = {
  name: 'config show',
  summary: 'Print the effective config with every default filled in',
  usage: '[--config FILE] [--json]',
  options: { json: { type: 'boolean' } },
  async run({ values }, ctx) {
    const { file, exists, config } = await resolveCliConfig(ctx, { strict: true });
    if (values.json) {
      ctx.out(JSON.stringify(config, null, 2));
      return 0;
    }
    ctx.out(`# effective config (${exists ? file : `no file at ${file}: all defaults`})`);
    ctx.out(stringify(config).trimEnd());
    return 0;
  },
};

export const initCommand: CliCommand = {
  name: 'config init',
  summary: 'Write a commented example config (never overwrites an existing file)',
  usage: '[--config FILE] [--stdout]',
  options: { stdout: { type: 'boolean' } },
  async run({ values }, ctx) {
    const text = exampleConfigText();
    if (values.stdout) {
      ctx.out(text.trimEnd());
      return 0;
    }
    const file = ctx.configFlag ? path.resolve(ctx.configFlag) : locateConfig(undefined).file;
    if (existsSync(file))
      throw new ValidationError(
        `${file} already exists; not overwriting it (use --stdout to see the example)`,
        undefined,
        'exists',
      );
    await fs.mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, text, { exclusive: true });
    ctx.out(`wrote ${file}`);
    return 0;
  },
};

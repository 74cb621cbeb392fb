import { defaultConfig, loadConfigFile } from '../../config/load.js';
import { type ConfigLocation, locateConfig } from '../../config/locate.js';
import type { PinholeConfig } from '../../config/schema.js';
import { formatReport, runDoctor } from '../../doctor/run.js';
import { realSystem } from '../../doctor/system.js';
import type { CheckResult } from '../../doctor/types.js';
import { ConfigError, errorMessage } from '../../util/errors.js';
import type { CliCommand } from '../types.js';

/** Loads the config for the doctor: a broken config is a finding, not a reason to stop checking. */
async function configForDoctor(flag?: string): Promise<{ config: PinholeConfig; check: CheckResult }> {
  const loc: ConfigLocation = locateConfig(flag);
  const base = { id: 'config', title: 'Config' };
  if (!loc.exists) {
    const named = loc.source === 'flag' || loc.source === 'env';
    return {
      config: defaultConfig(),
      check: {
        ...base,
        status: named ? 'fail' : 'warn',
        message: `${loc.file} not found; checking with defaults`,
        fix: 'sudo pinhole config init',
      },
    };
  }
  try {
    const loaded = await loadConfigFile(loc.file);
    return { config: loaded.config, check: { ...base, status: 'ok', message: `${loc.file} is valid` } };
  } catch (e) {
    const errors = e instanceof ConfigError ? e.errors : [errorMessage(e)];
    return {
      config: defaultConfig(),
      check: {
        ...base,
        status: 'fail',
        message: `${loc.file} is invalid (${errors.length} error(s)): ${errors.slice(0, 3).join('; ')}; checking with defaults`,
        fix: `pinhole config check --config ${loc.file}`,
        details: { errors },
      },
    };
  }
}

export const command: CliCommand = {
  name: 'doctor',
  summary:
    'Check camera, GPIO, groups, models, OS, disk, memory, temperature, power and clock, with a fix for each problem',
  usage: '[--json]',
  help: 'Exit status 0 when no check fails (warnings allowed), 1 otherwise. Off a Raspberry Pi the Pi-only checks are skipped.',
  options: { json: { type: 'boolean' } },
  async run({ values }, ctx) {
    const { config, check } = await configForDoctor(ctx.configFlag);
    const report = await runDoctor({ sys: realSystem(), config, configCheck: check });
    if (values.json) ctx.out(JSON.stringify(report, null, 2));
    else for (const line of formatReport(report)) ctx.out(line);
    return report.ok ? 0 : 1;
  },
};

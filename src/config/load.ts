import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError } from '../util/errors.js';
import type { PinholeConfig } from './schema.js';
import { validateConfigText } from './validate.js';

export interface LoadedConfig {
  file: string;
  config: PinholeConfig;
  text: string;
}

/** Reads and validates a config file; relative paths inside it are resolved against the file's folder. */
export async function loadConfigFile(file: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new ConfigError([`(file): cannot read ${file}: ${why}`], file);
  }
  const result = validateConfigText(text);
  if (!result.config) throw new ConfigError(result.errors, file);
  return { file, config: resolvePaths(result.config, path.dirname(file)), text };
}

export function defaultConfig(): PinholeConfig {
  const result = validateConfigText('');
  if (!result.config) throw new Error(`schema defaults are invalid: ${result.errors.join('; ')}`);
  return result.config;
}

/** Paths in the file may be relative to the file (handy for `.dev/config.yaml`). */
export function resolvePaths(cfg: PinholeConfig, baseDir: string): PinholeConfig {
  const abs = (p: string) => (path.isAbsolute(p) ? p : path.resolve(baseDir, p));
  return {
    ...cfg,
    dataDir: abs(cfg.dataDir),
    control: { ...cfg.control, socket: abs(cfg.control.socket) },
    models: { ...cfg.models, dir: abs(cfg.models.dir) },
    gpio: { ...cfg.gpio, sysfsRoot: abs(cfg.gpio.sysfsRoot) },
    camera: {
      ...cfg.camera,
      sim: { ...cfg.camera.sim, images: cfg.camera.sim.images === null ? null : abs(cfg.camera.sim.images) },
    },
  };
}

/**
 * Defaults plus the few keys needed to find the daemon's files (dataDir, control.socket, models.dir), read from a
 * file that is invalid — even one with YAML syntax errors, as far as the parser got.
 */
export async function lenientConfig(file: string): Promise<PinholeConfig> {
  const cfg = defaultConfig();
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(await fs.readFile(file, 'utf8'));
  } catch {
    return cfg;
  }
  const base = path.dirname(file);
  const str = (keys: string[]) => {
    try {
      const v = doc.getIn(keys);
      return typeof v === 'string' && v.length > 0 ? path.resolve(base, v) : undefined;
    } catch {
      return undefined;
    }
  };
  cfg.dataDir = str(['dataDir']) ?? cfg.dataDir;
  cfg.control.socket = str(['control', 'socket']) ?? cfg.control.socket;
  cfg.models.dir = str(['models', 'dir']) ?? cfg.models.dir;
  return cfg;
}

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SYSTEM_CONFIG = '/etc/pinhole/config.yaml';

/** The repository (or install) root: two levels above dist/src/config, or src/config when run from source. */
export function appRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}

export function devConfigPath(): string {
  return path.join(appRoot(), '.dev', 'config.yaml');
}

export interface ConfigLocation {
  file: string;
  source: 'flag' | 'env' | 'system' | 'dev' | 'default';
  exists: boolean;
}

/**
 * Lookup order: --config FILE, $PINHOLE_CONFIG, /etc/pinhole/config.yaml, then .dev/config.yaml in the repo
 * (what `npm start` uses). When none exists the system path is returned so error messages name it.
 */
export function locateConfig(flag?: string, env: NodeJS.ProcessEnv = process.env): ConfigLocation {
  if (flag) return { file: path.resolve(flag), source: 'flag', exists: existsSync(flag) };
  if (env.PINHOLE_CONFIG)
    return { file: path.resolve(env.PINHOLE_CONFIG), source: 'env', exists: existsSync(env.PINHOLE_CONFIG) };
  if (existsSync(SYSTEM_CONFIG)) return { file: SYSTEM_CONFIG, source: 'system', exists: true };
  const dev = devConfigPath();
  if (existsSync(dev)) return { file: dev, source: 'dev', exists: true };
  return { file: SYSTEM_CONFIG, source: 'default', exists: false };
}

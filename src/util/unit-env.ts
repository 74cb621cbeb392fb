import { readFileSync } from 'node:fs';
import path from 'node:path';
import { appRoot } from '../config/locate.js';

/**
 * The glibc malloc tuning that systemd/pinhole.service gives the daemon. Benchmarks and tests that start a daemon
 * "as systemd runs it" take it from here, so what they measure is what the unit ships: they used to carry their own
 * copies of it, which would have gone on measuring the old values after a change to the unit.
 */
export function unitMallocEnv(unitFile = path.join(appRoot(), 'systemd', 'pinhole.service')): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(unitFile, 'utf8').split('\n')) {
    const m = /^Environment=(.*)$/.exec(line.trim());
    // systemd allows several space-separated assignments on one line; the unit has no quoted values
    for (const assignment of m?.[1].split(/\s+/) ?? []) {
      const eq = assignment.indexOf('=');
      const key = assignment.slice(0, eq);
      if (eq > 0 && key.startsWith('MALLOC_')) env[key] = assignment.slice(eq + 1);
    }
  }
  if (!env.MALLOC_MMAP_THRESHOLD_) throw new Error(`${unitFile}: no Environment=MALLOC_MMAP_THRESHOLD_ line`);
  return env;
}

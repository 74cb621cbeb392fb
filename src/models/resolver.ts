import { promises as fs } from 'node:fs';
import path from 'node:path';
import { UnavailableError } from '../util/errors.js';
import { findModel, loadManifest, modelStatus } from './manifest.js';

/** Resolves a model name to a verified file path, or throws UnavailableError saying why. */
export type ModelResolver = (name: string) => Promise<string>;

/**
 * Models by manifest name in `dir`, hash-checked against models/manifest.json once per (size, mtime): a truncated
 * or wrong file makes what needs it unavailable instead of crashing a job halfway.
 */
export function dirResolver(dir: string): ModelResolver {
  const verified = new Map<string, string>();
  return async (name) => {
    const entry = findModel(await loadManifest(), name);
    if (!entry) throw new UnavailableError(`unknown model ${name}`, 'model-unavailable');
    const file = path.join(dir, entry.file);
    const st = await fs.stat(file).catch(() => undefined);
    const key = st ? `${st.size}:${st.mtimeMs}` : '';
    if (st && verified.get(file) === key) return file;
    const status = await modelStatus(entry, dir, { verify: true });
    if (status.state !== 'verified')
      throw new UnavailableError(
        `model ${name}: ${status.reason ?? status.state}`,
        status.state === 'missing' ? 'model-missing' : 'model-corrupt',
      );
    verified.set(file, key);
    return file;
  };
}

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { UnavailableError } from '../util/errors.js';
import { bundledPath, findModel, loadManifest, modelStatus } from './manifest.js';

/** Resolves a model name to a verified file path, or throws UnavailableError saying why. */
export type ModelResolver = (name: string) => Promise<string>;

/**
 * Models by manifest name in `dir`, hash-checked against models/manifest.json once per (size, mtime): a truncated
 * or wrong file makes what needs it unavailable instead of crashing a job halfway.
 */
export function dirResolver(dir: string): ModelResolver {
  // file → size:mtime when it was verified; a bundled model is found where it ships when models.dir has no copy
  const verified = new Map<string, string>();
  const stamp = async (file: string) => {
    const st = await fs.stat(file).catch(() => undefined);
    return st ? `${st.size}:${st.mtimeMs}` : undefined;
  };
  return async (name) => {
    const entry = findModel(await loadManifest(), name);
    if (!entry) throw new UnavailableError(`unknown model ${name}`, 'model-unavailable');
    const own = bundledPath(entry);
    for (const file of [path.join(dir, entry.file), ...(own ? [own] : [])]) {
      const key = await stamp(file);
      if (key !== undefined) {
        if (verified.get(file) === key) return file;
        break;
      }
    }
    const status = await modelStatus(entry, dir, { verify: true });
    if (status.state !== 'verified')
      throw new UnavailableError(
        `model ${name}: ${status.reason ?? status.state}`,
        status.state === 'missing' ? 'model-missing' : 'model-corrupt',
      );
    const key = await stamp(status.path);
    if (key) verified.set(status.path, key);
    return status.path;
  };
}

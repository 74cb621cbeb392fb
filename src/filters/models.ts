import { promises as fs } from 'node:fs';
import path from 'node:path';
import { findModel, loadManifest, modelStatus } from '../models/manifest.js';
import { UnavailableError } from '../util/errors.js';
import { LazySession, type SessionOptions } from '../vision/onnx.js';
import type { ModelProvider } from './types.js';

/** Resolves a model name to a verified file path, or throws UnavailableError saying why. */
export type ModelResolver = (name: string) => Promise<string>;

/**
 * Models by manifest name in `dir`, hash-checked against models/manifest.json once per (size, mtime): a truncated
 * or wrong file makes its filter unavailable instead of crashing a job halfway.
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

/** One LazySession per model, released after `idleMs` without use. */
export class FilterModels implements ModelProvider {
  private readonly sessions = new Map<string, LazySession>();

  constructor(
    private readonly resolve: ModelResolver,
    private readonly opts: SessionOptions,
    private readonly idleMs: number,
  ) {}

  async problem(name: string): Promise<string | undefined> {
    try {
      await this.resolve(name);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  }

  async session(name: string): Promise<LazySession> {
    const file = await this.resolve(name);
    let s = this.sessions.get(file);
    if (!s) {
      s = new LazySession(file, this.opts, this.idleMs);
      this.sessions.set(file, s);
    }
    return s;
  }

  async releaseAll(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.release()));
  }
}

import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { LazySession, type SessionOptions } from '../vision/onnx.js';
import { UnavailableError } from '../util/errors.js';
import type { ModelProvider } from './types.js';

/**
 * The filter models (shared/models/MANIFEST.md). A file whose sha256 differs is refused, as the installer would:
 * a truncated download must make its filter unavailable, not crash the daemon mid-job.
 */
export const FILTER_MODELS: Record<string, { file: string; sha256: string }> = {
  IRCNN_Mx1_fp16: { file: 'IRCNN_Mx1_fp16.onnx', sha256: 'b2e726eddaee84af8911b87260bbedf0b23deb43f7790a023e6a762befb17d4b' },
  IRCNN_Lx1_fp16: { file: 'IRCNN_Lx1_fp16.onnx', sha256: 'e8062a0246ab7bce16c1d19ccd39dcf525fba5d60adf61872a669843cb5f29ee' },
  RealESR_Gx4_fp16: { file: 'RealESR_Gx4_fp16.onnx', sha256: 'eb6fb4b6f941705d3719700debaa32fe14efc2cfa4ac5dc915a772e92bae85b5' },
};

/** Resolves a model name to a verified file path, or throws UnavailableError saying why. */
export type ModelResolver = (name: string) => Promise<string>;

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Looks models up by manifest name in `dir` and checks their hash once per (size, mtime). */
export function dirResolver(dir: string): ModelResolver {
  const verified = new Map<string, string>();
  return async (name) => {
    const spec = FILTER_MODELS[name];
    if (!spec) throw new UnavailableError(`unknown model ${name}`, 'model-unavailable');
    const file = path.join(dir, spec.file);
    let st: Awaited<ReturnType<typeof fs.stat>>;
    try {
      st = await fs.stat(file);
    } catch {
      throw new UnavailableError(`model ${name} is not installed (${file} missing; run \`pinhole models install\`)`, 'model-missing');
    }
    const key = `${st.size}:${st.mtimeMs}`;
    if (verified.get(file) === key) return file;
    const got = await sha256(file);
    if (got !== spec.sha256) throw new UnavailableError(`model ${name} at ${file} has the wrong sha256 (${got.slice(0, 12)}…); reinstall it`, 'model-corrupt');
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

import type { ModelResolver } from '../models/resolver.js';
import { LazySession, type SessionOptions } from '../vision/onnx.js';
import type { ModelProvider } from './types.js';

// The resolver moved to models/ (face analysis uses it too); re-exported for the filter code and tests.
export { dirResolver, type ModelResolver } from '../models/resolver.js';

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

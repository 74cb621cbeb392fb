import { createLogger } from '../util/logger.js';
import { createSession, type ort, type SessionOptions } from '../vision/onnx.js';

const log = createLogger('analysis.sessions');

export type Priority = 'live' | 'photo' | 'background';
const RANK: Record<Priority, number> = { live: 0, photo: 1, background: 2 };

export interface SessionPoolOptions {
  session: SessionOptions;
  /** Sessions resident at once (the board profile's `vision.analysis.maxSessions`). */
  maxResident: number;
  /** Release a session this long after its last use (0: never on a timer). */
  idleMs: number;
  /** Injectable for tests. */
  load?: (modelPath: string, opts: SessionOptions) => Promise<ort.InferenceSession>;
  /** Called when the last resident session has been released (the owner frees its buffers too). */
  onEmpty?: () => void;
}

interface Entry {
  session: Promise<ort.InferenceSession>;
  lastUsed: number;
  timer?: NodeJS.Timeout;
}

interface Job {
  rank: number;
  seq: number;
  run: () => Promise<void>;
}

/**
 * The analysis models' onnxruntime sessions: loaded on first use, released after `idleMs` idle, and never more than
 * `maxResident` at once (the least recently used goes first). Jobs run one at a time — they are CPU-bound and share
 * the same cores — in priority order (live frames before photos before background back-fill), FIFO within a
 * priority, so a People back-fill never delays the smile shutter by more than the one job already running.
 */
export class SessionPool {
  private readonly entries = new Map<string, Entry>();
  private readonly queue: Job[] = [];
  private running = false;
  private seq = 0;
  private closed = false;
  /** Loads that happened (for tests and status). */
  loads = 0;

  constructor(private readonly opts: SessionPoolOptions) {}

  /** Paths of the sessions resident now. */
  resident(): string[] {
    return [...this.entries.keys()];
  }

  get maxResident(): number {
    return this.opts.maxResident;
  }

  /** Runs `fn` with the session of `modelPath` once the jobs ahead of it are done. */
  use<T>(modelPath: string, fn: (s: ort.InferenceSession) => Promise<T>, priority: Priority = 'photo'): Promise<T> {
    if (this.closed) return Promise.reject(new Error('analysis sessions closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        rank: RANK[priority],
        seq: this.seq++,
        run: async () => {
          try {
            resolve(await fn(await this.acquire(modelPath)));
          } catch (e) {
            reject(e);
          } finally {
            this.touch(modelPath);
          }
        },
      });
      this.queue.sort((a, b) => a.rank - b.rank || a.seq - b.seq);
      void this.pump();
    });
  }

  /** Jobs waiting (not counting the one running). */
  get pending(): number {
    return this.queue.length;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let job = this.queue.shift(); job; job = this.queue.shift()) await job.run();
    } finally {
      this.running = false;
    }
  }

  private async acquire(modelPath: string): Promise<ort.InferenceSession> {
    const have = this.entries.get(modelPath);
    if (have) {
      clearTimeout(have.timer);
      return have.session;
    }
    // Only one job runs at a time, so every resident session is idle here and can go.
    while (this.entries.size >= this.opts.maxResident) {
      const [lru] = [...this.entries.entries()].sort((a, b) => a[1].lastUsed - b[1].lastUsed)[0];
      log.debug('evicting (session cap)', { model: lru, cap: this.opts.maxResident });
      await this.releaseOne(lru);
    }
    this.loads++;
    log.debug('loading', { model: modelPath });
    const session = (this.opts.load ?? createSession)(modelPath, this.opts.session);
    const entry: Entry = { session, lastUsed: performance.now() };
    this.entries.set(modelPath, entry);
    try {
      return await session;
    } catch (e) {
      this.entries.delete(modelPath);
      throw e;
    }
  }

  private touch(modelPath: string): void {
    const e = this.entries.get(modelPath);
    if (!e) return;
    e.lastUsed = performance.now();
    clearTimeout(e.timer);
    if (this.opts.idleMs > 0) {
      e.timer = setTimeout(() => {
        // a job using it may be queued right now: release only when no job runs (the next acquire reloads it)
        if (!this.running) void this.releaseOne(modelPath);
        else this.touch(modelPath);
      }, this.opts.idleMs);
      e.timer.unref();
    }
  }

  private async releaseOne(modelPath: string): Promise<void> {
    const e = this.entries.get(modelPath);
    if (!e) return;
    this.entries.delete(modelPath);
    clearTimeout(e.timer);
    try {
      await (await e.session).release();
      log.debug('released', { model: modelPath });
    } catch {
      // a session that failed to load has nothing to release
    }
    if (this.entries.size === 0) this.opts.onEmpty?.();
  }

  /** Releases every session as soon as the job running now is done (jobs queued later load theirs again). */
  releaseAll(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.queue.unshift({
        rank: -1,
        seq: this.seq++,
        run: async () => {
          await Promise.all(this.resident().map((p) => this.releaseOne(p)));
          resolve();
        },
      });
      void this.pump();
    });
  }

  /** Refuses new jobs, lets the queued ones finish, releases everything. */
  async close(): Promise<void> {
    this.closed = true;
    await this.releaseAll();
    while (this.running || this.queue.length) await new Promise((r) => setTimeout(r, 5));
    await Promise.all(this.resident().map((p) => this.releaseOne(p)));
  }
}

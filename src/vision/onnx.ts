import * as ort from 'onnxruntime-node';
import type { VisionConfig } from '../config/sections/vision.js';
import { UnavailableError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';

const log = createLogger('vision.onnx');

export type SessionOptions = Pick<VisionConfig, 'threads' | 'optimization' | 'memArena'> & {
  /**
   * Let idle intra-/inter-op threads spin-wait for work (onnxruntime's default). Off unless a benchmark in the same
   * run shows a job faster with it while nothing else runs: see `noSpinning`.
   */
  allowSpinning?: boolean;
};

/**
 * onnxruntime's thread pools spin-wait between parallel sections and after each run by default. Live detection runs
 * a few times a second, so the spinning threads burned more CPU than the inference itself (measured: 47 vs 12 ms of
 * process CPU per 640×480 YuNet run with 2 threads, 4 runs/s); on a Pi that is the preview's and the shutter's CPU.
 * onnxruntime-node 1.30 flattens `extra` into session config entries (`session.intra_op.allow_spinning` = "0").
 */
export const noSpinning = {
  session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } },
} as const;

/**
 * Without the CPU arena every inference mallocs and frees its activation buffers (MBs each). glibc's dynamic mmap
 * threshold then moves those into the heap, which fragments: measured here, RSS grew by 300 MB over 150 YuNet runs
 * at 640×480. With MALLOC_MMAP_THRESHOLD_ set (the systemd unit sets it) large blocks stay mmapped and go back to
 * the OS after each run, which is the smallest steady RSS; without it the arena (bounded by the largest input) is
 * the safe choice, so `memArena: false` only takes effect when the variable is set.
 */
export function arenaEnabled(memArena: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  return memArena || !env.MALLOC_MMAP_THRESHOLD_;
}

/** Session options that matter on a Pi (PLATFORM.md): few threads, sequential, arena off on small boards. */
export function ortOptions(opts: SessionOptions): ort.InferenceSession.SessionOptions {
  const arena = arenaEnabled(opts.memArena);
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: opts.optimization,
    enableCpuMemArena: arena,
    enableMemPattern: arena,
    ...(opts.allowSpinning ? {} : { extra: noSpinning }),
  };
}

export async function createSession(modelPath: string, opts: SessionOptions): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(modelPath, ortOptions(opts));
  } catch (e) {
    throw new UnavailableError(`cannot load model ${modelPath}: ${(e as Error).message}`, 'model-unavailable', e);
  }
}

/**
 * A session loaded on first use and released after `idleMs` without use, so a filter model that ran once does not
 * keep tens of MB on a 512 MB board. Concurrent acquirers share one load; release waits for runs in flight.
 */
export class LazySession {
  private session?: Promise<ort.InferenceSession>;
  private inFlight = 0;
  private idleTimer?: NodeJS.Timeout;

  constructor(
    private readonly modelPath: string,
    private readonly opts: SessionOptions,
    private readonly idleMs: number,
  ) {}

  get loaded(): boolean {
    return this.session !== undefined;
  }

  async run<T>(fn: (s: ort.InferenceSession) => Promise<T>): Promise<T> {
    clearTimeout(this.idleTimer);
    this.inFlight++;
    try {
      if (!this.session) {
        log.debug('loading', { model: this.modelPath });
        this.session = createSession(this.modelPath, this.opts);
        this.session.catch(() => {
          this.session = undefined;
        });
      }
      return await fn(await this.session);
    } finally {
      this.inFlight--;
      if (this.inFlight === 0 && this.idleMs > 0) {
        this.idleTimer = setTimeout(() => void this.release(), this.idleMs);
        this.idleTimer.unref();
      }
    }
  }

  async release(): Promise<void> {
    clearTimeout(this.idleTimer);
    if (this.inFlight > 0 || !this.session) return;
    const s = this.session;
    this.session = undefined;
    try {
      await (await s).release();
      log.debug('released', { model: this.modelPath });
    } catch {
      // a session that failed to load has nothing to release
    }
  }
}

export { ort };

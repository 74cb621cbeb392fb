import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker as Thread } from 'node:worker_threads';
import { appRoot } from '../../config/locate.js';
import type { PinholeConfig } from '../../config/schema.js';
import { childEnv } from '../../util/child-env.js';
import { errorMessage, PinholeError, UnavailableError } from '../../util/errors.js';
import { createLogger } from '../../util/logger.js';
import { lowerAfterSpawn, type Priority, prioritized } from '../../util/low-priority.js';
import type { JobOutcome, JobRunner, JobRunOptions, JobSpec } from '../job-runner.js';
import type { FaceFinder } from '../types.js';
import type { FromWorker, ToWorker, WireError } from './protocol.js';

const log = createLogger('filters.worker');

export interface ChildRunnerOptions {
  config: PinholeConfig;
  /** Intermediate files of the jobs (same disk as the gallery). */
  workDir: string;
  /** The daemon's face finder, lent to face-aware filters in the worker. */
  faces?: FaceFinder;
  /** Default `jobs` (nice 19). */
  priority?: Priority;
  /**
   * `process` (default): a child process. `thread`: a worker thread of the daemon at the same nice value, kept for
   * the priority benchmark (it shares the daemon's heap, libuv pool and malloc tuning, and SCHED_IDLE is per
   * process, so `idle` is nice 19 there).
   */
  isolation?: 'process' | 'thread';
  /** The worker exits after this long without a job, giving all its memory back (filters.idleReleaseSeconds). */
  idleExitMs: number;
  /** Base environment (default: the daemon's). */
  env?: NodeJS.ProcessEnv;
  /** A job that ignores its cancellation this long gets its worker killed. */
  cancelGraceMs?: number;
}

interface Pending {
  resolve: (o: JobOutcome) => void;
  reject: (e: Error) => void;
  onProgress: (f: number) => void;
}

/** How the runner talks to its worker, whether a process or a thread. */
interface Channel {
  pid?: number;
  via: string;
  connected(): boolean;
  send(m: ToWorker): void;
  onMessage(cb: (m: FromWorker) => void): void;
  /** Resolves with how it ended (`exit status 0`, `killed by SIGKILL`) and whether that was a failure. */
  ended: Promise<{ why: string; failed: boolean }>;
  /** Asks it to finish (abort running jobs, release sessions, exit). */
  close(): void;
  kill(): void;
}

interface Worker {
  ch: Channel;
  ready: Promise<void>;
  exited: Promise<void>;
  pid?: number;
}

/**
 * glibc tuning for the worker itself (the daemon's own is never passed on, see util/child-env.ts): freed tiles and
 * tensors go straight back to the OS, which is what keeps a 12 MP denoise under 256 MB (the same values as the
 * `pinhole filter` command).
 */
const WORKER_MALLOC = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '65536' };

function workerEntry(): string {
  const beside = fileURLToPath(new URL('./main.js', import.meta.url));
  if (existsSync(beside)) return beside;
  // running from the TypeScript sources (tests): the built worker
  return path.join(appRoot(), 'dist', 'src', 'filters', 'worker', 'main.js');
}

function fromWire(e: WireError): Error {
  if (e.code && e.status) return new PinholeError(e.message, { code: e.code, status: e.status });
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

/**
 * Runs filter jobs in a child process started at low CPU priority: its own event loop, libuv pool, onnxruntime
 * threads and heap. onnxruntime-node runs inference synchronously on the calling thread (a 256-pixel denoise tile is
 * seconds on a Pi), and its intra-op threads and libvips' would otherwise compete at the daemon's priority with the
 * camera, the preview and the shutter. The worker starts on the first job and exits when idle.
 */
export class ChildJobRunner implements JobRunner {
  private worker?: Worker;
  private readonly pending = new Map<string, Pending>();
  private idleTimer?: NodeJS.Timeout;
  private closed = false;
  private readonly priority: Priority;
  private starts = 0;

  constructor(private readonly opts: ChildRunnerOptions) {
    this.priority = opts.priority ?? 'jobs';
  }

  describe(): Record<string, unknown> {
    return {
      mode: 'worker-process',
      priority: this.priority,
      ...(this.worker?.pid ? { pid: this.worker.pid } : {}),
      starts: this.starts,
    };
  }

  /** The worker's pid while it runs (tests, the bench). */
  get pid(): number | undefined {
    return this.worker?.pid;
  }

  async run(spec: JobSpec, opts: JobRunOptions): Promise<JobOutcome> {
    const abortReason = () => (opts.signal.reason instanceof Error ? opts.signal.reason : new Error('cancelled'));
    if (this.closed) throw new UnavailableError('the filter worker is shut down', 'filters-stopped');
    if (opts.signal.aborted) throw abortReason();
    clearTimeout(this.idleTimer);
    const w = this.ensureWorker();
    await w.ready;
    // cancelled (or shut down) while the worker was starting
    if (opts.signal.aborted) {
      this.scheduleIdleExit();
      throw abortReason();
    }
    return new Promise<JobOutcome>((resolve, reject) => {
      if (this.worker !== w || !w.ch.connected()) {
        reject(new UnavailableError('the filter worker stopped before the job started', 'filters-worker'));
        return;
      }
      let killTimer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        const reason = opts.signal.reason instanceof Error ? opts.signal.reason.message : 'cancelled';
        this.post(w, { t: 'cancel', id: spec.id, reason });
        // A job deaf to its cancellation (a model run cannot be interrupted) must not hold the queue: kill it.
        killTimer = setTimeout(() => {
          log.warn('filter job ignored its cancellation, killing the worker', { job: spec.id });
          w.ch.kill();
        }, this.opts.cancelGraceMs ?? 10_000);
      };
      const settle = () => {
        clearTimeout(killTimer);
        opts.signal.removeEventListener('abort', onAbort);
        this.pending.delete(spec.id);
        this.scheduleIdleExit();
      };
      this.pending.set(spec.id, {
        resolve: (o) => {
          settle();
          resolve(o);
        },
        reject: (e) => {
          settle();
          reject(opts.signal.aborted && opts.signal.reason instanceof Error ? opts.signal.reason : e);
        },
        onProgress: opts.onProgress,
      });
      opts.signal.addEventListener('abort', onAbort, { once: true });
      this.post(w, { t: 'run', job: spec });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleTimer);
    await this.stopWorker();
  }

  private scheduleIdleExit(): void {
    clearTimeout(this.idleTimer);
    // 0 keeps the worker (and its sessions) for good, like filters.idleReleaseSeconds: 0 does for sessions
    if (this.pending.size || !this.worker || this.opts.idleExitMs <= 0) return;
    this.idleTimer = setTimeout(() => {
      if (this.pending.size === 0) void this.stopWorker();
    }, this.opts.idleExitMs);
    this.idleTimer.unref();
  }

  private post(w: Worker, m: ToWorker): void {
    if (w.ch.connected()) w.ch.send(m);
  }

  private processChannel(): Channel {
    const entry = workerEntry();
    const env = childEnv(this.opts.env ?? process.env, WORKER_MALLOC);
    const cmd = prioritized(process.execPath, [entry], this.priority, env);
    const proc = spawn(cmd.command, cmd.args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
    if (cmd.via === 'setpriority') lowerAfterSpawn(proc.pid, this.priority);
    const ended = new Promise<{ why: string; failed: boolean }>((resolve) => {
      proc.once('exit', (code, signal) =>
        resolve({ why: signal ? `killed by ${signal}` : `exit status ${code}`, failed: code !== 0 }),
      );
      proc.once('error', (e) => resolve({ why: `cannot start: ${e.message}`, failed: true }));
    });
    return {
      pid: proc.pid,
      via: cmd.via,
      connected: () => proc.connected,
      send: (m) => proc.send(m),
      onMessage: (cb) => proc.on('message', cb),
      ended,
      close: () => {
        if (proc.connected) proc.disconnect();
      },
      kill: () => proc.kill('SIGKILL'),
    };
  }

  private threadChannel(): Channel {
    const level = this.priority === 'idle' ? 'jobs' : this.priority;
    const t = new Thread(workerEntry(), { workerData: { priority: level } });
    let open = true;
    const ended = new Promise<{ why: string; failed: boolean }>((resolve) => {
      t.once('exit', (code) => {
        open = false;
        resolve({ why: `thread exit ${code}`, failed: code !== 0 });
      });
      t.once('error', (e) => {
        open = false;
        resolve({ why: `thread error: ${e.message}`, failed: true });
      });
    });
    return {
      pid: process.pid,
      via: 'thread',
      connected: () => open,
      send: (m) => t.postMessage(m),
      onMessage: (cb) => t.on('message', cb),
      ended,
      close: () => t.postMessage({ t: 'close' } satisfies ToWorker),
      kill: () => void t.terminate(),
    };
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const ch = this.opts.isolation === 'thread' ? this.threadChannel() : this.processChannel();
    this.starts++;
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    ready.catch(() => {});
    const exited = ch.ended.then(({ why, failed }) => {
      readyReject(new UnavailableError(`the filter worker did not start (${why})`, 'filters-worker'));
      if (this.worker === w) this.worker = undefined;
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(new UnavailableError(`the filter worker stopped (${why}) during the job`, 'filters-worker'));
      }
      if (!this.closed && failed) log.warn('filter worker exited', { pid: ch.pid, how: why });
    });
    const w: Worker = { ch, ready, exited, pid: ch.pid };
    ch.onMessage((m) => this.onMessage(w, m, readyResolve));
    this.worker = w;
    this.post(w, { t: 'init', config: this.opts.config, workDir: this.opts.workDir });
    log.info('filter worker started', { pid: ch.pid, priority: this.priority, via: ch.via });
    return w;
  }

  private onMessage(w: Worker, m: FromWorker, ready: () => void): void {
    switch (m.t) {
      case 'ready':
        ready();
        break;
      case 'progress':
        this.pending.get(m.id)?.onProgress(m.fraction);
        break;
      case 'done':
        this.pending.get(m.id)?.resolve(m.outcome);
        break;
      case 'failed':
        this.pending.get(m.id)?.reject(fromWire(m.error));
        break;
      case 'call':
        void this.answer(w, m);
        break;
    }
  }

  private async answer(w: Worker, m: Extract<FromWorker, { t: 'call' }>): Promise<void> {
    const faces = this.opts.faces;
    try {
      if (!faces) throw new UnavailableError('face detection is off (vision.faces.enabled)', 'faces-unavailable');
      const value =
        m.method === 'faces.find' ? await faces.find(String(m.args[0])) : ((await faces.problem?.()) ?? undefined);
      this.post(w, { t: 'reply', req: m.req, value });
    } catch (e) {
      this.post(w, { t: 'reply', req: m.req, error: errorMessage(e) });
    }
  }

  private async stopWorker(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    // Closing the channel asks it to finish (it aborts running jobs, releases its sessions and exits).
    w.ch.close();
    const t = setTimeout(() => w.ch.kill(), 5000);
    await w.exited;
    clearTimeout(t);
    log.debug('filter worker stopped', { pid: w.pid });
  }
}

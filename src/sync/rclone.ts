import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isAlive } from '../hw/camera/pidfile.js';
import { killGroup } from '../hw/camera/process.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { createLogger } from '../util/logger.js';

const log = createLogger('sync.rclone');

export interface RcloneResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Objects rclone reported as copied or moved (`object` of its INFO lines). */
  transferred: Set<string>;
  /** Messages of its ERROR lines (and plain stderr lines), oldest first, bounded. */
  errors: string[];
  /** Bytes transferred according to its last stats line. */
  bytes: number;
}

export interface RcloneOptions {
  /** The rclone executable (default `rclone` on PATH). */
  command?: string;
  /** Where the running child's pid is kept, so a daemon started after a SIGKILL stops a leftover. */
  pidFile: string;
  env?: NodeJS.ProcessEnv;
  /** CPU niceness of the child (all its threads: set by `nice` before exec, see run()). */
  nice?: number;
}

const MAX_ERRORS = 20;

/**
 * One rclone process per job (copy, move, purge, lsjson), never a resident daemon: on a 512 MB board nothing of
 * rclone stays in memory while the queue is empty. Each child runs in its own process group at low CPU priority;
 * `pause()` stops it (SIGSTOP) while a capture is in flight and `resume()` continues it. rclone's JSON log
 * (`--use-json-log -v --stats`) on stderr says which files were transferred and why others failed.
 */
export class RcloneRunner {
  private child?: ChildProcess;
  private paused = false;

  constructor(private readonly opts: RcloneOptions) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Stops an rclone left running by a daemon that was killed (its pid file survived). */
  async reapLeftover(): Promise<number | undefined> {
    let pid: number;
    try {
      pid = Number((await fs.readFile(this.opts.pidFile, 'utf8')).trim());
    } catch {
      return undefined;
    }
    await fs.rm(this.opts.pidFile, { force: true });
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return undefined;
    let cmdline = '';
    try {
      cmdline = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ');
    } catch {
      return undefined;
    }
    // The pid may have been reused by something else since.
    if (!/\brclone\b/.test(cmdline)) return undefined;
    log.warn('stopping an rclone left by a previous daemon', { pid });
    killGroup(pid, 'SIGCONT');
    killGroup(pid, 'SIGKILL');
    const end = Date.now() + 3000;
    while (isAlive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
    return pid;
  }

  /** Runs a job whose stdout is the answer (`lsjson`); chunks are pushed to `out`. */
  runCapture(args: string[], out: string[]): Promise<RcloneResult> {
    return this.run(args, { stdout: out });
  }

  run(
    args: string[],
    opts: {
      onStats?: (bytes: number) => void;
      stdout?: string[];
      env?: NodeJS.ProcessEnv;
      /** Every log message (`msg` of JSON lines, or a plain line). */
      onLine?: (msg: string) => void;
    } = {},
  ): Promise<RcloneResult> {
    if (this.child) return Promise.reject(new Error('an rclone job is already running'));
    const command = this.opts.command ?? 'rclone';
    // `nice` sets the priority before exec, so every thread rclone's Go runtime starts inherits it; setpriority()
    // on the pid afterwards would only reach the main thread. I/O priority follows CPU niceness (best-effort class).
    const child = spawn('nice', ['-n', String(this.opts.nice ?? 19), command, ...args], {
      detached: true,
      stdio: ['ignore', opts.stdout ? 'pipe' : 'ignore', 'pipe'],
      env: opts.env ?? this.opts.env ?? cleanEnv(process.env),
    });
    this.child = child;
    this.paused = false;
    if (child.pid !== undefined) void lowerAutogroup(child.pid, this.opts.nice ?? 19);
    const result: RcloneResult = { code: null, signal: null, transferred: new Set(), errors: [], bytes: 0 };
    const pidWrite =
      child.pid !== undefined
        ? fs
            .mkdir(path.dirname(this.opts.pidFile), { recursive: true })
            .then(() => writeFileAtomic(this.opts.pidFile, `${child.pid}\n`))
            .catch((e: unknown) => log.warn('cannot write the rclone pid file', { error: e }))
        : Promise.resolve();
    let partial = '';
    const addError = (m: string) => {
      result.errors.push(m);
      if (result.errors.length > MAX_ERRORS) result.errors.shift();
    };
    if (opts.stdout) {
      const out = opts.stdout;
      let size = 0;
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (c: string) => {
        size += c.length;
        if (size <= 16 << 20) out.push(c);
      });
    }
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      if (partial.length > 65536) partial = partial.slice(-65536);
      for (const line of lines) {
        if (!line.trim()) continue;
        let j: { level?: string; msg?: string; object?: string; stats?: { bytes?: number } } | undefined;
        try {
          j = JSON.parse(line) as typeof j;
        } catch {
          j = undefined;
        }
        opts.onLine?.(j && typeof j === 'object' ? String(j.msg ?? '') : line);
        if (!j || typeof j !== 'object') {
          addError(line.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, '').slice(0, 500));
          continue;
        }
        const msg = String(j.msg ?? '');
        if (j.level === 'info' && j.object && /^(Copied|Moved)\b/.test(msg)) result.transferred.add(j.object);
        else if (j.level === 'error' || j.level === 'critical')
          addError(`${j.object ? `${j.object}: ` : ''}${msg}`.slice(0, 500));
        if (j.stats && typeof j.stats.bytes === 'number') {
          result.bytes = j.stats.bytes;
          opts.onStats?.(j.stats.bytes);
        }
      }
    });
    return new Promise((resolve) => {
      let settled = false;
      const settle = (code: number | null, signal: NodeJS.Signals | null) => {
        if (settled) return;
        settled = true;
        if (partial.trim()) addError(partial.slice(0, 500));
        result.code = code;
        result.signal = signal;
        this.child = undefined;
        void pidWrite.then(() => fs.rm(this.opts.pidFile, { force: true })).finally(() => resolve(result));
      };
      child.once('error', (e) => {
        addError(`cannot run ${command}: ${e.message}`);
        // A spawn failure (ENOENT) may never be followed by 'close'.
        if (child.pid === undefined) settle(127, null);
      });
      child.once('close', (code, signal) => settle(code, signal));
    });
  }

  /** SIGSTOP the running job (a capture is in flight). */
  pause(): void {
    if (!this.child?.pid || this.paused) return;
    this.paused = true;
    killGroup(this.child.pid, 'SIGSTOP');
  }

  resume(): void {
    if (!this.child?.pid || !this.paused) return;
    this.paused = false;
    killGroup(this.child.pid, 'SIGCONT');
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Ends the running job: TERM, then KILL after `graceMs`. */
  async stop(graceMs = 2000): Promise<void> {
    const c = this.child;
    if (!c?.pid) return;
    const gone = new Promise<void>((r) => c.once('close', () => r()));
    killGroup(c.pid, 'SIGCONT');
    killGroup(c.pid, 'SIGTERM');
    const t = setTimeout(() => killGroup(c.pid, 'SIGKILL'), graceMs);
    await gone;
    clearTimeout(t);
  }
}

/**
 * `detached` gives the child its own session, and with CONFIG_SCHED_AUTOGROUP (on when
 * /proc/sys/kernel/sched_autogroup_enabled is 1) its own scheduling group: the scheduler then shares the CPU between
 * groups first, and the child's nice only ranks it inside its group of one. Without this, a "nice 19" rclone gets
 * as much CPU as the whole daemon. Setting the group's nice (sched(7), /proc/PID/autogroup) puts it back behind.
 * No autogroup support (or a cgroup with the cpu controller, where autogroups do not apply): nothing to do.
 */
async function lowerAutogroup(pid: number, nice: number): Promise<void> {
  await fs.writeFile(`/proc/${pid}/autogroup`, `${nice}\n`).catch(() => {});
}

/** rclone gets the environment it needs, not the daemon's malloc tuning (Go has its own allocator). */
export function cleanEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('MALLOC_') || k === 'UV_THREADPOOL_SIZE' || k === 'VIPS_CONCURRENCY') continue;
    // A config from the owner's shell must not override sync.rcloneConfig.
    if (k.startsWith('RCLONE_')) continue;
    out[k] = v;
  }
  return out;
}

import { type ChildProcess, spawn } from 'node:child_process';
import { childEnv } from '../../util/child-env.js';
import { createLogger } from '../../util/logger.js';

const log = createLogger('camera.proc');

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The child's last stderr lines, oldest first. */
  stderr: string[];
}

export interface SpawnOptions {
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** How many stderr lines to keep for error messages. */
  stderrLines?: number;
  /** Called for every stderr line (the driver watches for "Still capture image received", frame lines). */
  onStderrLine?: (line: string) => void;
}

/**
 * One supervised child: in its own process group (so helpers it spawns die with it), stderr kept as a bounded
 * tail for error messages, stopped with TERM → wait → KILL of the whole group. Node reaps the child on exit, so
 * no zombie is left behind.
 */
export class ManagedProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitInfo>;
  readonly startedAt = Date.now();
  private readonly tail: string[] = [];
  /** The last signal stop() sent: what ended the child when we stopped it. */
  stoppedWith?: NodeJS.Signals;
  private partial = '';
  private exitInfo?: ExitInfo;

  constructor(private readonly opts: SpawnOptions) {
    const keep = opts.stderrLines ?? 20;
    this.child = spawn(opts.command, opts.args, {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      // never the daemon's malloc tuning: see util/child-env.ts
      env: childEnv(opts.env ?? process.env),
    });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      const lines = (this.partial + chunk).split('\n');
      this.partial = lines.pop() ?? '';
      // A chatty child must not grow memory: an overlong unterminated line is cut.
      if (this.partial.length > 4096) this.partial = this.partial.slice(-4096);
      for (const raw of lines) {
        const line = raw.replace(/\r$/, '');
        if (!line) continue;
        this.tail.push(line);
        if (this.tail.length > keep) this.tail.shift();
        opts.onStderrLine?.(line);
      }
    });
    this.exited = new Promise<ExitInfo>((resolve) => {
      let spawnError: Error | undefined;
      this.child.once('error', (e) => {
        spawnError = e;
        // ENOENT etc.: 'exit' may never come.
        if (this.child.pid === undefined) {
          this.tail.push(`cannot run ${opts.command}: ${e.message}`);
          this.exitInfo = { code: 127, signal: null, stderr: [...this.tail] };
          resolve(this.exitInfo);
        }
      });
      this.child.once('close', (code, signal) => {
        if (this.exitInfo) return;
        if (this.partial) this.tail.push(this.partial);
        if (spawnError) this.tail.push(spawnError.message);
        this.exitInfo = { code, signal, stderr: [...this.tail] };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  stderrTail(): string[] {
    return [...this.tail];
  }

  /** Sends a signal to the child only (SIGUSR1 capture, SIGUSR2 clean exit). */
  signal(sig: NodeJS.Signals): boolean {
    if (!this.running || this.child.pid === undefined) return false;
    try {
      process.kill(this.child.pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Stops the child: an optional polite signal first (the one the app acts on: SIGINT for rpicam-vid, SIGUSR2 for
   * rpicam-still --signal), then SIGTERM to the group, then SIGKILL to the group. Resolves when the child has been
   * reaped; `escalated` says which signal ended it.
   */
  async stop(opts: { polite?: NodeJS.Signals; graceMs?: number; termGraceMs?: number } = {}): Promise<ExitInfo> {
    const grace = opts.graceMs ?? 2000;
    if (!this.running) return this.exited;
    if (opts.polite) {
      this.stoppedWith = opts.polite;
      this.signal(opts.polite);
      if (await this.waitExit(grace)) return this.exited;
    }
    this.stoppedWith = 'SIGTERM';
    killGroup(this.child.pid, 'SIGTERM');
    if (await this.waitExit(opts.termGraceMs ?? grace)) return this.exited;
    this.stoppedWith = 'SIGKILL';
    log.warn('camera process ignored SIGTERM, killing its group', { pid: this.child.pid, command: this.opts.command });
    killGroup(this.child.pid, 'SIGKILL');
    return this.exited;
  }

  private waitExit(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      void this.exited.then(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }
}

export function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

export type ExitClass = 'busy' | 'absent' | 'nomem' | 'crashed' | 'clean';

/**
 * What an rpicam exit means, from the messages rpicam-apps print: core/rpicam_app.cpp OpenCamera ("no cameras
 * available", "failed to acquire camera"), setupCapture ("failed to allocate capture buffers for stream", after
 * core/dma_heaps.cpp "dmaHeap allocation failure for rpicam-apps<i>").
 */
export function classifyExit(info: ExitInfo): ExitClass {
  const text = info.stderr.join('\n');
  if (/failed to acquire camera|Pipeline handler in use by another process/i.test(text)) return 'busy';
  if (/no cameras available/i.test(text)) return 'absent';
  if (/failed to allocate capture buffers|dmaHeap allocation failure/i.test(text)) return 'nomem';
  if (info.code === 0 && info.signal === null) return 'clean';
  return 'crashed';
}

export function describeExit(info: ExitInfo): string {
  const how = info.signal ? `killed by ${info.signal}` : `exit status ${info.code}`;
  const tail = info.stderr.slice(-5).join(' | ');
  return tail ? `${how}: ${tail}` : how;
}

/** Capped exponential backoff; `reset()` once the camera delivers frames again. */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}

  next(): number {
    const d = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return d;
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}

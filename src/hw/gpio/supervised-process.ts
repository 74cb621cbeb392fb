import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { childEnv } from '../../util/child-env.js';
import type { Logger } from '../../util/logger.js';

export interface SupervisedOptions {
  command: string;
  args: string[];
  log: Logger;
  onLine(line: string): void;
  /** A child still running after this long counts as started; an earlier exit fails start() with its stderr. */
  graceMs?: number;
  /** Restart delays; the last one repeats. Reset after a child has run for `stableMs`. */
  backoffMs?: number[];
  stableMs?: number;
}

const STDERR_LINES = 10;

/**
 * One long-running tool (gpiomon) kept alive: restarted with backoff when it dies, its last stderr lines kept
 * and attached to the error instead of flooding the journal.
 */
export class SupervisedProcess {
  private child?: ChildProcess;
  private stopped = false;
  private attempt = 0;
  private restartTimer?: NodeJS.Timeout;
  private stderrTail: string[] = [];
  restarts = 0;
  lastError?: string;

  constructor(private readonly opts: SupervisedOptions) {}

  async start(): Promise<void> {
    const graceMs = this.opts.graceMs ?? 300;
    const child = this.spawnChild();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.off('exit', onEarlyExit);
        resolve();
      }, graceMs);
      const onEarlyExit = (code: number | null, signal: NodeJS.Signals | null) => {
        clearTimeout(timer);
        this.stopped = true;
        reject(
          new Error(
            `${this.opts.command} exited at once (${signal ?? `code ${code}`}): ${this.stderrTail.join(' | ') || 'no output'}`,
          ),
        );
      };
      child.once('exit', onEarlyExit);
      child.once('error', (e) => {
        clearTimeout(timer);
        this.stopped = true;
        reject(new Error(`cannot run ${this.opts.command}: ${e.message}`));
      });
    });
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  private spawnChild(): ChildProcess {
    this.stderrTail = [];
    const child = spawn(this.opts.command, this.opts.args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
    this.child = child;
    const startedAt = Date.now();
    createInterface({ input: child.stdout! }).on('line', (l) => this.opts.onLine(l));
    createInterface({ input: child.stderr! }).on('line', (l) => {
      this.stderrTail.push(l);
      if (this.stderrTail.length > STDERR_LINES) this.stderrTail.shift();
    });
    child.on('error', (e) => {
      this.lastError = e.message;
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.stopped) return;
      if (Date.now() - startedAt >= (this.opts.stableMs ?? 30_000)) this.attempt = 0;
      const backoff = this.opts.backoffMs ?? [500, 1000, 2000, 5000, 10_000];
      const delay = backoff[Math.min(this.attempt, backoff.length - 1)];
      this.attempt++;
      this.restarts++;
      this.lastError = `${this.opts.command} exited (${signal ?? `code ${code}`}): ${this.stderrTail.join(' | ') || 'no output'}`;
      this.opts.log.warn('monitor exited, restarting', { error: this.lastError, inMs: delay });
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (!this.stopped) this.spawnChild();
      }, delay);
    });
    return child;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await killAndWait(this.child);
    this.child = undefined;
  }
}

/** TERM, then KILL after `killAfterMs`; resolves when the child has exited. */
export function killAndWait(child: ChildProcess | undefined, killAfterMs = 1000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

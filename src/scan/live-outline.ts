import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { appRoot } from '../config/locate.js';
import { childEnv } from '../util/child-env.js';
import { createLogger } from '../util/logger.js';
import { lowerAfterSpawn, prioritized } from '../util/low-priority.js';
import { OutlineSteadier } from './outline-steady.js';
import type { OutlineReply, OutlineRequest } from './outline-worker.js';

const log = createLogger('scan.outline');

/** What the viewfinder draws: the print's corners as fractions of the preview (clockwise from top-left), or null. */
export interface ScanOutlineEvent {
  corners: [number, number][] | null;
  /** Epoch ms of the frame's analysis; `ms` what it took. */
  at: number;
  ms: number;
}

declare module '../events.js' {
  interface PinholeEvents {
    /** The print outline found on a preview frame while scan mode is watched. */
    'scan.outline': ScanOutlineEvent;
  }
}

export interface LiveOutlineDeps {
  /** The newest preview frame (JPEG), or undefined when the camera has none. */
  latestFrame: () => Buffer | undefined;
  emit: (e: ScanOutlineEvent) => void;
  /** Frames a second at most (default 2). */
  fps?: number;
  /** A watch lasts this long unless renewed (default 60 s): a phone that went away does not keep it running. */
  leaseMs?: number;
}

/**
 * The viewfinder's print outline while scan mode is selected: at most `fps` preview frames a second go to a child
 * process at live analysis' priority, which finds the print (src/scan/quad.ts); a frame is skipped while the
 * previous one is still being looked at, so a busy Pi simply outlines less often. An outline is shown once two
 * frames in a row agree (src/scan/outline-steady.ts). The child (and OpenCV's memory) goes when the watch ends.
 */
export class LiveOutline {
  private child?: ChildProcess;
  private timer?: NodeJS.Timeout;
  private until = 0;
  private busy = false;
  private seq = 0;
  private lastFrame?: Buffer;
  private readonly steady = new OutlineSteadier();

  constructor(private readonly deps: LiveOutlineDeps) {}

  get watching(): boolean {
    return this.timer !== undefined;
  }

  /** Starts (or renews) the watch; returns when it ends unless renewed. */
  watch(): { watching: true; until: number } {
    this.until = Date.now() + (this.deps.leaseMs ?? 60_000);
    if (!this.timer) {
      const every = 1000 / Math.min(5, Math.max(0.2, this.deps.fps ?? 2));
      this.timer = setInterval(() => this.tick(), every);
      log.info('watching for a print', { fps: this.deps.fps ?? 2 });
    }
    return { watching: true, until: this.until };
  }

  /** Ends the watch and the child process with it. */
  unwatch(): { watching: false } {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      log.info('stopped watching');
    }
    this.child?.kill();
    this.child = undefined;
    this.busy = false;
    this.lastFrame = undefined;
    this.steady.reset();
    return { watching: false };
  }

  private tick(): void {
    if (Date.now() > this.until) {
      this.unwatch();
      return;
    }
    if (this.busy) return;
    const frame = this.deps.latestFrame();
    // the same frame again (a stalled preview) is not looked at twice
    if (!frame || frame === this.lastFrame) return;
    this.lastFrame = frame;
    const child = this.ensureChild();
    this.busy = true;
    const req: OutlineRequest = { id: ++this.seq, jpeg: frame };
    child.send(req);
  }

  private ensureChild(): ChildProcess {
    if (this.child?.connected) return this.child;
    // a 1 MB semi-space: the print finder's short-lived arrays are collected early instead of growing the child's
    // heap by ~20 MB (it lives beside the daemon while scan mode is open)
    // live analysis, like the face detector thread: below the camera and the preview, above filter jobs (a frame at
    // most every 500 ms and none while one is being looked at, so it cannot crowd out the daemon)
    const cmd = prioritized(process.execPath, ['--max-semi-space-size=1', outlineEntry()], 'analysis');
    const env = childEnv(process.env, { MALLOC_ARENA_MAX: '2', VIPS_CONCURRENCY: '1' });
    const child = spawn(cmd.command, cmd.args, {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env,
      serialization: 'advanced',
    });
    if (cmd.via === 'setpriority') lowerAfterSpawn(child.pid, 'analysis');
    child.on('message', (m: OutlineReply) => {
      this.busy = false;
      if (child !== this.child) return;
      if (m.error) {
        log.warn('outline failed', { error: m.error });
        return;
      }
      const shown = this.steady.next(m.corners, m.height / Math.max(1, m.width));
      if (shown) this.deps.emit({ corners: shown.corners, at: Date.now(), ms: m.ms });
    });
    child.on('exit', (code, signal) => {
      if (child !== this.child) return;
      this.child = undefined;
      this.busy = false;
      if (this.timer) log.warn('outline process ended', { code, signal });
    });
    child.on('error', (e) => log.warn('outline process failed', { error: e.message }));
    this.child = child;
    return child;
  }
}

function outlineEntry(): string {
  const beside = fileURLToPath(new URL('./outline-worker.js', import.meta.url));
  if (existsSync(beside)) return beside;
  // running from the TypeScript sources (tests): the built worker
  return path.join(appRoot(), 'dist', 'src', 'scan', 'outline-worker.js');
}

import { execFile } from 'node:child_process';
import { createLogger, type Logger } from './logger.js';

/**
 * systemd notifications for `Type=notify` + `WatchdogSec=` (systemd/pinhole.service).
 *
 * Node has no unix datagram sockets, so each message is a `systemd-notify` child process; the unit has
 * `NotifyAccess=all` so systemd accepts messages from children. Without NOTIFY_SOCKET (tests, `npm start`) every
 * call is a no-op. Nothing here throws: a failed notification is logged once and otherwise ignored.
 *
 * The watchdog does not ping blindly on a timer: a probe timer measures event-loop lag, and a window whose worst
 * lag exceeds `lagLimitMs` skips its ping. A loop that is stuck or crawling therefore stops pinging, and systemd
 * restarts the service after WatchdogSec.
 */

/** Runs `systemd-notify ARGS...`; rejects when it cannot be run or exits non-zero. */
export type NotifyRunner = (command: string, args: string[], env: NodeJS.ProcessEnv) => Promise<void>;

export interface SdNotifyOptions {
  env?: NodeJS.ProcessEnv;
  /** The notify executable (default `systemd-notify`, looked up on PATH). */
  command?: string;
  run?: NotifyRunner;
  /** Monotonic milliseconds (injectable for tests). */
  now?: () => number;
  /** Ping interval; default half of WATCHDOG_USEC. */
  pingIntervalMs?: number;
  /** How often the loop lag is sampled; default min(1000, pingInterval / 4). */
  probeIntervalMs?: number;
  /** Worst lag tolerated in one ping window; default half the ping interval, at most 10 s. */
  lagLimitMs?: number;
  pid?: number;
  logger?: Logger;
}

export interface WatchdogStats {
  enabled: boolean;
  pingIntervalMs: number;
  lagLimitMs: number;
  pings: number;
  skipped: number;
  /** Worst lag seen in the current window (ms). */
  windowMaxLagMs: number;
}

const defaultRunner: NotifyRunner = (command, args, env) =>
  new Promise((resolve, reject) => {
    // The timeout bounds a systemd-notify that waits on a manager that never answers.
    execFile(command, args, { env, timeout: 5000, windowsHide: true }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });

export class SdNotify {
  readonly enabled: boolean;
  private readonly env: NodeJS.ProcessEnv;
  private readonly command: string;
  private readonly runner: NotifyRunner;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly watchdogUsec: number;
  private readonly pingIntervalMs: number;
  private readonly probeIntervalMs: number;
  private readonly lagLimitMs: number;
  private pingTimer?: NodeJS.Timeout;
  private probeTimer?: NodeJS.Timeout;
  private lastProbe = 0;
  private windowMaxLag = 0;
  private pingInFlight = false;
  private pings = 0;
  private skipped = 0;
  private warnedFailure = false;
  private lagging = false;

  constructor(opts: SdNotifyOptions = {}) {
    this.env = opts.env ?? process.env;
    this.command = opts.command ?? 'systemd-notify';
    this.runner = opts.run ?? defaultRunner;
    this.now = opts.now ?? (() => performance.now());
    this.log = opts.logger ?? createLogger('systemd');
    this.enabled = Boolean(this.env.NOTIFY_SOCKET);
    this.watchdogUsec = watchdogUsec(this.env, opts.pid ?? process.pid);
    const fromEnv = this.watchdogUsec > 0 ? Math.floor(this.watchdogUsec / 2000) : 0;
    this.pingIntervalMs = Math.max(1, opts.pingIntervalMs ?? fromEnv);
    this.probeIntervalMs = Math.max(1, opts.probeIntervalMs ?? Math.min(1000, Math.floor(this.pingIntervalMs / 4)));
    this.lagLimitMs = opts.lagLimitMs ?? Math.min(10_000, Math.floor(this.pingIntervalMs / 2));
  }

  /** True when systemd expects watchdog pings from this process (WATCHDOG_USEC set, WATCHDOG_PID ours or unset). */
  get watchdogEnabled(): boolean {
    return this.enabled && this.watchdogUsec > 0;
  }

  /** `READY=1` (with an optional STATUS= line shown by `systemctl status`). Call once the web UI serves. */
  ready(status?: string): Promise<void> {
    return this.send(status ? ['READY=1', `STATUS=${oneLine(status)}`] : ['READY=1']);
  }

  status(text: string): Promise<void> {
    return this.send([`STATUS=${oneLine(text)}`]);
  }

  /** `STOPPING=1`: shutdown started, so a slow stop is not mistaken for a hang. */
  stopping(): Promise<void> {
    return this.send(['STOPPING=1']);
  }

  /** `RELOADING=1` before applying a new config; call ready() afterwards. */
  reloading(): Promise<void> {
    return this.send(['RELOADING=1']);
  }

  /** Starts lag-gated WATCHDOG=1 pings (no-op unless systemd asked for them). Timers are unref'd. */
  startWatchdog(): void {
    if (!this.watchdogEnabled || this.pingTimer) return;
    this.lastProbe = this.now();
    this.windowMaxLag = 0;
    this.probeTimer = setInterval(() => this.probe(), this.probeIntervalMs);
    this.probeTimer.unref();
    this.pingTimer = setInterval(() => this.tick(), this.pingIntervalMs);
    this.pingTimer.unref();
    this.log.info('watchdog started', { pingMs: this.pingIntervalMs, lagLimitMs: this.lagLimitMs });
    void this.ping();
  }

  stopWatchdog(): void {
    clearInterval(this.probeTimer);
    clearInterval(this.pingTimer);
    this.probeTimer = undefined;
    this.pingTimer = undefined;
  }

  stats(): WatchdogStats {
    return {
      enabled: this.watchdogEnabled,
      pingIntervalMs: this.pingIntervalMs,
      lagLimitMs: this.lagLimitMs,
      pings: this.pings,
      skipped: this.skipped,
      windowMaxLagMs: Math.round(this.windowMaxLag),
    };
  }

  private probe(): void {
    const t = this.now();
    const lag = t - this.lastProbe - this.probeIntervalMs;
    this.lastProbe = t;
    if (lag > this.windowMaxLag) this.windowMaxLag = lag;
  }

  private tick(): void {
    // Sample once more so a stall that ended just before this tick is counted in this window.
    this.probe();
    const lag = this.windowMaxLag;
    this.windowMaxLag = 0;
    if (lag > this.lagLimitMs) {
      this.skipped++;
      if (!this.lagging)
        this.log.warn('event loop stalled: watchdog ping withheld', {
          lagMs: Math.round(lag),
          limitMs: this.lagLimitMs,
        });
      this.lagging = true;
      return;
    }
    if (this.lagging) this.log.info('event loop responsive again', { lagMs: Math.round(lag) });
    this.lagging = false;
    void this.ping();
  }

  private async ping(): Promise<void> {
    // One systemd-notify at a time: a hung one must not pile up children.
    if (this.pingInFlight) return;
    this.pingInFlight = true;
    try {
      await this.send(['WATCHDOG=1']);
      this.pings++;
    } finally {
      this.pingInFlight = false;
    }
  }

  private async send(args: string[]): Promise<void> {
    if (!this.enabled) return;
    try {
      await this.runner(this.command, args, this.env);
    } catch (e) {
      if (!this.warnedFailure) this.log.warn('systemd-notify failed', { err: e as Error, args: args.join(' ') });
      this.warnedFailure = true;
    }
  }
}

function watchdogUsec(env: NodeJS.ProcessEnv, pid: number): number {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return 0;
  // Like sd_watchdog_enabled(): a WATCHDOG_PID naming another process means the watchdog is not ours.
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return 0;
  return usec;
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 200);
}

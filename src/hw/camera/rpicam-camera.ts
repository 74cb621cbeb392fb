import { promises as fs } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ZslPlan } from '../../config/board-profile.js';
import type { CameraConfig } from '../../config/sections/camera.js';
import { UnavailableError } from '../../util/errors.js';
import { createLogger } from '../../util/logger.js';
import { armedArgv, type LockedExposure, previewArgv, stillArgv, validateExtraArgs } from './argv.js';
import type { CameraCommands } from './commands.js';
import { FrameHub } from './frame-hub.js';
import { MjpegSplitter } from './mjpeg-splitter.js';
import { Mutex } from './mutex.js';
import { type CameraOutputDir, openOutputDir } from './output-dir.js';
import { CameraPidFile } from './pidfile.js';
import { placeholderJpeg } from './placeholder.js';
import { Backoff, classifyExit, describeExit, type ExitInfo, ManagedProcess } from './process.js';
import type {
  BurstFrame,
  BurstOptions,
  BurstTiming,
  CameraDriver,
  CameraMode,
  CameraState,
  CameraStatus,
  FrameControls,
  StillTiming,
  ZslStatus,
} from './types.js';

const log = createLogger('camera');

export interface RpicamCameraOptions {
  config: CameraConfig;
  commands: CameraCommands;
  /** Pid file, the camera's output folder and the simulator's state live here. */
  runDir: string;
  /** Environment of the camera processes (the simulator reads its images and faults from it). */
  env?: NodeJS.ProcessEnv;
  hub?: FrameHub;
  /** Strategy `signal`: how long the preview keeps running after its last viewer left. */
  idleArmDelayMs?: number;
  /** How often the "NO CAMERA" frame is repeated for viewers while the camera is away. */
  placeholderIntervalMs?: number;
  /** ZSL and buffer counts of the armed process (the board profile's plan); default: ZSL, the app's buffers. */
  zsl?: ZslPlan;
}

/** How the armed process runs; each failed buffer allocation moves one step down, once. */
type ArmedLevel = 'zsl' | 'viewfinder' | 'off';

interface Owner {
  proc: ManagedProcess;
  mode: Exclude<CameraMode, null>;
  /** Set when we stop it on purpose: its exit is not a failure. */
  intended: boolean;
  /** Why the watchdog killed it, if it did. */
  killedFor?: string;
  ready: boolean;
  /** Viewfinder frames seen (the liveness lines of `-v 2`). */
  frames: number;
  lineWaiters: Set<(line: string) => void>;
  armed?: { pattern: string; captures: number; metadata?: string };
  /** A capture is in flight: its frame lines do not feed the watchdog (the capture timeout guards it). */
  shooting?: boolean;
  /** When the last frame (or viewfinder line) arrived: the watchdog compares against it when its timer fires. */
  liveAt: number;
}

/** The frame interval the preview runs at, and how long rpicam apps need to notice a signal (once per frame). */
const PREVIEW_STOP_MARGIN_MS = 1000;
const ARMED_STOP_CAP_MS = 3000;
/** Viewfinder frames a freshly started burst process runs before its metering frame: AE/AWB settle. */
const METERING_SETTLE_FRAMES = 6;

const SAVED_LINE = /^Saved image \d+ x \d+ to file (.+)$/;
const FRAME_LINE = /^Viewfinder frame \d+/;

/**
 * Camera driver over rpicam-apps subprocesses (real ones, or the simulator's through the same code). It owns the
 * camera through exactly one child at a time, restarts it with backoff when it fails, serves placeholder frames
 * when the camera is away, and takes full-resolution stills and bursts with the configured strategy.
 */
export class RpicamCamera implements CameraDriver {
  readonly frames: FrameHub;
  private readonly cfg: CameraConfig;
  private readonly lock = new Mutex();
  private readonly pidFile: CameraPidFile;
  private readonly backoff: Backoff;
  private readonly listeners = new Set<(s: CameraStatus) => void>();
  private readonly env: NodeJS.ProcessEnv;
  private readonly plan: ZslPlan;
  private st: CameraStatus = { state: 'stopped', mode: null, restarts: 0, since: new Date().toISOString() };
  private owner?: Owner;
  private running = false;
  private restartTimer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private placeholderTimer?: NodeJS.Timeout;
  private placeholderCache = new Map<string, Buffer>();
  private unsubscribeCount?: () => void;
  private capturing = 0;
  private level: ArmedLevel;
  private zslStatus: ZslStatus;
  private out?: CameraOutputDir;
  private stillSeq = 0;

  constructor(private readonly opts: RpicamCameraOptions) {
    validateExtraArgs(opts.config.extraArgs);
    this.cfg = opts.config;
    this.frames = opts.hub ?? new FrameHub();
    this.pidFile = new CameraPidFile(path.join(opts.runDir, 'camera.pid'));
    this.backoff = new Backoff(opts.config.backoff.initialMs, opts.config.backoff.maxMs);
    this.env = { ...(opts.env ?? process.env) };
    this.plan = opts.zsl ?? { enabled: true, reason: 'default' };
    this.level = this.plan.enabled ? 'zsl' : 'viewfinder';
    this.zslStatus =
      this.strategy === 'switch'
        ? { mode: 'off', reason: 'camera.capture.strategy is switch' }
        : {
            mode: this.level === 'zsl' ? 'zsl' : 'viewfinder',
            ...(this.plan.bufferCount ? { bufferCount: this.plan.bufferCount } : {}),
            reason: this.plan.reason,
          };
    this.st.zsl = this.zslStatus;
  }

  get strategy(): 'switch' | 'signal' {
    return this.cfg.capture.strategy;
  }

  status(): CameraStatus {
    return { ...this.st, zsl: { ...this.zslStatus } };
  }

  onStatus(listener: (s: CameraStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    if (this.running) return;
    await fs.mkdir(this.opts.runDir, { recursive: true });
    const leftover = await this.pidFile.reapLeftover();
    if (leftover) log.warn('stopped a leftover camera process', { pid: leftover });
    this.out = await openOutputDir(path.join(this.opts.runDir, 'out'));
    if (this.out.viaLink)
      log.info('camera output through a short link', { link: this.out.short, target: this.out.real });
    this.running = true;
    this.unsubscribeCount = this.frames.onSubscribers((n) => this.onViewers(n));
    this.setState('starting', null);
    await this.lock.run(() => this.spawnDesired());
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribeCount?.();
    this.clearTimers();
    await this.lock.run(() => this.stopOwner());
    await this.pidFile.clear();
    await this.out?.close();
    this.frames.clear();
    this.setState('stopped', null);
  }

  /** Replaces the environment of future camera processes (`pinhole sim fault`) and restarts the current one. */
  async setEnv(vars: Record<string, string | undefined>): Promise<void> {
    for (const [k, v] of Object.entries(vars)) {
      if (v === undefined) delete this.env[k];
      else this.env[k] = v;
    }
    if (!this.running) return;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.backoff.reset();
    await this.lock.run(async () => {
      await this.stopOwner();
      await this.spawnDesired();
    });
  }

  childEnv(): NodeJS.ProcessEnv {
    return { ...this.env };
  }

  // ---- ownership ---------------------------------------------------------------------------------------------

  private desiredMode(): 'preview' | 'armed' {
    if (this.strategy === 'switch' || this.level === 'off') return 'preview';
    return this.frames.subscriberCount > 0 ? 'preview' : 'armed';
  }

  /** Must run under the lock. */
  private async spawnDesired(): Promise<void> {
    if (!this.running || this.owner || this.restartTimer) return;
    const mode = this.desiredMode();
    if (mode === 'preview') this.spawnPreview();
    else await this.spawnArmed();
  }

  /**
   * Stops a child the way its app ends cleanly: rpicam-vid on SIGINT (it ignores SIGUSR1/2 without --signal),
   * rpicam-still --signal on SIGUSR2. Both look at signals once per frame, so the wait is a couple of frames;
   * then SIGTERM, whose default action ends either app at once. Must run under the lock; resolves once the child
   * is gone (never two camera owners).
   */
  private async stopOwner(): Promise<void> {
    const o = this.owner;
    if (!o) return;
    o.intended = true;
    this.clearWatchdog();
    const t0 = performance.now();
    let info: ExitInfo;
    if (o.mode === 'preview') {
      const frameMs = 1000 / this.cfg.preview.fps;
      info = await o.proc.stop({ polite: 'SIGINT', graceMs: 2 * frameMs + PREVIEW_STOP_MARGIN_MS, termGraceMs: 2000 });
    } else if (o.mode === 'armed' || o.armed) {
      // The armed process, or a burst's `--signal` process.
      info = await o.proc.stop({
        polite: 'SIGUSR2',
        graceMs: Math.min(ARMED_STOP_CAP_MS, 2 * this.stillFrameMs() + PREVIEW_STOP_MARGIN_MS),
        termGraceMs: 2000,
      });
    } else info = await o.proc.stop({ graceMs: 1000 });
    log.debug('camera process stopped', {
      mode: o.mode,
      pid: o.proc.pid,
      by: o.proc.stoppedWith ?? 'itself',
      exit: info.signal ? `signal ${info.signal}` : `exit status ${info.code}`,
      ms: Math.round(performance.now() - t0),
    });
    // The exit handler clears this.owner; make sure even if it has not run yet.
    if (this.owner === o) this.owner = undefined;
  }

  /** With a still stream every frame lasts at least the exposure (rpicam_app.cpp StartCamera); 10 fps otherwise. */
  private stillFrameMs(): number {
    return Math.max(100, this.cfg.controls.shutterUs / 1000);
  }

  private register(proc: ManagedProcess, mode: Owner['mode'], extra: Partial<Owner> = {}): Owner {
    const o: Owner = {
      proc,
      mode,
      intended: false,
      ready: false,
      frames: 0,
      lineWaiters: new Set(),
      liveAt: performance.now(),
      ...extra,
    };
    this.owner = o;
    if (proc.pid)
      void this.pidFile
        .write(proc.pid)
        .catch((e: unknown) => log.warn('cannot write the camera pid file', { error: e }));
    void proc.exited.then((info) => this.onExit(o, info));
    this.armWatchdog(o);
    return o;
  }

  private spawnPreview(): void {
    const args = previewArgv(this.cfg);
    log.debug('starting preview', { command: this.opts.commands.vid, args: args.join(' ') });
    let o: Owner | undefined;
    const splitter = new MjpegSplitter((jpeg) => {
      if (!o || this.owner !== o) return;
      this.onLive(o);
      this.frames.publish(jpeg);
    });
    const proc = new ManagedProcess({ command: this.opts.commands.vid, args, env: this.childEnv() });
    proc.child.stdout?.on('data', (chunk: Buffer) => splitter.push(chunk));
    proc.child.stdout?.on('end', () => splitter.end());
    o = this.register(proc, 'preview');
  }

  private output(): CameraOutputDir {
    if (!this.out) throw new UnavailableError('the camera is not running', 'camera-stopped');
    return this.out;
  }

  /** A `--signal` rpicam-still whose viewfinder lines keep it alive and whose capture lines reach `lineWaiters`. */
  private spawnSignalStill(args: string[], mode: Owner['mode'], armed: Owner['armed']): Owner {
    let o: Owner | undefined;
    const proc = new ManagedProcess({
      command: this.opts.commands.still,
      args,
      env: this.childEnv(),
      onStderrLine: (line) => {
        if (!o) return;
        if (FRAME_LINE.test(line)) {
          o.frames++;
          if (mode === 'armed') this.onLive(o);
          else o.ready = true;
        }
        for (const w of o.lineWaiters) w(line);
      },
    });
    o = this.register(proc, mode, { armed });
    return o;
  }

  private async spawnArmed(): Promise<void> {
    const out = this.output();
    await out.clean(/^a\d+\.jpg$|^a-meta\.json$/);
    const pattern = out.shortPath('a%04d.jpg');
    const metadata = out.shortPath('a-meta.json');
    const zsl = this.level === 'zsl';
    const args = armedArgv(this.cfg, pattern, { zsl, bufferCount: this.plan.bufferCount, metadata });
    log.debug('arming still process', { command: this.opts.commands.still, args: args.join(' ') });
    this.spawnSignalStill(args, 'armed', { pattern, captures: 0, metadata });
  }

  /** A frame (preview JPEG or viewfinder tick) arrived: the camera is alive. */
  private onLive(o: Owner): void {
    if (!o.ready) {
      o.ready = true;
      this.backoff.reset();
      this.stopPlaceholder();
      log.info('camera streaming', { mode: o.mode, pid: o.proc.pid, zsl: o.mode === 'armed' ? this.level : undefined });
      if (this.capturing === 0) this.setState('streaming', o.mode, undefined);
      // From now on the shorter streaming limit applies.
      if (!o.shooting) this.armWatchdog(o);
      return;
    }
    // A frame only moves the time the watchdog compares against: no timer work per frame (15–30 a second).
    if (!o.shooting && this.watchdog) o.liveAt = performance.now();
    else if (!o.shooting) this.armWatchdog(o);
  }

  /**
   * The armed process could not allocate its buffers (camera memory is short, typically a 512 MB board): step down
   * once, without --zsl, then to no armed process at all, and say why in status. Never a loop on the same failure.
   */
  private fallBack(info: ExitInfo): boolean {
    if (this.level === 'off') return false;
    const detail =
      info.stderr
        .filter((l) => /allocat/i.test(l))
        .slice(-2)
        .join(' | ') || describeExit(info);
    const from = this.level;
    this.level = from === 'zsl' ? 'viewfinder' : 'off';
    this.zslStatus = {
      mode: this.level,
      ...(this.plan.bufferCount && this.level === 'viewfinder' ? { bufferCount: this.plan.bufferCount } : {}),
      reason:
        this.level === 'viewfinder'
          ? `ZSL buffers could not be allocated (${detail}): armed without --zsl, a mode switch per capture`
          : `the viewfinder buffers could not be allocated either (${detail}): no armed process, each capture starts rpicam-still`,
    };
    log.warn('camera memory too small, falling back', { from, to: this.level, detail });
    return true;
  }

  private onExit(o: Owner, info: ExitInfo): void {
    if (this.owner === o) this.owner = undefined;
    void this.pidFile.clear().catch(() => {});
    for (const w of o.lineWaiters) w('');
    if (o.intended || !this.running) return;
    this.clearWatchdog();
    this.frames.clear();
    const kind = o.killedFor ? 'crashed' : classifyExit(info);
    const why = o.killedFor ?? describeExit(info);
    this.st.restarts++;
    if (kind === 'nomem' && o.mode === 'armed' && this.fallBack(info)) {
      this.setState('starting', null, why);
      this.scheduleRestart(0);
      return;
    }
    const delay = this.backoff.next();
    let state: CameraState;
    switch (kind) {
      case 'busy':
        state = 'busy';
        log.warn('camera busy (another process holds it), retrying', { retryMs: delay, detail: why });
        break;
      case 'absent':
        state = 'absent';
        log.warn('no camera found, retrying', { retryMs: delay, detail: why });
        break;
      case 'nomem':
      case 'clean':
      case 'crashed':
        state = 'crashed';
        log.error('camera process failed, restarting', { mode: o.mode, retryMs: delay, detail: why });
        break;
    }
    this.setState(state, null, why);
    if (state === 'absent' || state === 'busy') this.startPlaceholder(state);
    this.scheduleRestart(delay);
  }

  private scheduleRestart(delayMs: number): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.running) return;
      if (this.st.state === 'crashed') this.setState('starting', null, this.st.lastError);
      void this.lock.run(() => this.spawnDesired());
    }, delayMs);
  }

  /**
   * Kills a camera that sent no frame for the frame timeout. One timer per timeout period, not one per frame: when it
   * fires early (frames kept coming), it sleeps again until the last frame's deadline.
   */
  private armWatchdog(o: Owner): void {
    this.clearWatchdog();
    o.liveAt = performance.now();
    // Opening a camera can take seconds (slow sensors, AE settling); a stall once streaming is caught sooner.
    const ms = o.ready ? this.cfg.frameTimeoutMs : Math.max(this.cfg.frameTimeoutMs, this.cfg.startTimeoutMs);
    const check = (): void => {
      this.watchdog = undefined;
      if (this.owner !== o || o.intended || o.shooting) return;
      const quietMs = performance.now() - o.liveAt;
      if (quietMs < ms) {
        this.watchdog = setTimeout(check, ms - quietMs);
        return;
      }
      o.killedFor = `no frame from the camera for ${ms} ms (${o.mode}${o.ready ? '' : ', starting'}); last output: ${o.proc.stderrTail().slice(-3).join(' | ') || 'none'}`;
      log.warn('camera stalled, killing it', { pid: o.proc.pid, mode: o.mode });
      void o.proc.stop({ graceMs: 1000 });
    };
    this.watchdog = setTimeout(check, ms);
  }

  private clearWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }

  private clearTimers(): void {
    this.clearWatchdog();
    for (const t of [this.restartTimer, this.idleTimer]) if (t) clearTimeout(t);
    this.restartTimer = undefined;
    this.idleTimer = undefined;
    this.stopPlaceholder();
  }

  /** Strategy `signal`: viewers need rpicam-vid; without viewers the armed still process gives the fastest shutter. */
  private onViewers(n: number): void {
    if (!this.running || this.strategy !== 'signal' || this.level === 'off') return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (n > 0 && this.owner?.mode === 'armed') {
      void this.lock.run(async () => {
        if (this.owner?.mode !== 'armed' || this.frames.subscriberCount === 0) return;
        await this.stopOwner();
        await this.spawnDesired();
      });
    } else if (n === 0 && this.owner?.mode === 'preview') {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        void this.lock.run(async () => {
          if (this.owner?.mode !== 'preview' || this.frames.subscriberCount > 0) return;
          await this.stopOwner();
          await this.spawnDesired();
        });
      }, this.opts.idleArmDelayMs ?? 3000);
    }
  }

  // ---- placeholder frames ------------------------------------------------------------------------------------

  private startPlaceholder(state: 'absent' | 'busy'): void {
    this.stopPlaceholder();
    const publish = async () => {
      if (this.st.state !== state) return;
      let jpeg = this.placeholderCache.get(state);
      if (!jpeg) {
        const { width, height } = this.cfg.preview;
        jpeg = await placeholderJpeg(
          width,
          height,
          state === 'absent' ? 'NO CAMERA' : 'CAMERA BUSY',
          state === 'absent' ? 'no camera detected: check the ribbon cable' : 'another program is using the camera',
        );
        this.placeholderCache.set(state, jpeg);
      }
      if (this.st.state === state) this.frames.publish(jpeg, true);
    };
    const tick = () => void publish().catch((e: unknown) => log.warn('placeholder frame failed', { error: e }));
    tick();
    this.placeholderTimer = setInterval(tick, this.opts.placeholderIntervalMs ?? 1000);
  }

  private stopPlaceholder(): void {
    if (this.placeholderTimer) clearInterval(this.placeholderTimer);
    this.placeholderTimer = undefined;
  }

  private setState(state: CameraState, mode: CameraMode, lastError?: string): void {
    const same = this.st.state === state && this.st.mode === mode && this.st.lastError === lastError;
    if (same) return;
    this.st = {
      state,
      mode,
      restarts: this.st.restarts,
      since: new Date().toISOString(),
      ...(lastError ? { lastError } : {}),
    };
    const snapshot = this.status();
    for (const l of this.listeners) {
      try {
        l(snapshot);
      } catch (e) {
        log.error('status listener failed', { error: e });
      }
    }
  }

  // ---- stills ------------------------------------------------------------------------------------------------

  /** Runs `fn` as a capture: under the lock, state `capturing`, the usual owner resumed afterwards. */
  private async asCapture<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.running) throw new UnavailableError('the camera is not running', 'camera-stopped');
    if (this.st.state === 'absent')
      throw new UnavailableError(`no camera available: ${this.st.lastError ?? 'not detected'}`, 'camera-absent');
    return this.lock.run(async () => {
      if (!this.running) throw new UnavailableError('the camera is not running', 'camera-stopped');
      this.capturing++;
      const prevMode = this.owner?.mode ?? null;
      this.setState('capturing', prevMode, undefined);
      try {
        return await fn();
      } finally {
        this.capturing--;
        if (this.owner?.ready && this.owner.mode !== 'still') this.setState('streaming', this.owner.mode, undefined);
        else if (this.st.state === 'capturing') this.setState('starting', null, undefined);
        // Resume the preview (or re-arm) without making the caller wait for it.
        if (!this.owner && !this.restartTimer) void this.lock.run(() => this.spawnDesired());
      }
    });
  }

  async captureStill(outPath: string): Promise<StillTiming> {
    return this.asCapture(async () => {
      const o = this.owner;
      if (o?.mode === 'armed' && o.ready && o.proc.running) {
        const shot = await this.signalShot(o, false);
        await moveFile(shot.file, outPath);
        return { strategy: 'signal', ...shot.timing };
      }
      return this.captureSwitch(outPath);
    });
  }

  /** Strategy `switch` (and `signal` while someone watches the preview): stop, one-shot rpicam-still, resume. */
  private async captureSwitch(outPath: string): Promise<StillTiming> {
    await this.stopOwner();
    if (this.restartTimer) {
      // A capture is a reason to try now rather than wait for the backoff.
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
    }
    const out = this.output();
    const name = `s${++this.stillSeq}.jpg`;
    const args = stillArgv(this.cfg, out.shortPath(name));
    let exposureDoneAt = 0;
    const commandIssuedAt = performance.now();
    const proc = new ManagedProcess({
      command: this.opts.commands.still,
      args,
      env: this.childEnv(),
      onStderrLine: (line) => {
        if (!exposureDoneAt && line.includes('Still capture image received')) exposureDoneAt = performance.now();
      },
    });
    const o = this.register(proc, 'still');
    o.intended = true; // a one-shot still exits by itself; its failures are reported to the caller below
    this.clearWatchdog();
    const timer = setTimeout(() => {
      o.killedFor = `capture timed out after ${this.cfg.capture.timeoutMs} ms`;
      void proc.stop({ graceMs: 1000 });
    }, this.cfg.capture.timeoutMs);
    const info = await proc.exited.finally(() => clearTimeout(timer));
    const writtenAt = performance.now();
    if (this.owner === o) this.owner = undefined;
    const file = out.realPath(name);
    if (o.killedFor) {
      await fs.rm(file, { force: true });
      throw new UnavailableError(`${o.killedFor}; ${describeExit(info)}`, 'camera-timeout');
    }
    const kind = classifyExit(info);
    if (kind !== 'clean') {
      await fs.rm(file, { force: true });
      this.failCapture(kind, info);
    }
    await moveFile(file, outPath);
    return { strategy: 'switch', commandIssuedAt, exposureDoneAt: exposureDoneAt || writtenAt, writtenAt };
  }

  private failCapture(kind: 'busy' | 'absent' | 'nomem' | 'crashed', info: ExitInfo): never {
    const why = describeExit(info);
    if (kind === 'absent') {
      this.setState('absent', null, why);
      this.startPlaceholder('absent');
      throw new UnavailableError(`no camera available: ${why}`, 'camera-absent');
    }
    if (kind === 'busy') throw new UnavailableError(`the camera is in use by another program: ${why}`, 'camera-busy');
    if (kind === 'nomem')
      throw new UnavailableError(`the camera could not allocate its buffers (camera memory): ${why}`, 'camera-memory');
    throw new UnavailableError(`the still capture failed: ${why}`, 'camera-failed');
  }

  /**
   * One SIGUSR1 to an open `rpicam-still --signal`: the app sees it at the end of a frame, captures the next one,
   * logs "Still capture image received", saves and logs "Saved image … to file <name>" (-v 2). With `controls`, it
   * also waits for the next viewfinder frame: the --metadata file is written after the image.
   */
  private async signalShot(
    o: Owner,
    controls: boolean,
  ): Promise<{ file: string; timing: Omit<StillTiming, 'strategy'>; controls?: FrameControls }> {
    const armed = o.armed as NonNullable<Owner['armed']>;
    const out = this.output();
    const expected = out.realPath(captureName(path.basename(armed.pattern), armed.captures));
    armed.captures++;
    let exposureDoneAt = 0;
    let writtenAt = 0;
    let saved: string | undefined;
    const done = new Promise<void>((resolve, reject) => {
      const finish = (err?: Error) => {
        clearTimeout(timer);
        o.lineWaiters.delete(onLine);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(
        () =>
          finish(new UnavailableError(`capture timed out after ${this.cfg.capture.timeoutMs} ms`, 'camera-timeout')),
        this.cfg.capture.timeoutMs,
      );
      const onLine = (line: string) => {
        if (line === '') {
          const info = { code: o.proc.child.exitCode, signal: o.proc.child.signalCode, stderr: o.proc.stderrTail() };
          const kind = classifyExit(info);
          finish(
            new UnavailableError(
              `the camera process exited during the capture: ${o.proc.stderrTail().slice(-3).join(' | ')}`,
              kind === 'nomem' ? 'camera-memory' : 'camera-failed',
            ),
          );
        } else if (!exposureDoneAt && line.includes('Still capture image received')) {
          exposureDoneAt = performance.now();
        } else if (exposureDoneAt && !writtenAt && SAVED_LINE.test(line)) {
          writtenAt = performance.now();
          saved = (SAVED_LINE.exec(line) as RegExpExecArray)[1];
          if (!controls) finish();
        } else if (exposureDoneAt && FRAME_LINE.test(line)) {
          // The app saves before it handles the next frame (and writes --metadata right after the image).
          writtenAt ||= performance.now();
          finish();
        }
      };
      o.lineWaiters.add(onLine);
    });
    // No viewfinder lines while a non-ZSL capture switches mode and saves: the capture timeout guards it instead.
    o.shooting = true;
    if (this.owner === o) this.clearWatchdog();
    const commandIssuedAt = performance.now();
    o.proc.signal('SIGUSR1');
    try {
      await done;
      o.shooting = false;
      if (this.owner === o && o.mode === 'armed') this.armWatchdog(o);
    } catch (e) {
      o.shooting = false;
      // A wedged camera: kill it, the supervisor restarts it.
      o.killedFor = (e as Error).message;
      if (o.proc.running) await o.proc.stop({ graceMs: 1000 });
      throw e;
    }
    // The app names the file (snprintf of -o with its own counter); the short link maps it into our folder.
    const file = saved ? out.realPath(path.basename(saved)) : expected;
    try {
      await fs.access(file);
    } catch {
      throw new UnavailableError('the camera reported a capture but wrote no file', 'camera-failed');
    }
    const timing = { commandIssuedAt, exposureDoneAt, writtenAt };
    return { file, timing, controls: controls ? await readControls(armed.metadata, out) : undefined };
  }

  // ---- bursts ------------------------------------------------------------------------------------------------

  /**
   * N full-resolution frames with identical exposure, gain and white balance. rpicam-apps have no burst option
   * (--frames is rpicam-vid's, --timelapse needs ≥ 6 viewfinder frames between shots and excludes --signal), so a
   * burst is ZSL signal captures in a row: frame 0 is metered by the auto exposure (from the armed process when it
   * is running, at once), frames 1… come from a process started with --shutter/--gain/--awbgains locked to frame 0's
   * metadata. See README "Bursts" and FIDELITY.md for the alternatives and why.
   */
  async captureBurst(opts: BurstOptions): Promise<BurstTiming> {
    const n = Math.max(1, Math.floor(opts.frames));
    await fs.mkdir(opts.dir, { recursive: true });
    return this.asCapture(async () => {
      const out = this.output();
      await out.clean(/^b\d+\.jpg$|^b-meta\.json$/);
      const frames: BurstFrame[] = [];
      const target = (i: number) => path.join(opts.dir, `frame-${String(i).padStart(3, '0')}.jpg`);
      const pattern = out.shortPath('b%03d.jpg');
      const metadata = out.shortPath('b-meta.json');
      const zsl = this.level === 'zsl';
      let lock: LockedExposure | undefined = opts.lock ?? this.configuredLock();
      let interrupted = false;
      try {
        // Frame 0: the armed process has converged AE and takes it without a process start.
        let first: Awaited<ReturnType<RpicamCamera['signalShot']>>;
        const armed = this.owner;
        if (!lock && armed?.mode === 'armed' && armed.ready && armed.proc.running) {
          first = await this.signalShot(armed, true);
        } else {
          await this.stopOwner();
          const args = armedArgv(this.cfg, pattern, { zsl, bufferCount: this.plan.bufferCount, metadata, lock });
          const a = this.spawnSignalStill(args, 'still', { pattern, captures: 0, metadata });
          a.intended = true;
          this.clearWatchdog();
          await this.waitFrames(a, lock ? 1 : METERING_SETTLE_FRAMES);
          first = await this.signalShot(a, true);
          if (lock) {
            // Locked from the start: the same process takes every frame.
            await moveFile(first.file, target(0));
            frames.push({ index: 0, path: target(0), ...first.timing, controls: first.controls });
            interrupted = await this.burstFrames(a, 1, n, target, frames, opts.shouldStop);
            return { frames, locked: lock, interrupted };
          }
        }
        await moveFile(first.file, target(0));
        frames.push({ index: 0, path: target(0), ...first.timing, controls: first.controls });
        if (n === 1) return { frames, interrupted: false };
        if (opts.shouldStop?.()) return { frames, interrupted: true };
        const c = first.controls;
        if (!c) throw new UnavailableError('the camera wrote no metadata for the metering frame', 'camera-failed');
        lock = {
          shutterUs: c.exposureUs,
          gain: c.analogueGain,
          ...(c.colourGains ? { awbGains: c.colourGains } : {}),
        };
        await this.stopOwner();
        const args = armedArgv(this.cfg, pattern, {
          zsl,
          bufferCount: this.plan.bufferCount,
          metadata,
          framestart: 1,
          lock,
        });
        const b = this.spawnSignalStill(args, 'still', { pattern, captures: 1, metadata });
        b.intended = true;
        this.clearWatchdog();
        await this.waitFrames(b, 1);
        interrupted = await this.burstFrames(b, 1, n, target, frames, opts.shouldStop);
        return { frames, locked: lock, interrupted };
      } finally {
        if (this.owner && this.owner.mode === 'still') await this.stopOwner();
      }
    });
  }

  private configuredLock(): LockedExposure | undefined {
    const c = this.cfg.controls;
    return c.shutterUs > 0 && c.gain > 0 ? { shutterUs: c.shutterUs, gain: c.gain } : undefined;
  }

  private async burstFrames(
    o: Owner,
    from: number,
    n: number,
    target: (i: number) => string,
    frames: BurstFrame[],
    shouldStop?: () => boolean,
  ): Promise<boolean> {
    for (let i = from; i < n; i++) {
      if (shouldStop?.()) return true;
      const shot = await this.signalShot(o, true);
      await moveFile(shot.file, target(i));
      frames.push({ index: i, path: target(i), ...shot.timing, controls: shot.controls });
    }
    return false;
  }

  /** Waits until a freshly started process has shown `count` viewfinder frames (or fails). */
  private waitFrames(o: Owner, count: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (line: string) => {
        if (line === '') {
          o.lineWaiters.delete(check);
          clearTimeout(timer);
          const info = { code: o.proc.child.exitCode, signal: o.proc.child.signalCode, stderr: o.proc.stderrTail() };
          const kind = classifyExit(info);
          try {
            this.failCapture(kind === 'clean' ? 'crashed' : kind, info);
          } catch (e) {
            reject(e);
          }
          return;
        }
        if (o.frames >= count) {
          o.lineWaiters.delete(check);
          clearTimeout(timer);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        o.lineWaiters.delete(check);
        reject(
          new UnavailableError(
            `the burst camera process did not start within ${this.cfg.startTimeoutMs + this.cfg.capture.timeoutMs} ms`,
            'camera-timeout',
          ),
        );
      }, this.cfg.startTimeoutMs + this.cfg.capture.timeoutMs);
      o.lineWaiters.add(check);
      check('x');
    });
  }
}

/** The --metadata JSON of the last capture (output/output.cpp write_metadata): the controls it was taken with. */
async function readControls(file: string | undefined, out: CameraOutputDir): Promise<FrameControls | undefined> {
  if (!file) return undefined;
  try {
    const m = JSON.parse(await fs.readFile(out.realPath(path.basename(file)), 'utf8')) as Record<string, unknown>;
    const num = (k: string) => (typeof m[k] === 'number' ? (m[k] as number) : undefined);
    const exposureUs = num('ExposureTime');
    const analogueGain = num('AnalogueGain');
    if (exposureUs === undefined || analogueGain === undefined) return undefined;
    const cg = m.ColourGains;
    return {
      exposureUs,
      analogueGain,
      digitalGain: num('DigitalGain') ?? 1,
      ...(Array.isArray(cg) && cg.length === 2 && cg.every((x) => typeof x === 'number')
        ? { colourGains: [cg[0], cg[1]] as [number, number] }
        : {}),
    };
  } catch {
    return undefined;
  }
}

/** `a%04d.jpg`, 7 → `a0007.jpg`: the one directive our own patterns use. */
function captureName(pattern: string, n: number): string {
  return pattern.replace(/%0(\d)d/, (_m, w: string) => String(n).padStart(Number(w), '0'));
}

async function moveFile(from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    await fs.copyFile(from, to);
    await fs.rm(from, { force: true });
  }
}

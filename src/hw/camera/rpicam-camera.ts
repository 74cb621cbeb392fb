import { promises as fs } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { CameraConfig } from '../../config/sections/camera.js';
import { UnavailableError } from '../../util/errors.js';
import { createLogger } from '../../util/logger.js';
import { armedArgv, previewArgv, stillArgv, validateExtraArgs } from './argv.js';
import type { CameraCommands } from './commands.js';
import { FrameHub } from './frame-hub.js';
import { MjpegSplitter } from './mjpeg-splitter.js';
import { Mutex } from './mutex.js';
import { CameraPidFile } from './pidfile.js';
import { placeholderJpeg } from './placeholder.js';
import { Backoff, classifyExit, describeExit, type ExitInfo, ManagedProcess } from './process.js';
import type { CameraDriver, CameraMode, CameraState, CameraStatus, StillTiming } from './types.js';

const log = createLogger('camera');

export interface RpicamCameraOptions {
  config: CameraConfig;
  commands: CameraCommands;
  /** Pid file, the armed process's output folder and the simulator's state live here. */
  runDir: string;
  /** Environment of the camera processes (the simulator reads its images and faults from it). */
  env?: NodeJS.ProcessEnv;
  hub?: FrameHub;
  /** Strategy `signal`: how long the preview keeps running after its last viewer left. */
  idleArmDelayMs?: number;
  /** How often the "NO CAMERA" frame is repeated for viewers while the camera is away. */
  placeholderIntervalMs?: number;
}

interface Owner {
  proc: ManagedProcess;
  mode: Exclude<CameraMode, null>;
  /** Set when we stop it on purpose: its exit is not a failure. */
  intended: boolean;
  /** Why the watchdog killed it, if it did. */
  killedFor?: string;
  ready: boolean;
  lineWaiters: Set<(line: string) => void>;
  armed?: { dir: string; pattern: string; captures: number };
}

/**
 * Camera driver over rpicam-apps subprocesses (real ones, or the simulator's through the same code). It owns the
 * camera through exactly one child at a time, restarts it with backoff when it fails, serves placeholder frames
 * when the camera is away, and takes full-resolution stills with the configured strategy.
 */
export class RpicamCamera implements CameraDriver {
  readonly frames: FrameHub;
  private readonly cfg: CameraConfig;
  private readonly lock = new Mutex();
  private readonly pidFile: CameraPidFile;
  private readonly backoff: Backoff;
  private readonly listeners = new Set<(s: CameraStatus) => void>();
  private readonly env: NodeJS.ProcessEnv;
  private st: CameraStatus = { state: 'stopped', mode: null, restarts: 0, since: new Date().toISOString() };
  private owner?: Owner;
  private running = false;
  private restartTimer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;
  /** Whom the watchdog guards and with which timeout: a frame for the same owner only restarts the same timer. */
  private watchdogKey?: { o: Owner; ms: number };
  private idleTimer?: NodeJS.Timeout;
  private placeholderTimer?: NodeJS.Timeout;
  private placeholderCache = new Map<string, Buffer>();
  private unsubscribeCount?: () => void;
  private capturing = 0;

  constructor(private readonly opts: RpicamCameraOptions) {
    validateExtraArgs(opts.config.extraArgs);
    this.cfg = opts.config;
    this.frames = opts.hub ?? new FrameHub();
    this.pidFile = new CameraPidFile(path.join(opts.runDir, 'camera.pid'));
    this.backoff = new Backoff(opts.config.backoff.initialMs, opts.config.backoff.maxMs);
    this.env = { ...(opts.env ?? process.env) };
  }

  get strategy(): 'switch' | 'signal' {
    return this.cfg.capture.strategy;
  }

  status(): CameraStatus {
    return { ...this.st };
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
    if (this.strategy === 'switch') return 'preview';
    return this.frames.subscriberCount > 0 ? 'preview' : 'armed';
  }

  /** Must run under the lock. */
  private async spawnDesired(): Promise<void> {
    if (!this.running || this.owner || this.restartTimer) return;
    const mode = this.desiredMode();
    if (mode === 'preview') this.spawnPreview();
    else await this.spawnArmed();
  }

  /** Must run under the lock. Resolves once the child is gone (never two camera owners). */
  private async stopOwner(): Promise<void> {
    const o = this.owner;
    if (!o) return;
    o.intended = true;
    this.clearWatchdog();
    await o.proc.stop({ polite: 'SIGUSR2', graceMs: 1500 });
    // The exit handler clears this.owner; make sure even if it has not run yet.
    if (this.owner === o) this.owner = undefined;
  }

  private register(proc: ManagedProcess, mode: Owner['mode'], extra: Partial<Owner> = {}): Owner {
    const o: Owner = { proc, mode, intended: false, ready: false, lineWaiters: new Set(), ...extra };
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

  private async spawnArmed(): Promise<void> {
    const dir = path.join(this.opts.runDir, 'armed');
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(dir, { recursive: true });
    const pattern = path.join(dir, 'still-%04d.jpg');
    const args = armedArgv(this.cfg, pattern);
    log.debug('arming still process', { command: this.opts.commands.still, args: args.join(' ') });
    let o: Owner | undefined;
    const proc = new ManagedProcess({
      command: this.opts.commands.still,
      args,
      env: this.childEnv(),
      onStderrLine: (line) => {
        if (!o) return;
        if (/^Viewfinder frame \d+/.test(line)) this.onLive(o);
        for (const w of o.lineWaiters) w(line);
      },
    });
    o = this.register(proc, 'armed', { armed: { dir, pattern, captures: 0 } });
  }

  /** A frame (preview JPEG or viewfinder tick) arrived: the camera is alive. */
  private onLive(o: Owner): void {
    if (!o.ready) {
      o.ready = true;
      this.backoff.reset();
      this.stopPlaceholder();
      log.info('camera streaming', { mode: o.mode, pid: o.proc.pid });
      if (this.capturing === 0) this.setState('streaming', o.mode, undefined);
    }
    this.armWatchdog(o);
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
    const delay = this.backoff.next();
    this.st.restarts++;
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

  private armWatchdog(o: Owner): void {
    // Opening a camera can take seconds (slow sensors, AE settling); a stall once streaming is caught sooner.
    const ms = o.ready ? this.cfg.frameTimeoutMs : Math.max(this.cfg.frameTimeoutMs, this.cfg.startTimeoutMs);
    // Called for every frame: restart the running timer instead of allocating a new one.
    if (this.watchdog && this.watchdogKey?.o === o && this.watchdogKey.ms === ms) {
      this.watchdog.refresh();
      return;
    }
    this.clearWatchdog();
    this.watchdogKey = { o, ms };
    this.watchdog = setTimeout(() => {
      if (this.owner !== o || o.intended) return;
      o.killedFor = `no frame from the camera for ${ms} ms (${o.mode}${o.ready ? '' : ', starting'}); last output: ${o.proc.stderrTail().slice(-3).join(' | ') || 'none'}`;
      log.warn('camera stalled, killing it', { pid: o.proc.pid, mode: o.mode });
      void o.proc.stop({ graceMs: 1000 });
    }, ms);
  }

  private clearWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
    this.watchdogKey = undefined;
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
    if (!this.running || this.strategy !== 'signal') return;
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

  async captureStill(outPath: string): Promise<StillTiming> {
    if (!this.running) throw new UnavailableError('the camera is not running', 'camera-stopped');
    if (this.st.state === 'absent')
      throw new UnavailableError(`no camera available: ${this.st.lastError ?? 'not detected'}`, 'camera-absent');
    return this.lock.run(async () => {
      if (!this.running) throw new UnavailableError('the camera is not running', 'camera-stopped');
      this.capturing++;
      const prevMode = this.owner?.mode ?? null;
      this.setState('capturing', prevMode, undefined);
      try {
        const o = this.owner;
        if (o?.mode === 'armed' && o.ready && o.proc.running) return await this.captureSignal(o, outPath);
        return await this.captureSwitch(outPath);
      } finally {
        this.capturing--;
        if (this.owner?.ready) this.setState('streaming', this.owner.mode, undefined);
        else if (this.st.state === 'capturing') this.setState('starting', null, undefined);
        // Resume the preview (or re-arm) without making the caller wait for it.
        if (!this.owner && !this.restartTimer) void this.lock.run(() => this.spawnDesired());
      }
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
    const args = stillArgv(this.cfg, outPath);
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
    if (o.killedFor) throw new UnavailableError(`${o.killedFor}; ${describeExit(info)}`, 'camera-timeout');
    const kind = classifyExit(info);
    if (kind !== 'clean') {
      await fs.rm(outPath, { force: true });
      this.failCapture(kind, info);
    }
    return { strategy: 'switch', commandIssuedAt, exposureDoneAt: exposureDoneAt || writtenAt, writtenAt };
  }

  private failCapture(kind: 'busy' | 'absent' | 'crashed', info: ExitInfo): never {
    const why = describeExit(info);
    if (kind === 'absent') {
      this.setState('absent', null, why);
      this.startPlaceholder('absent');
      throw new UnavailableError(`no camera available: ${why}`, 'camera-absent');
    }
    if (kind === 'busy') throw new UnavailableError(`the camera is in use by another program: ${why}`, 'camera-busy');
    throw new UnavailableError(`the still capture failed: ${why}`, 'camera-failed');
  }

  /** Strategy `signal`, armed: SIGUSR1 to the open rpicam-still --zsl; no process start, no mode switch. */
  private async captureSignal(o: Owner, outPath: string): Promise<StillTiming> {
    const armed = o.armed as NonNullable<Owner['armed']>;
    const file = path.join(armed.dir, `still-${String(armed.captures).padStart(4, '0')}.jpg`);
    armed.captures++;
    let exposureDoneAt = 0;
    let writtenAt = 0;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        o.lineWaiters.delete(onLine);
        reject(new UnavailableError(`capture timed out after ${this.cfg.capture.timeoutMs} ms`, 'camera-timeout'));
      }, this.cfg.capture.timeoutMs);
      const onLine = (line: string) => {
        if (line === '') {
          clearTimeout(timer);
          o.lineWaiters.delete(onLine);
          reject(
            new UnavailableError(
              `the camera process exited during the capture: ${o.proc.stderrTail().slice(-3).join(' | ')}`,
              'camera-failed',
            ),
          );
        } else if (!exposureDoneAt && line.includes('Still capture image received')) {
          exposureDoneAt = performance.now();
        } else if (exposureDoneAt && /^Viewfinder frame \d+/.test(line)) {
          // rpicam-still saves the file before it handles the next frame.
          writtenAt = performance.now();
          clearTimeout(timer);
          o.lineWaiters.delete(onLine);
          resolve();
        }
      };
      o.lineWaiters.add(onLine);
    });
    const commandIssuedAt = performance.now();
    o.proc.signal('SIGUSR1');
    try {
      await done;
    } catch (e) {
      // A wedged camera: kill it, the supervisor restarts it.
      o.killedFor = (e as Error).message;
      if (o.proc.running) await o.proc.stop({ graceMs: 1000 });
      throw e;
    }
    // Our own count names the file; should the app number its captures differently, the folder only ever holds
    // the capture just taken (each one is moved out), so the newest JPEG there is it.
    let source = file;
    try {
      await fs.access(file);
    } catch {
      const names = (await fs.readdir(armed.dir)).filter((n) => n.endsWith('.jpg')).sort();
      if (names.length === 0)
        throw new UnavailableError('the camera reported a capture but wrote no file', 'camera-failed');
      source = path.join(armed.dir, names[names.length - 1]);
    }
    await moveFile(source, outPath);
    return { strategy: 'signal', commandIssuedAt, exposureDoneAt, writtenAt };
  }
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

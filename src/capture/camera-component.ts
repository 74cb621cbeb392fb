import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Component, ControlHandler } from '../component.js';
import { type BoardInfo, detectBoardSync, zslPlan } from '../config/board-profile.js';
import { appRoot } from '../config/locate.js';
import type { PinholeConfig } from '../config/schema.js';
import type { EventBus } from '../events.js';
import { cameraCommands } from '../hw/camera/commands.js';
import { FrameHub } from '../hw/camera/frame-hub.js';
import { NullCamera } from '../hw/camera/null-camera.js';
import { RpicamCamera } from '../hw/camera/rpicam-camera.js';
import { FAULT_SYNTAX, parseFault } from '../hw/camera/sim/fault.js';
import type { CameraDriver, CameraStatus } from '../hw/camera/types.js';
import { GalleryStore, type StatfsFn } from '../store/gallery.js';
import { ValidationError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { CaptureService } from './capture-service.js';

declare module '../events.js' {
  interface PinholeEvents {
    'camera.state': CameraStatus;
  }
}

const log = createLogger('camera');

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(appRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export interface CameraComponentOptions {
  config: PinholeConfig;
  bus: EventBus;
  /** Tests: a fake statfs (full disk). */
  statfs?: StatfsFn;
  /** Base environment of camera processes (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Strategy `signal`: how long the preview keeps running after the last viewer left (ms). */
  idleArmDelayMs?: number;
  /** The daemon's version, for the EXIF Software tag ("Pinhole <version>"). */
  version?: string;
  /** The daemon's clock source (capture time, EXIF DateTimeOriginal). */
  now?: () => Date;
  /** Tests: the board the camera memory plan is made for (default: this machine's). */
  board?: BoardInfo;
}

/**
 * Camera + gallery + capture pipeline as one daemon component. The frame hub, the gallery and the capture service
 * are stable objects for the lifetime of the component (the web server keeps references); the camera driver
 * behind them is rebuilt when camera settings change.
 */
export class CameraComponent implements Component {
  readonly name = 'camera';
  readonly configSections = ['camera', 'storage', 'dataDir'] as const;
  readonly frames = new FrameHub();
  readonly gallery: GalleryStore;
  readonly captures: CaptureService;
  private cfg: PinholeConfig;
  private driver: CameraDriver;
  private offStatus?: () => void;
  /** Set by `pinhole sim fault`; survives a driver rebuild. undefined = leave the environment as it is. */
  private simFault?: string | null;
  private board?: BoardInfo;

  constructor(private readonly opts: CameraComponentOptions) {
    this.cfg = opts.config;
    this.gallery = new GalleryStore({
      dataDir: this.cfg.dataDir,
      storage: () => this.cfg.storage,
      bus: opts.bus,
      statfs: opts.statfs,
    });
    this.driver = this.makeDriver();
    // The service reads the driver through a getter-like proxy object so a rebuilt driver is picked up.
    const self = this;
    const cameraRef: CameraDriver = {
      get frames() {
        return self.frames;
      },
      start: () => self.driver.start(),
      stop: () => self.driver.stop(),
      status: () => self.driver.status(),
      captureStill: (p) => self.driver.captureStill(p),
      captureBurst: (o) => self.driver.captureBurst(o),
      onStatus: (l) => self.driver.onStatus(l),
    };
    this.captures = new CaptureService({
      camera: cameraRef,
      store: this.gallery,
      bus: opts.bus,
      config: () => this.cfg.camera,
      software: `Pinhole ${opts.version ?? packageVersion()}`,
      now: opts.now,
      burstDir: this.burstDir,
    });
  }

  /** Burst frames wait here for their caller; whatever a stopped daemon left is deleted at start. */
  get burstDir(): string {
    return path.join(this.cfg.dataDir, 'tmp', 'bursts');
  }

  get camera(): CameraDriver {
    return this.driver;
  }

  get runDir(): string {
    return path.join(this.cfg.dataDir, 'run');
  }

  cameraStatus(): CameraStatus {
    return this.driver.status();
  }

  async start(): Promise<void> {
    await this.gallery.open();
    await fs.rm(this.burstDir, { recursive: true, force: true }).catch(() => {});
    await this.startDriver();
  }

  async stop(): Promise<void> {
    this.offStatus?.();
    await this.driver.stop();
  }

  async reconfigure(next: PinholeConfig, prev: PinholeConfig): Promise<'applied' | 'restart'> {
    if (next.dataDir !== prev.dataDir) return 'restart';
    this.cfg = next;
    // Keys read at each use (busy policy, capture modes) do not restart the camera.
    const strip = (c: PinholeConfig['camera']) =>
      JSON.stringify({
        ...c,
        capture: {
          ...c.capture,
          busyPolicy: null,
          queueLimit: null,
          smile: null,
          bestShot: null,
          gesture: null,
          night: null,
        },
      });
    if (strip(next.camera) !== strip(prev.camera)) {
      log.info('camera settings changed, restarting the camera');
      this.offStatus?.();
      await this.driver.stop();
      this.driver = this.makeDriver();
      await this.startDriver();
    }
    return 'applied';
  }

  status(): unknown {
    return {
      camera: this.driver.status(),
      photos: this.gallery.count,
      capture: { busy: this.captures.busy, queued: this.captures.queued },
      viewers: this.frames.subscriberCount,
    };
  }

  controlMethods(): Record<string, ControlHandler> {
    return {
      capture: async (params) => {
        const source = typeof params.source === 'string' ? params.source.slice(0, 32) : 'cli';
        return this.captures.capture({ source });
      },
      'sim.fault': async (params) => this.setSimFault(params.mode),
      'camera.status': async () => this.driver.status(),
    };
  }

  /** `pinhole sim fault MODE|none`: the next camera processes run with this fault; the current one is restarted. */
  async setSimFault(mode: unknown): Promise<{ mode: string; status: CameraStatus }> {
    if (this.cfg.camera.backend !== 'sim') throw new ValidationError('sim fault needs camera.backend: sim');
    if (typeof mode !== 'string') throw new ValidationError(`mode is required (${FAULT_SYNTAX})`);
    const fault = parseFault(mode);
    if (fault.kind === 'invalid') throw new ValidationError(fault.message);
    const stateDir = this.simStateDir();
    await fs.rm(path.join(stateDir, 'busy-remaining'), { force: true });
    log.warn('simulated camera fault set', { mode });
    this.simFault = fault.kind === 'none' ? null : mode;
    await (this.driver as RpicamCamera).setEnv({ PINHOLE_FAKE_CAMERA_FAULT: this.simFault ?? undefined });
    return { mode, status: this.driver.status() };
  }

  private simStateDir(): string {
    return path.join(this.runDir, 'sim-camera');
  }

  private boardInfo(): BoardInfo {
    if (!this.board) this.board = this.opts.board ?? detectBoardSync();
    return this.board;
  }

  private makeDriver(): CameraDriver {
    const c = this.cfg.camera;
    if (c.backend === 'none') return new NullCamera(this.frames);
    const env: NodeJS.ProcessEnv = { ...(this.opts.env ?? process.env) };
    if (c.backend === 'sim') {
      env.PINHOLE_FAKE_CAMERA_STATE_DIR = this.simStateDir();
      if (c.sim.images) env.PINHOLE_SIM_IMAGES = c.sim.images;
      else delete env.PINHOLE_SIM_IMAGES;
      if (this.simFault === null) delete env.PINHOLE_FAKE_CAMERA_FAULT;
      else if (this.simFault) env.PINHOLE_FAKE_CAMERA_FAULT = this.simFault;
    }
    return new RpicamCamera({
      config: c,
      commands: cameraCommands(c.backend),
      runDir: this.runDir,
      env,
      hub: this.frames,
      idleArmDelayMs: this.opts.idleArmDelayMs,
      zsl: zslPlan(this.boardInfo(), c.capture),
    });
  }

  private async startDriver(): Promise<void> {
    this.offStatus = this.driver.onStatus((s) => this.opts.bus.emit('camera.state', s));
    this.opts.bus.emit('camera.state', this.driver.status());
    await this.driver.start();
  }
}

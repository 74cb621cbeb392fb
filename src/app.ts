import { promises as fs } from 'node:fs';
import path from 'node:path';
import { AnalysisComponent } from './analysis/component.js';
import { modesFactory, peopleFactory } from './app-faces.js';
import { CameraComponent } from './capture/camera-component.js';
import type { CaptureResult } from './capture/capture-service.js';
import type { ModesComponent } from './capture/modes-component.js';
import type { Component } from './component.js';
import type { PinholeConfig } from './config/schema.js';
import type { ConfigStore } from './config/store.js';
import { ControlServer } from './control/server.js';
import type { EventBus } from './events.js';
import { FilterJobs } from './filters/jobs.js';
import { filterDepsFromConfig } from './filters/setup.js';
import { ChildJobRunner } from './filters/worker/child-runner.js';
import type { ButtonActionHandlers } from './hw/gpio/actions.js';
import { GpioComponent } from './hw/gpio/gpio-component.js';
import { ledStateForCamera } from './hw/gpio/led-state.js';
import { requestPoweroff } from './hw/gpio/poweroff.js';
import { type ComponentFactory, Lifecycle } from './lifecycle.js';
import { mqttDepsFor } from './mqtt/deps.js';
import { MqttComponent } from './mqtt/mqtt-component.js';
import { SyncComponent } from './sync/sync-component.js';
import { powerActions, realProbe } from './system/status.js';
import { writeFileAtomic } from './util/atomic-write.js';
import { errorMessage, UnavailableError } from './util/errors.js';
import { createLogger } from './util/logger.js';
import { priorityOfNice } from './util/low-priority.js';
import { LiveFaces } from './vision/live-faces.js';
import { embedFaceRegions } from './vision/xmp.js';
import { createWebServer, type WebServer } from './web/server.js';
import { createWebServices } from './web-services.js';

const log = createLogger('app');

export interface AppOptions {
  version: string;
  /** True under `npm start`: sim GPIO on a non-Pi, one-time login link printed, power actions only logged. */
  dev: boolean;
  /** Called once the web UI serves (systemd READY=1). */
  onReady?: (info: { url?: string }) => void;
}

/** Cheap looks the `next-filter` button cycles through, after the recipes of the config. */
const BUTTON_LOOKS = ['auto', 'film', 'sepia', 'faded', 'vignette', 'grain', 'lowlight'];

/**
 * The composition root: builds every component from config and wires them together. No logic of its own lives
 * here beyond "who talks to whom". Components are looked up per call (`this.camera()`), because a config change
 * may restart one and replace its instance.
 */
export class App {
  readonly lifecycle: Lifecycle;
  private readonly control: ControlServer;
  private readonly startedAt = new Date();
  private web?: WebServer;
  /** The filter or recipe the `next-filter` button selected, applied to button captures; null = none. */
  private selectedLook: string | null = null;
  private readonly offs: (() => void)[] = [];

  constructor(
    private readonly store: ConfigStore,
    private readonly bus: EventBus,
    private readonly opts: AppOptions,
  ) {
    this.control = new ControlServer(store.config.control.socket);
    this.lifecycle = new Lifecycle(this.factories(), store.config, bus);
  }

  camera(): CameraComponent {
    const c = this.lifecycle.get<CameraComponent>('camera');
    if (!c) throw new UnavailableError('the camera component is not running', 'camera-stopped');
    return c;
  }

  faces(): LiveFaces | undefined {
    return this.lifecycle.get<LiveFaces>('faces');
  }

  filters(): FilterJobs {
    const f = this.lifecycle.get<FilterJobs>('filters');
    if (!f) throw new UnavailableError('the filter queue is not running', 'filters-stopped');
    return f;
  }

  modes(): ModesComponent {
    const m = this.lifecycle.get<ModesComponent>('modes');
    if (!m) throw new UnavailableError('the capture modes are not running', 'modes-stopped');
    return m;
  }

  sync(): SyncComponent | undefined {
    return this.lifecycle.get<SyncComponent>('sync');
  }

  gpio(): GpioComponent | undefined {
    return this.lifecycle.get<GpioComponent>('gpio');
  }

  private factories(): ComponentFactory[] {
    return [
      {
        name: 'camera',
        optional: false,
        create: (cfg) => new CameraComponent({ config: cfg, bus: this.bus, version: this.opts.version }),
      },
      {
        name: 'faces',
        optional: true,
        create: (cfg) =>
          new LiveFaces({
            config: cfg,
            bus: this.bus,
            // Passive: faces are drawn on a viewfinder someone watches; detection alone must not keep the preview
            // running (with strategy `signal` an idle camera waits armed for the shutter instead).
            frames: { subscribe: (cb) => this.camera().frames.subscribe((f) => cb(f.data, f), { passive: true }) },
          }),
      },
      { name: 'analysis', optional: true, create: (cfg) => new AnalysisComponent({ config: cfg }) },
      {
        name: 'filters',
        optional: true,
        create: (cfg) => {
          const workDir = path.join(cfg.dataDir, 'tmp', 'filters');
          const deps = filterDepsFromConfig(cfg, { workDir });
          // Face-aware filters use the live detector's session when it is loaded: one YuNet in memory, not two.
          const own = deps.faces;
          if (own) {
            deps.faces = {
              find: async (file) => (await this.faces()?.detectPhoto(file))?.faces ?? own.find(file),
              problem: async () => {
                const state = this.faces()?.status().state;
                return state === 'running' || state === 'disabled' ? undefined : own.problem?.();
              },
              release: async () => own.release?.(),
            };
          }
          return new FilterJobs({
            deps,
            target: this.variantTarget(),
            bus: this.bus,
            stateFile: path.join(cfg.dataDir, 'state', 'filter-jobs.json'),
            workers: cfg.filters.workers,
            queueLimit: cfg.filters.queueLimit,
            onCapture: cfg.filters.onCapture,
            // Jobs run in a low-priority worker process: they never compete with the shutter, preview or faces.
            runner: new ChildJobRunner({
              config: cfg,
              workDir,
              faces: deps.faces,
              idleExitMs: cfg.filters.idleReleaseSeconds * 1000,
              priority: priorityOfNice(cfg.filters.nice),
            }),
          });
        },
      },
      modesFactory(this, this.bus),
      peopleFactory(this, this.bus),
      {
        name: 'gpio',
        optional: true,
        create: (cfg) =>
          new GpioComponent({ config: cfg, bus: this.bus, handlers: this.buttonHandlers(), initialLedState: 'busy' }),
      },
      {
        name: 'sync',
        optional: true,
        create: (cfg) =>
          new SyncComponent({
            config: cfg,
            bus: this.bus,
            gallery: () => this.lifecycle.get<CameraComponent>('camera')?.gallery,
          }),
      },
      {
        name: 'mqtt',
        optional: true,
        create: (cfg) =>
          new MqttComponent({ config: cfg, bus: this.bus, deps: mqttDepsFor(this, realProbe(), this.opts.version) }),
      },
      {
        name: 'web',
        optional: true,
        create: (cfg) => {
          this.web = createWebServer(
            cfg,
            createWebServices(this, this.store, this.bus, realProbe(), powerActions(this.opts.dev)),
          );
          return this.web.component;
        },
      },
    ];
  }

  /** The gallery as the filter queue needs it. */
  private variantTarget() {
    return {
      sourcePath: async (photoId: string) => this.camera().gallery.filePath(photoId),
      writeVariant: async (
        photoId: string,
        name: string,
        tmp: string,
        info: { recipe: string; params: unknown; ms: number },
      ) => {
        try {
          await this.camera().gallery.writeVariant(photoId, name, await fs.readFile(tmp), info);
        } finally {
          await fs.rm(tmp, { force: true });
        }
      },
    };
  }

  /** Captures and applies the look selected with the `next-filter` button (or asked for by the web UI). */
  async capture(source: string, look: string | null = null): Promise<CaptureResult> {
    const result = await this.camera().captures.capture({ source });
    if (look) {
      try {
        await this.filters().enqueue(result.id, look);
      } catch (e) {
        log.warn('could not queue the selected look', { look, error: errorMessage(e) });
      }
    }
    return result;
  }

  private buttonHandlers(): ButtonActionHandlers {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    return {
      shutter: () => this.capture('button', this.selectedLook),
      burst: async (n) => {
        for (let i = 0; i < n; i++) await this.capture('button', this.selectedLook);
      },
      timer: async (seconds) => {
        log.info('self-timer', { seconds });
        this.gpio()?.setLedState('busy');
        await sleep(seconds * 1000);
        return this.capture('button', this.selectedLook);
      },
      nextFilter: async () => {
        const cycle: (string | null)[] = [null, ...this.looks()];
        this.selectLook(cycle[(cycle.indexOf(this.selectedLook) + 1) % cycle.length]);
      },
      toggleFaces: async () => {
        const f = this.faces();
        if (!f) throw new UnavailableError('face detection is not running');
        f.setEnabled(!f.isEnabled());
      },
      // Only called by GpioComponent for real Pi backends; sim and none only log it.
      shutdown: () => requestPoweroff(),
      smileShutter: () => this.modes().arm('smile-shutter', 'button'),
      gestureShutter: () => this.modes().arm('gesture-shutter', 'button'),
      bestShot: () => this.modes().takeBestShot('button'),
      nightBurst: () => this.modes().takeNight('button'),
      scan: () => this.modes().takeScan('button'),
    };
  }

  /** The looks a button or Home Assistant can select: the config's recipes, then the cheap built-in looks. */
  looks(): string[] {
    return [...Object.keys(this.store.config.filters.recipes), ...BUTTON_LOOKS];
  }

  selectLook(look: string | null): void {
    this.selectedLook = look !== null && this.looks().includes(look) ? look : null;
    log.info('look selected', { look: this.selectedLook ?? 'none' });
    this.bus.emit('look.selected', { look: this.selectedLook });
  }

  get url(): string | undefined {
    return this.web?.url;
  }

  get look(): string | null {
    return this.selectedLook;
  }

  /** Faces of every new photo: kept in the sidecar and embedded as XMP face regions (MWG) in the JPEG. */
  private async recordFaces(id: string): Promise<void> {
    const faces = this.faces();
    if (!faces) return;
    const gallery = this.camera().gallery;
    const file = gallery.filePath(id);
    const result = await faces.detectPhoto(file);
    if (!result) return;
    // expressions go into the sidecar; descriptors never do (People keeps them in its own store)
    const analysis = this.lifecycle.get<AnalysisComponent>('analysis');
    const expressions = await analysis?.sidecarExpressions(file, result.faces);
    await gallery.update(id, {
      faces: {
        detector: this.store.config.vision.faces.model,
        width: result.width,
        height: result.height,
        items: expressions?.items ?? result.faces,
        ...(expressions?.analysis ? { analysis: expressions.analysis } : {}),
      },
    });
    if (result.faces.length === 0) return;
    // Metadata only: the pixels of the original are untouched; the swap is atomic.
    const jpeg = await fs.readFile(file);
    await writeFileAtomic(file, embedFaceRegions(jpeg, result.faces, result.width, result.height));
    log.info('faces recorded', { id, faces: result.faces.length });
  }

  private wire(): void {
    this.offs.push(
      this.bus.on('camera.state', (s) => this.gpio()?.setLedState(ledStateForCamera(s.state))),
      this.bus.on('photo.captured', async (p) => {
        await this.recordFaces(p.id).catch((e: unknown) =>
          log.warn('face detection of the photo failed', { id: p.id, error: errorMessage(e) }),
        );
        // The file is final now (faces embedded): sync and MQTT may read it.
        this.bus.emit('photo.ready', { id: p.id });
        await this.lifecycle.get<FilterJobs>('filters')?.onCaptured(p.id);
      }),
      // A best-shot alternate promoted: the photo shows other faces now.
      this.bus.on('photo.replaced', (p) =>
        this.recordFaces(p.id).catch((e: unknown) =>
          log.warn('face detection of the photo failed', { id: p.id, error: errorMessage(e) }),
        ),
      ),
    );
  }

  async start(): Promise<void> {
    // The control socket comes first so `pinhole status` answers while the rest starts.
    this.control.handleAll({
      status: async () => this.status(),
      'config.reload': async () => {
        await this.store.reload();
        return this.store.status();
      },
    });
    await this.control.start();
    this.wire();
    await this.lifecycle.start();
    for (const state of this.lifecycle.states()) {
      const c = this.lifecycle.get<Component>(state.name);
      for (const method of Object.keys(c?.controlMethods?.() ?? {})) {
        // Look the component up per call: after a restart for a config change it is a new instance.
        this.control.handle(method, async (params) => {
          const current = this.lifecycle.get<Component>(state.name)?.controlMethods?.()[method];
          if (!current) throw new UnavailableError(`${state.name} is not running`);
          return current(params);
        });
      }
    }
    // `pinhole capture` goes through the same path as the buttons and the web UI (look + faces).
    this.control.handle('capture', async (params) =>
      this.capture(typeof params.source === 'string' ? params.source : 'cli'),
    );
    const url = this.web?.url;
    log.info('ready', { version: this.opts.version, config: this.store.file, url });
    if (this.opts.dev && this.web?.url) {
      // Printed, not logged with fields: the owner copies it from the terminal.
      process.stdout.write(
        `\n  Pinhole is running: ${this.web.url}\n  One-time login link (valid 10 minutes): ${this.web.oneTimeLoginUrl()}\n\n`,
      );
    }
    this.opts.onReady?.({ url });
  }

  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
    await this.lifecycle.stop();
    await this.control.stop();
  }

  status(): Record<string, unknown> {
    const cfg = this.store.status();
    return {
      version: this.opts.version,
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      config: cfg,
      configErrors: cfg.errors.length,
      look: this.selectedLook,
      memory: process.memoryUsage(),
      components: this.lifecycle.states(),
    };
  }

  get config(): PinholeConfig {
    return this.store.config;
  }
}

declare module './events.js' {
  interface PinholeEvents {
    'look.selected': { look: string | null };
  }
}

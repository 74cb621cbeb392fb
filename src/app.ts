import type { Component } from './component.js';
import type { PinholeConfig } from './config/schema.js';
import type { ConfigStore } from './config/store.js';
import { ControlServer } from './control/server.js';
import type { EventBus } from './events.js';
import { type ComponentFactory, Lifecycle } from './lifecycle.js';
import { UnavailableError } from './util/errors.js';
import { createLogger } from './util/logger.js';

const log = createLogger('app');

export interface AppOptions {
  version: string;
  /** True under `npm start`: sim GPIO on a non-Pi, one-time login link printed. */
  dev: boolean;
}

/**
 * The composition root: builds every component from config and wires them together. No logic of its own lives
 * here beyond "who talks to whom".
 */
export class App {
  readonly lifecycle: Lifecycle;
  private readonly control: ControlServer;
  private readonly startedAt = new Date();

  constructor(
    private readonly store: ConfigStore,
    private readonly bus: EventBus,
    private readonly opts: AppOptions,
  ) {
    this.control = new ControlServer(store.config.control.socket);
    this.lifecycle = new Lifecycle(this.factories(), store.config, bus);
  }

  private factories(): ComponentFactory[] {
    return [];
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
    log.info('ready', { version: this.opts.version, config: this.store.file });
  }

  async stop(): Promise<void> {
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
      components: this.lifecycle.states(),
    };
  }

  get config(): PinholeConfig {
    return this.store.config;
  }
}

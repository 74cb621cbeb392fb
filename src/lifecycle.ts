import type { Component } from './component.js';
import type { ConfigSection, PinholeConfig } from './config/schema.js';
import type { EventBus } from './events.js';
import { errorMessage } from './util/errors.js';
import { createLogger } from './util/logger.js';

const log = createLogger('app');

/** Builds one component from the current config; called again when that component must restart. */
export interface ComponentFactory {
  readonly name: string;
  /** Optional components may fail to start: the daemon runs without them and status says why. */
  readonly optional: boolean;
  create(config: PinholeConfig): Component | Promise<Component>;
}

interface Slot {
  factory: ComponentFactory;
  component?: Component;
  error?: string;
}

export interface ComponentState {
  name: string;
  running: boolean;
  error?: string;
  status?: unknown;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]);
}

/**
 * Starts components in order and stops them in reverse, each stop bounded in time. On a config change, the
 * components that read a changed section are reconfigured live or restarted in-process.
 */
export class Lifecycle {
  private readonly slots: Slot[];
  private config: PinholeConfig;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    factories: ComponentFactory[],
    config: PinholeConfig,
    private readonly bus: EventBus,
    private readonly stopTimeoutMs = 5000,
  ) {
    this.slots = factories.map((factory) => ({ factory }));
    this.config = config;
  }

  async start(): Promise<void> {
    for (const slot of this.slots) await this.startSlot(slot);
    this.bus.on('config.changed', ({ config, sections }) => {
      // Serialise: a burst of edits applies in order, never concurrently.
      this.chain = this.chain.then(() => this.apply(config, sections));
      return this.chain;
    });
  }

  async stop(): Promise<void> {
    await this.chain.catch(() => {});
    for (const slot of [...this.slots].reverse()) await this.stopSlot(slot);
  }

  /** Resolves once every config change announced so far has been applied. */
  settled(): Promise<void> {
    return this.chain.catch(() => {});
  }

  get<T extends Component>(name: string): T | undefined {
    return this.slots.find((s) => s.factory.name === name)?.component as T | undefined;
  }

  states(): ComponentState[] {
    return this.slots.map((s) => {
      let status: unknown;
      try {
        status = s.component?.status?.();
      } catch (e) {
        status = { error: errorMessage(e) };
      }
      return { name: s.factory.name, running: Boolean(s.component), error: s.error, status };
    });
  }

  private async startSlot(slot: Slot): Promise<void> {
    const name = slot.factory.name;
    try {
      const c = await slot.factory.create(this.config);
      await c.start();
      slot.component = c;
      slot.error = undefined;
      log.info('started', { component: name });
    } catch (e) {
      slot.component = undefined;
      slot.error = errorMessage(e);
      if (!slot.factory.optional) throw e;
      log.error('component failed to start; running without it', { component: name, error: slot.error });
    }
  }

  private async stopSlot(slot: Slot): Promise<void> {
    const c = slot.component;
    if (!c) return;
    slot.component = undefined;
    try {
      await withTimeout(c.stop(), this.stopTimeoutMs, `stopping ${c.name}`);
      log.info('stopped', { component: c.name });
    } catch (e) {
      log.error('stop failed', { component: c.name, error: errorMessage(e) });
    }
  }

  private async apply(next: PinholeConfig, sections: ConfigSection[]): Promise<void> {
    const prev = this.config;
    this.config = next;
    // dataDir moves everything: restart all components that depend on it.
    const all = sections.includes('dataDir');
    for (const slot of this.slots) {
      const c = slot.component;
      const touched = c ? all || c.configSections.some((s) => sections.includes(s)) : slot.error !== undefined;
      if (!touched) continue;
      try {
        if (c?.reconfigure && !all) {
          const r = await c.reconfigure(next, prev);
          if (r === 'applied') {
            log.info('reconfigured', { component: c.name });
            continue;
          }
        }
        log.info('restarting for the new config', { component: slot.factory.name });
        await this.stopSlot(slot);
        await this.startSlot(slot);
      } catch (e) {
        slot.error = errorMessage(e);
        log.error('applying the new config failed', { component: slot.factory.name, error: slot.error });
      }
    }
  }
}

import { promises as fs } from 'node:fs';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Component, ControlHandler } from '../component.js';
import type { PinholeConfig } from '../config/schema.js';
import type { EventBus } from '../events.js';
import { deviceIdOf } from '../util/device-id.js';
import { errorMessage } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { type DeviceState, discoveryMessages, NO_LOOK, parseCommand, type Topics, topicsFor } from './discovery.js';

const log = createLogger('mqtt');

declare module '../events.js' {
  interface PinholeEvents {
    'mqtt.state': { connected: boolean; lastError: string | null };
  }
}

/** What MQTT reads and drives; the composition root adapts the real components (src/mqtt/deps.ts). */
export interface MqttDeps {
  version: string;
  capture(): Promise<unknown>;
  facesEnabled(): boolean | null;
  setFaces(on: boolean): void;
  looks(): string[];
  look(): string | null;
  setLook(look: string | null): void;
  state(): Promise<Omit<DeviceState, 'faces' | 'look'>>;
  /** The last photo as a small JPEG (its thumbnail). */
  lastPhoto(): Promise<Buffer | undefined>;
}

export interface MqttComponentOptions {
  config: PinholeConfig;
  bus: EventBus;
  deps: MqttDeps;
}

const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 60_000;

/**
 * Home Assistant over MQTT: an adapter at the edge with one client. Discovery configs, availability (with a
 * last-will `offline`), retained state and last photo; commands from HA validated before anything acts on them.
 * Reconnects with capped exponential backoff; a broker that goes away never takes the camera with it.
 */
export class MqttComponent implements Component {
  readonly name = 'mqtt';
  readonly configSections = ['mqtt'] as const;
  private client?: MqttClient;
  private connected = false;
  private lastError: string | null = null;
  private attempt = 0;
  private readonly offs: (() => void)[] = [];
  private stateTimer?: NodeJS.Timeout;
  private pending?: NodeJS.Timeout;
  private readonly deviceId: string;
  private readonly base: string;
  private readonly topics: Topics;
  private readonly haStatus: string;
  private lastWarn = new Map<string, number>();
  private publishedLooks = '';

  constructor(private readonly opts: MqttComponentOptions) {
    const c = opts.config.mqtt;
    this.deviceId = deviceIdOf(opts.config);
    this.base = c.baseTopic ?? `pinhole/${this.deviceId}`;
    this.topics = topicsFor(this.base);
    this.haStatus = `${c.discoveryPrefix}/status`;
  }

  get enabled(): boolean {
    return this.opts.config.mqtt.url !== null;
  }

  /** Never throws: a broker that is down or a missing password file is a status, not a failed daemon. */
  async start(): Promise<void> {
    const c = this.opts.config.mqtt;
    if (!c.url) return;
    let password: string | undefined;
    try {
      if (c.passwordFile) password = (await fs.readFile(c.passwordFile, 'utf8')).replace(/\r?\n$/, '');
      const tls: Partial<IClientOptions> = {};
      if (c.tls.ca) tls.ca = await fs.readFile(c.tls.ca);
      tls.rejectUnauthorized = c.tls.rejectUnauthorized;
      // Loaded only when a broker is configured: MQTT.js costs every `pinhole` CLI call ~0.3 s of CPU at import
      // and the daemon its memory on a Zero 2 W that has no broker.
      const { default: mqtt } = await import('mqtt');
      this.client = mqtt.connect(c.url, {
        clientId: `${this.deviceId}-${process.pid}`,
        username: c.username ?? undefined,
        password,
        clean: true,
        keepalive: 30,
        connectTimeout: 10_000,
        reconnectPeriod: MIN_BACKOFF_MS,
        // Messages published while offline are not queued forever: state is republished on reconnect anyway.
        queueQoSZero: false,
        will: { topic: this.topics.availability, payload: Buffer.from('offline'), qos: 1, retain: true },
        ...tls,
      });
    } catch (e) {
      this.setError(`cannot start MQTT: ${errorMessage(e)}`);
      return;
    }
    const client = this.client;
    client.on('connect', () => {
      this.attempt = 0;
      client.options.reconnectPeriod = MIN_BACKOFF_MS;
      this.connected = true;
      this.lastError = null;
      log.info('connected', { broker: redactUrl(c.url ?? ''), base: this.base });
      this.emitState();
      client.subscribe([this.topics.shutter, this.topics.faces, this.topics.look, this.haStatus], { qos: 1 }, (err) => {
        if (err) this.setError(`subscribe failed: ${err.message}`);
      });
      void this.announce();
    });
    client.on('close', () => {
      if (this.connected) log.warn('disconnected from the broker; reconnecting');
      this.connected = false;
      // Capped exponential backoff: MQTT.js reads reconnectPeriod each time it schedules a reconnect.
      this.attempt++;
      client.options.reconnectPeriod = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** Math.min(this.attempt - 1, 10));
      this.emitState();
    });
    client.on('error', (e) => this.setError(describeMqttError(e)));
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    const bus = this.opts.bus;
    this.offs.push(
      bus.on('photo.captured', () => this.scheduleState()),
      bus.on('photo.ready', () => void this.publishLastPhoto()),
      bus.on('photo.deleted', () => this.scheduleState()),
      bus.on('camera.state', () => this.scheduleState()),
      bus.on('look.selected', () => this.scheduleState()),
      bus.on('sync.changed', () => this.scheduleState()),
    );
    this.stateTimer = setInterval(() => void this.publishState(), c.stateIntervalSeconds * 1000);
  }

  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
    clearInterval(this.stateTimer);
    clearTimeout(this.pending);
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    if (client.connected) {
      await new Promise<void>((r) =>
        client.publish(this.topics.availability, 'offline', { qos: 1, retain: true }, () => r()),
      ).catch(() => {});
    }
    await new Promise<void>((r) => client.end(true, {}, () => r()));
    this.connected = false;
  }

  status(): { connected: boolean; lastError: string | null; deviceId: string; baseTopic: string } | null {
    if (!this.enabled) return null;
    return { connected: this.connected, lastError: this.lastError, deviceId: this.deviceId, baseTopic: this.base };
  }

  controlMethods(): Record<string, ControlHandler> {
    return { 'mqtt.status': async () => this.status() };
  }

  private setError(msg: string): void {
    if (msg !== this.lastError) log.warn('MQTT problem', { error: msg });
    this.lastError = msg;
    this.emitState();
  }

  private emitState(): void {
    this.opts.bus.emit('mqtt.state', { connected: this.connected, lastError: this.lastError });
  }

  private publish(topic: string, payload: string | Buffer, retain = true): Promise<void> {
    const client = this.client;
    if (!client?.connected) return Promise.resolve();
    return new Promise((resolve) => {
      client.publish(topic, payload, { qos: 1, retain }, (err) => {
        // A connection dropped mid-publish: the state is published again on reconnect.
        if (err) log.debug('publish not confirmed', { topic, error: err.message });
        resolve();
      });
    });
  }

  /** Discovery configs, then state, last photo and `online` (HA marks entities available last). */
  private async announce(): Promise<void> {
    const d = this.opts.deps;
    const looks = d.looks();
    this.publishedLooks = looks.join(',');
    const msgs = discoveryMessages({
      deviceId: this.deviceId,
      baseTopic: this.base,
      discoveryPrefix: this.opts.config.mqtt.discoveryPrefix,
      version: d.version,
      looks,
    });
    for (const m of msgs) await this.publish(m.topic, JSON.stringify(m.payload));
    await this.publishState();
    await this.publishLastPhoto();
    await this.publish(this.topics.availability, 'online');
  }

  private scheduleState(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.publishState();
    }, 500);
  }

  private async publishState(): Promise<void> {
    if (!this.client?.connected) return;
    const d = this.opts.deps;
    try {
      if (d.looks().join(',') !== this.publishedLooks) {
        await this.announce();
        return;
      }
      const s: DeviceState = {
        ...(await d.state()),
        faces: d.facesEnabled() ? 'ON' : 'OFF',
        look: d.look() ?? NO_LOOK,
      };
      await this.publish(this.topics.state, JSON.stringify(s));
    } catch (e) {
      log.warn('cannot publish the state', { error: errorMessage(e) });
    }
  }

  private async publishLastPhoto(): Promise<void> {
    if (!this.client?.connected) return;
    try {
      const jpeg = await this.opts.deps.lastPhoto();
      if (jpeg) await this.publish(this.topics.lastPhoto, jpeg);
    } catch (e) {
      log.warn('cannot publish the last photo', { error: errorMessage(e) });
    }
    this.scheduleState();
  }

  private onMessage(topic: string, payload: Buffer): void {
    const d = this.opts.deps;
    const cmd = parseCommand(topic, payload, this.topics, d.looks(), this.haStatus);
    switch (cmd.kind) {
      case 'invalid': {
        // Rate-limited per topic: a flood of junk must not flood the journal.
        const now = Date.now();
        if (now - (this.lastWarn.get(topic) ?? 0) > 10_000) {
          this.lastWarn.set(topic, now);
          log.warn('ignored an MQTT command', { topic: topic.slice(0, 200), reason: cmd.reason });
        }
        return;
      }
      case 'shutter':
        log.info('shutter pressed from MQTT');
        d.capture().catch((e: unknown) => log.warn('MQTT shutter: capture failed', { error: errorMessage(e) }));
        return;
      case 'faces':
        try {
          d.setFaces(cmd.on);
        } catch (e) {
          log.warn('MQTT live faces: not applied', { error: errorMessage(e) });
        }
        this.scheduleState();
        return;
      case 'look':
        d.setLook(cmd.look);
        this.scheduleState();
        return;
      case 'ha-status':
        // Home Assistant restarted: it has forgotten non-retained state; discovery is announced again.
        if (cmd.online) void this.announce();
        return;
    }
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

function describeMqttError(e: Error & { code?: number | string }): string {
  const m = e.message;
  if (/Not authorized|Bad username or password|code 5|code 4/i.test(m))
    return `the broker refused the login (check mqtt.username and the password file): ${m}`;
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|connack timeout/i.test(m))
    return `the broker is unreachable: ${m}`;
  return m;
}

import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Server, startMosquitto } from '../../scripts/real-servers.js';
import { discoveryMessages, parseCommand, topicsFor } from '../../src/mqtt/discovery.js';
import { waitUntil } from '../helpers/tmp.js';
import { SyncDaemon } from '../sync/helpers.js';

/**
 * Required fields per entity type, from Home Assistant's MQTT docs (home-assistant.io
 * source/_integrations/*.mqtt.markdown, "required: true"), plus what discovery needs to attach an entity to a device
 * (mqtt.markdown: `unique_id`, `device` with `identifiers` or `connections`) and availability entries (`topic`).
 */
const REQUIRED: Record<string, string[][]> = {
  button: [['command_topic']],
  image: [['image_topic', 'url_topic']],
  sensor: [['state_topic']],
  binary_sensor: [['state_topic']],
  switch: [['command_topic']],
  select: [['command_topic'], ['options']],
};

function checkHaPayload(component: string, p: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const anyOf of REQUIRED[component] ?? [['?unknown component']])
    if (!anyOf.some((k) => p[k] !== undefined)) problems.push(`${component}: needs ${anyOf.join(' or ')}`);
  if (component === 'image' && p.image_topic && p.url_topic)
    problems.push('image: image_topic and url_topic are exclusive');
  if (component === 'select' && (!Array.isArray(p.options) || p.options.length === 0)) problems.push('select: options');
  if (typeof p.unique_id !== 'string' || !p.unique_id) problems.push('unique_id');
  const dev = p.device as { identifiers?: unknown[] } | undefined;
  if (!dev || !Array.isArray(dev.identifiers) || !dev.identifiers.length) problems.push('device.identifiers');
  for (const a of (p.availability as { topic?: string }[]) ?? []) if (!a.topic) problems.push('availability.topic');
  for (const k of ['command_topic', 'state_topic', 'image_topic'])
    if (typeof p[k] === 'string' && /[#+]/.test(p[k] as string)) problems.push(`${k} has a wildcard`);
  return problems;
}

async function client(url: string, user = 'ha', password = 'ha-secret-1'): Promise<MqttClient> {
  const c = mqtt.connect(url, { username: user, password, reconnectPeriod: 200 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

describe('Home Assistant discovery payloads', () => {
  it('every entity has the fields HA requires, one device, unique ids carrying the device id', () => {
    const msgs = discoveryMessages({
      deviceId: 'pinhole-abc',
      baseTopic: 'pinhole/pinhole-abc',
      discoveryPrefix: 'homeassistant',
      version: '1.0',
      looks: ['sepia'],
    });
    expect(new Set(msgs.map((m) => m.component))).toEqual(new Set(Object.keys(REQUIRED)));
    for (const m of msgs) {
      expect(checkHaPayload(m.component, m.payload), m.topic).toEqual([]);
      expect(m.topic).toMatch(/^homeassistant\/[a-z_]+\/pinhole-abc\/[a-z_]+\/config$/);
      expect(String(m.payload.unique_id)).toContain('pinhole-abc');
    }
    expect(new Set(msgs.map((m) => m.payload.unique_id)).size).toBe(msgs.length);
    // The checker itself fails on a payload missing a required field.
    expect(checkHaPayload('select', { unique_id: 'x', device: { identifiers: ['x'] }, command_topic: 'a' })).toContain(
      'select: needs options',
    );
  });

  it('refuses huge, binary, malformed or unknown commands', () => {
    const t = topicsFor('b');
    const p = (topic: string, s: string | Buffer) =>
      parseCommand(topic, typeof s === 'string' ? Buffer.from(s) : s, t, ['sepia'], 'homeassistant/status');
    expect(p(t.shutter, 'PRESS')).toEqual({ kind: 'shutter' });
    expect(p(t.shutter, '"PRESS"')).toEqual({ kind: 'shutter' });
    expect(p(t.faces, 'OFF')).toEqual({ kind: 'faces', on: false });
    expect(p(t.look, 'sepia')).toEqual({ kind: 'look', look: 'sepia' });
    expect(p(t.look, 'none')).toEqual({ kind: 'look', look: null });
    expect(p(t.shutter, 'x'.repeat(100_000)).kind).toBe('invalid');
    expect(p(t.shutter, Buffer.from([0xff, 0xfe, 0x00]))).toMatchObject({ kind: 'invalid', reason: /UTF-8/ });
    expect(p(t.look, '{"look":')).toMatchObject({ kind: 'invalid', reason: /malformed JSON/ });
    expect(p(t.look, '{"look":"sepia"}')).toMatchObject({ kind: 'invalid' });
    expect(p(t.look, 'rm -rf')).toMatchObject({ kind: 'invalid', reason: /unknown look/ });
    expect(p('elsewhere', 'PRESS').kind).toBe('invalid');
  });
});

describe('MQTT with a real mosquitto broker', () => {
  let broker: Server & { url: string };
  const daemons: SyncDaemon[] = [];
  let ha: MqttClient;
  const seen = new Map<string, Buffer>();

  beforeAll(async () => {
    broker = await startMosquitto();
    ha = await client(broker.url);
    ha.on('message', (topic, payload) => seen.set(topic, payload));
    await ha.subscribeAsync(['homeassistant/#', 'pinhole/#']);
  }, 120_000);
  afterAll(async () => {
    ha?.end(true);
    for (const d of daemons) await d.cleanup();
    await broker?.cleanup();
  });

  function daemon(machineId: string, url = broker.url): SyncDaemon {
    const d = new SyncDaemon('');
    const idFile = path.join(d.t.dir, 'machine-id');
    const pw = path.join(d.t.dir, 'mqtt-password');
    writeFileSync(idFile, `${machineId}\n`);
    writeFileSync(pw, 'mqtt-secret-1\n', { mode: 0o600 });
    d.writeConfig(
      `${readFileSync(d.configFile, 'utf8')}mqtt:\n  url: ${url}\n  username: pinhole\n  passwordFile: ${pw}\n  machineIdFile: ${idFile}\n  stateIntervalSeconds: 5\n`,
    );
    daemons.push(d);
    return d;
  }

  it('two cameras on one broker: separate devices and topics; the shutter command takes a photo on the right one', async () => {
    const a = daemon('0123456789abcdef0123456789abcdef');
    const b = daemon('fedcba9876543210fedcba9876543210');
    await Promise.all([a.start(), b.start()]);
    const ida = (
      JSON.parse(a.cli(['status', '--json']).stdout).components as { name: string; status: { deviceId: string } }[]
    ).find((c) => c.name === 'mqtt')?.status.deviceId as string;
    const idb = (
      JSON.parse(b.cli(['status', '--json']).stdout).components as { name: string; status: { deviceId: string } }[]
    ).find((c) => c.name === 'mqtt')?.status.deviceId as string;
    expect(ida).toMatch(/^pinhole-[0-9a-f]{10}$/);
    expect(idb).not.toBe(ida);
    for (const id of [ida, idb]) {
      await waitUntil(() => seen.get(`pinhole/${id}/availability`)?.toString() === 'online', 60_000, 100);
      const configs = [...seen.entries()].filter(([t]) => t.startsWith('homeassistant/') && t.includes(`/${id}/`));
      expect(configs.length).toBe(10);
      for (const [topic, payload] of configs) {
        const component = topic.split('/')[1];
        expect(checkHaPayload(component, JSON.parse(payload.toString())), topic).toEqual([]);
      }
    }
    expect(a.status().mqtt).toEqual({ connected: true, lastError: null });

    // Garbage first: huge, binary, broken JSON, unknown look. Nothing crashes, nothing is captured.
    ha.publish(`pinhole/${ida}/shutter/press`, Buffer.alloc(2_000_000, 0x41));
    ha.publish(`pinhole/${ida}/shutter/press`, Buffer.from([0xff, 0x00, 0xfe]));
    ha.publish(`pinhole/${ida}/look/set`, '{"look":');
    ha.publish(`pinhole/${ida}/look/set`, 'no-such-look');
    await waitUntil(() => /ignored an MQTT command/.test(a.output), 60_000, 100);
    ha.publish(`pinhole/${ida}/shutter/press`, 'PRESS');
    await waitUntil(() => /photo captured/.test(a.output), 60_000, 100);
    await new Promise((r) => setTimeout(r, 500));
    expect(a.output.match(/photo captured/g)?.length).toBe(1);
    expect(b.output).not.toMatch(/photo captured/);
    // The last photo (a small JPEG) and the state follow.
    await waitUntil(
      () => seen.get(`pinhole/${ida}/last_photo`)?.subarray(0, 2).toString('hex') === 'ffd8',
      60_000,
      100,
    );
    await waitUntil(() => JSON.parse(seen.get(`pinhole/${ida}/state`)?.toString() ?? '{}').photos === 1, 60_000, 100);
    // A valid look command is applied and reported.
    ha.publish(`pinhole/${ida}/look/set`, 'sepia');
    await waitUntil(
      () => JSON.parse(seen.get(`pinhole/${ida}/state`)?.toString() ?? '{}').look === 'sepia',
      60_000,
      100,
    );
    expect(a.proc?.exitCode).toBeNull();

    // The daemon stops: its availability turns offline (retained).
    await b.stop();
    await waitUntil(() => seen.get(`pinhole/${idb}/availability`)?.toString() === 'offline', 60_000, 100);
    await a.stop();
  }, 300_000);

  it('a broker that drops the connection mid-publish: reconnects with backoff and republishes; a SIGKILLed camera goes offline by its last will', async () => {
    // A TCP proxy that cuts every connection once the client has sent 3 kB (in the middle of the discovery burst).
    const bport = broker.port;
    let cuts = 0;
    const proxy = net.createServer((c) => {
      const up = net.createConnection(bport, '127.0.0.1');
      let sent = 0;
      c.on('data', (d) => {
        sent += d.length;
        up.write(d);
        if (cuts < 2 && sent > 3000) {
          cuts++;
          c.destroy();
          up.destroy();
        }
      });
      up.on('data', (d) => c.write(d));
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
      c.on('close', () => up.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as net.AddressInfo).port;
    const d = daemon('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', `mqtt://127.0.0.1:${port}`);
    try {
      await d.start();
      await waitUntil(() => cuts >= 2, 60_000, 100);
      await waitUntil(() => d.status().mqtt?.connected === true, 30_000, 200);
      const id = (
        JSON.parse(d.cli(['status', '--json']).stdout).components as { name: string; status: { deviceId: string } }[]
      ).find((c) => c.name === 'mqtt')?.status.deviceId as string;
      await waitUntil(() => seen.get(`pinhole/${id}/availability`)?.toString() === 'online', 60_000, 100);
      expect(d.output).toMatch(/disconnected from the broker; reconnecting/);
      expect(d.output).not.toMatch(/mqtt-secret-1/);
      await d.stop('SIGKILL');
      // keepalive 30 s × 1.5 at most; the broker notices the closed socket at once here.
      await waitUntil(() => seen.get(`pinhole/${id}/availability`)?.toString() === 'offline', 60_000, 200);
    } finally {
      proxy.close();
    }
  }, 300_000);
});

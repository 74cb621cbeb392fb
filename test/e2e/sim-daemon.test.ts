import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readXmp } from '../../src/vision/xmp.js';
import { TestDaemon } from '../helpers/daemon.js';
import { sharedDir, waitUntil } from '../helpers/tmp.js';

/**
 * The whole daemon as `npm start` runs it: simulated camera (real fake rpicam subprocesses), simulated buttons, face
 * detection with the real model, filters and the web server, driven through the CLI and HTTP.
 */
describe('daemon with the simulated camera and buttons', () => {
  const d = new TestDaemon();
  let url = '';
  const auth = { authorization: 'Bearer e2e-test-token-0123456789' };

  beforeAll(async () => {
    d.writeConfig(
      `#full\n${[
        'dataDir: ./data',
        'control:',
        '  socket: ./control.sock',
        'camera:',
        '  backend: sim',
        '  sim:',
        `    images: ${JSON.stringify(path.join(sharedDir, 'images'))}`,
        '  backoff: { initialMs: 100, maxMs: 1000 }',
        'gpio:',
        '  backend: sim',
        '  buttons:',
        '    - { name: shutter, pin: 26, action: shutter, longPressAction: burst }',
        '  burstCount: 2',
        // the filter worker at the daemon's priority: a nice-19 job beside stress-ng's nice-0 load takes minutes
        'filters: { nice: 0 }',
        'models:',
        `  dir: ${JSON.stringify(path.join(sharedDir, 'models'))}`,
        'web:',
        '  host: 127.0.0.1',
        '  port: 0',
        '  auth:',
        '    apiTokens: ["e2e-test-token-0123456789"]',
        '',
      ].join('\n')}`,
    );
    await d.start();
    await waitUntil(() => /web: listening url=(\S+)/.test(d.output));
    url = /web: listening url=(\S+)/.exec(d.output)?.[1] ?? '';
    await waitUntil(
      async () =>
        ((await (await fetch(`${url}/api/health`)).json()) as { camera: string }).camera === 'streaming' ||
        /camera armed|camera streaming/.test(d.output),
      20_000,
    );
  }, 60_000);
  afterAll(() => d.cleanup());

  it('`pinhole capture` saves a valid full-size JPEG with faces recorded', async () => {
    const r = d.cli(['capture', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const photo = JSON.parse(r.stdout) as { id: string; path: string; width: number; height: number };
    expect(photo.id).toMatch(/^p\d+/);
    const meta = await sharp(photo.path).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 4056, height: 3040 });
    await sharp(photo.path).raw().toBuffer(); // decodes completely
    // Faces are detected after the photo is durable: wait for the sidecar, then the XMP regions in the file.
    let faces: { items: { score: number }[] } | undefined;
    await waitUntil(async () => {
      const res = await fetch(`${url}/api/photos/${photo.id}`, { headers: auth });
      faces = ((await res.json()) as { photo: { faces?: { items: { score: number }[] } } }).photo.faces;
      return Boolean(faces);
    }, 20_000).catch((e: Error) => {
      throw new Error(`${e.message}; daemon output:\n${d.output.slice(-3000)}`);
    });
    expect(faces?.items.length).toBeGreaterThanOrEqual(1);
    for (const f of faces?.items ?? []) expect(f.score).toBeGreaterThanOrEqual(0.6);
    await waitUntil(() => (readXmp(readFileSync(photo.path)) ?? '').includes('mwg-rs:Regions'), 10_000);
  }, 60_000);

  it('`pinhole sim press shutter` takes a photo; a long press runs the long-press action (burst of 2)', async () => {
    const count = async () =>
      ((await (await fetch(`${url}/api/photos?limit=200`, { headers: auth })).json()) as { photos: unknown[] }).photos
        .length;
    const before = await count();
    const p = d.cli(['sim', 'press', 'shutter']);
    expect(p.code, p.stderr).toBe(0);
    await waitUntil(async () => (await count()) === before + 1, 30_000);
    const long = d.cli(['sim', 'press', 'shutter', '--hold', '1500']);
    expect(long.code, long.stderr).toBe(0);
    expect(long.stdout).toMatch(/long/);
    await waitUntil(async () => (await count()) === before + 3, 40_000).catch((e: Error) => {
      throw new Error(
        `${e.message}; daemon exit ${d.proc?.exitCode} ${d.proc?.signalCode}; output:\n${d.output.slice(-4000)}`,
      );
    });
  }, 90_000);

  it('a web capture with exposure compensation keeps the dial in the config and shoots with it', async () => {
    const res = await fetch(`${url}/api/capture`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ ev: 1.5 }),
    });
    expect(res.status).toBe(201);
    const { photo } = (await res.json()) as { photo: { id: string; settings?: unknown } };
    expect(readFileSync(d.configFile, 'utf8')).toMatch(/ev: 1.5/);
    const side = JSON.parse(readFileSync(path.join(d.t.dir, 'data', 'gallery', photo.id, 'meta.json'), 'utf8')) as {
      settings: { controls: { ev: number } };
    };
    expect(side.settings.controls.ev).toBe(1.5);
  }, 60_000);

  it('applies a face-aware filter from the gallery as a new variant, keeping the original', async () => {
    const list = (await (await fetch(`${url}/api/photos?limit=1`, { headers: auth })).json()) as {
      photos: { id: string }[];
    };
    const id = list.photos[0].id;
    const original = await (await fetch(`${url}/api/photos/${id}/file`, { headers: auth })).arrayBuffer();
    const res = await fetch(`${url}/api/photos/${id}/variants`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ filter: 'privacy', params: { mode: 'pixelate' } }),
    });
    expect(res.status).toBe(202);
    const { job } = (await res.json()) as { job: { id: string } };
    let state = '';
    await waitUntil(async () => {
      const j = (await (await fetch(`${url}/api/jobs/${job.id}`, { headers: auth })).json()) as {
        job: { state: string };
      };
      state = j.job.state;
      return state === 'done' || state === 'failed';
    }, 60_000);
    expect(state).toBe('done');
    const variant = await fetch(`${url}/api/photos/${id}/file?variant=privacy`, { headers: auth });
    expect(variant.status).toBe(200);
    const v = Buffer.from(await variant.arrayBuffer());
    expect((await sharp(v).metadata()).format).toBe('jpeg');
    expect(v.equals(Buffer.from(original))).toBe(false);
    // The original's pixels are untouched (its metadata may have gained XMP face regions meanwhile).
    const after = Buffer.from(await (await fetch(`${url}/api/photos/${id}/file`, { headers: auth })).arrayBuffer());
    const pixels = (b: ArrayBuffer | Buffer) =>
      sharp(Buffer.from(b as ArrayBuffer))
        .raw()
        .toBuffer();
    expect((await pixels(after)).equals(await pixels(original))).toBe(true);
  }, 90_000);

  it('serves health without auth and refuses the API without it', async () => {
    const h = (await (await fetch(`${url}/api/health`)).json()) as { status: string; configErrors: number };
    expect(h.configErrors).toBe(0);
    expect(['ok', 'degraded']).toContain(h.status);
    expect((await fetch(`${url}/api/photos`)).status).toBe(401);
  });

  it('status lists every component running', () => {
    const s = JSON.parse(d.cli(['status', '--json']).stdout) as { components: { name: string; running: boolean }[] };
    expect(s.components.map((c) => [c.name, c.running])).toEqual([
      ['camera', true],
      ['faces', true],
      ['analysis', true],
      ['filters', true],
      ['modes', true],
      ['people', true],
      ['gpio', true],
      ['sync', true],
      ['mqtt', true],
      ['web', true],
    ]);
  });
});

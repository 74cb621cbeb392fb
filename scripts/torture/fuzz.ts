import { promises as fs, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { validateConfigObject } from '../../src/config/validate.js';
import { callDaemon } from '../../src/control/client.js';
import {
  API_TOKEN,
  type HttpResult,
  pick,
  request,
  rng,
  round,
  type ScenarioOptions,
  sleep,
  TortureDaemon,
  Violations,
  waitFor,
} from './harness.js';

const METHODS = ['GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND', 'TRACE'];
const ROUTES = [
  '/api/health',
  '/api/login',
  '/api/logout',
  '/api/status',
  '/api/capture',
  '/api/photos',
  '/api/photos/{id}',
  '/api/photos/{id}/file',
  '/api/photos/{id}/thumb',
  '/api/photos/{id}/variants',
  '/api/config',
  '/api/filters',
  '/api/jobs/{job}',
  '/api/archive.zip',
  '/api/time',
  '/api/system/reboot',
  '/api/system/shutdown',
  '/stream.mjpg',
  '/login',
  '/',
  '/index.html',
  '/assets/x.js',
  '/api',
  '/api/',
  '/api/nope',
];
const TRAVERSAL = [
  '../../../../etc/passwd',
  '..%2f..%2f..%2fetc%2fpasswd',
  '%2e%2e%2f%2e%2e%2fconfig.yaml',
  '..\\..\\config.yaml',
  '....//....//canary.txt',
  '%252e%252e%252fcanary.txt',
  '..%00/canary.txt',
  '%c0%ae%c0%ae/canary.txt',
  '/etc/passwd',
  '..',
  '.',
  '',
  'p00000001-00000000/../../../canary.txt',
  '%2e%2e',
  'C:\\Windows\\win.ini',
  '\u0000',
  '..;/canary.txt',
];
const IDS = [
  'p00000001-00000000',
  'p99999999-ffffffff',
  'x',
  'P00000001-00000000',
  'p0-0',
  `p${'0'.repeat(300)}`,
  '%ff%fe',
  '🙂',
  '{id}',
];
const BROKEN_UTF8 = [
  Buffer.from([0xff, 0xfe, 0xfd]),
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xe0, 0x80, 0xaf]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
];

function randomString(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(32 + Math.floor(r() * 95));
  return s;
}

function fuzzPath(r: () => number, ids: string[]): string {
  const x = r();
  let p = pick(r, ROUTES)
    .replace('{id}', r() < 0.5 && ids.length ? pick(r, ids) : pick(r, [...IDS, ...TRAVERSAL]))
    .replace('{job}', pick(r, ['0', 'a'.repeat(36), ...TRAVERSAL]));
  if (x < 0.2) p = `/${pick(r, ['api/photos/', 'api/', 'assets/', '', 'stream.mjpg/'])}${pick(r, TRAVERSAL)}`;
  else if (x < 0.25) p = `/${encodeURIComponent(randomString(r, 1 + Math.floor(r() * 40)))}`;
  else if (x < 0.28) p = `/api/photos/${'a'.repeat(4000 + Math.floor(r() * 4000))}`;
  if (r() < 0.3) {
    const q = pick(r, [
      'limit=99999999',
      'limit=-1',
      'limit=abc',
      'cursor=%00%ff',
      `cursor=${pick(r, TRAVERSAL)}`,
      `variant=${pick(r, TRAVERSAL)}`,
      'variant=original',
      'download=1',
      `ids=${pick(r, TRAVERSAL)},${pick(r, IDS)}`,
      'limit=1&limit=2',
      'otl=aaaa',
      `token=${API_TOKEN}`,
      'a[b][c][d][e][f]=1',
      '__proto__[x]=1',
    ]);
    p += `?${q}`;
  }
  // Node's client refuses raw control and non-ASCII characters in a path; send them percent-encoded.
  return p.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

function fuzzBody(r: () => number): { body?: Buffer; type?: string; kind: string } {
  const x = r();
  const json = (v: unknown) => ({ body: Buffer.from(JSON.stringify(v)), type: 'application/json', kind: 'json' });
  if (x < 0.15) return { kind: 'none' };
  if (x < 0.3)
    return json(
      pick(r, [
        { password: randomString(r, 12) },
        { filter: 'sepia' },
        { filter: pick(r, TRAVERSAL) },
        { recipe: 'x', params: { a: 1 } },
        { filter: 'sepia', params: { strength: 'NaN' } },
        { filter: 'sepia', params: { strength: Number.POSITIVE_INFINITY } },
        { camera: { preview: { fps: 'fast' } } },
        { camera: { backend: 'none' } },
        { dataDir: '/tmp/evil' },
        { web: { auth: { apiTokens: ['x'.repeat(20)] } } },
        { nope: 1 },
        { camera: { extraArgs: ['--evil'] } },
        { camera: null },
        { now: -1 },
        { now: 'yesterday' },
        { __proto__: { admin: true } },
        JSON.parse('{"__proto__": {"polluted": 1}}'),
        [1, 2, 3],
        'str',
        null,
        42,
        { storage: { thumbnailSize: 'x' } },
      ]),
    );
  if (x < 0.45)
    return {
      body: Buffer.from(pick(r, ['{', '{"a":', '{"a":1,}', "{'a':1}", '[', 'nul', '{"a":"\\u12"}', '{"a":1}{"b":2}'])),
      type: 'application/json',
      kind: 'broken-json',
    };
  if (x < 0.6)
    return {
      body: Buffer.concat([Buffer.from('{"password":"'), pick(r, BROKEN_UTF8), Buffer.from('"}')]),
      type: pick(r, ['application/json', 'application/json; charset=utf-8', 'text/plain']),
      kind: 'broken-utf8',
    };
  if (x < 0.68) {
    // Deep nesting: a parser that recurses without limit would overflow the stack.
    const depth = 5000 + Math.floor(r() * 50000);
    return {
      body: Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`),
      type: 'application/json',
      kind: 'deep-json',
    };
  }
  if (x < 0.76)
    return {
      body: Buffer.alloc((1 + Math.floor(r() * 8)) * 1024 * 1024, 0x61),
      type: pick(r, ['application/json', 'application/octet-stream', 'text/plain']),
      kind: 'huge',
    };
  if (x < 0.86)
    return {
      body: Buffer.from(randomString(r, Math.floor(r() * 2000))),
      type: pick(r, [
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'text/xml',
        'application/json',
      ]),
      kind: 'random',
    };
  const bytes = Buffer.alloc(Math.floor(r() * 4096));
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
  return { body: bytes, type: pick(r, ['application/json', 'image/jpeg', '']), kind: 'binary' };
}

function fuzzHeaders(
  r: () => number,
  base: string,
): { headers: Record<string, string>; auth: boolean; authKind: string } {
  const h: Record<string, string> = {};
  const a = r();
  let authKind = 'none';
  if (a < 0.5) {
    h.Authorization = `Bearer ${API_TOKEN}`;
    authKind = 'token';
  } else if (a < 0.6) {
    h.Authorization = pick(r, [
      'Bearer ',
      'Bearer x',
      `Bearer ${API_TOKEN}x`,
      `bearer ${API_TOKEN.toUpperCase()}`,
      'Basic YWRtaW46YWRtaW4=',
      `Bearer ${'a'.repeat(5000)}`,
    ]);
    authKind = 'bad-token';
  } else if (a < 0.7) {
    h.Cookie = pick(r, [
      'pinhole_session=aaaa',
      `pinhole_session=${'f'.repeat(64)}`,
      'pinhole_session=../../x; pinhole_csrf=1',
      `x=${'y'.repeat(6000)}`,
    ]);
    authKind = 'bad-cookie';
  }
  if (r() < 0.3) h.Origin = pick(r, ['http://evil.example', base, 'null', 'file://']);
  if (r() < 0.1) h['X-Forwarded-For'] = pick(r, ['1.2.3.4', '127.0.0.1, 10.0.0.1', 'garbage']);
  if (r() < 0.1) h.Host = pick(r, ['evil.example', '', 'a'.repeat(300)]);
  if (r() < 0.1) h.Range = pick(r, ['bytes=0-10', 'bytes=99999999-', 'bytes=-1,-2,-3,0-1,5-9', 'bytes=x']);
  if (r() < 0.05) h['Accept-Encoding'] = 'gzip, deflate, br, zstd, *';
  if (r() < 0.05) h['Transfer-Encoding'] = 'chunked';
  return { headers: h, auth: false, authKind };
}

/** Allowed 503s: the camera (or the viewer limit) is genuinely unavailable; the error says so. */
function allowed5xx(res: HttpResult): boolean {
  if (res.status !== 503) return false;
  try {
    const code = String(res.json<{ error: { code: string } }>().error.code);
    return /^camera|viewers|unavailable|filters-stopped/.test(code);
  } catch {
    return false;
  }
}

function snapshot(root: string, skip: Set<string>): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (skip.has(p)) continue;
      const st = statSync(p);
      out.set(p, `${st.size}:${st.mtimeMs}:${st.mode}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

/**
 * Bad input: an HTTP + WebSocket fuzzer and a config-file fuzzer against the real daemon. No 5xx but a genuine
 * camera 503, no crash, no file outside the data dir touched, no secret or stack trace in a response; the daemon
 * never runs on an invalid config.
 */
export async function run(opts: ScenarioOptions): Promise<Record<string, unknown>> {
  const total = Number(opts.requests ?? (opts.quick ? 300 : 5000));
  const wsTotal = Number(opts.wsConnections ?? (opts.quick ? 30 : 200));
  const cfgEdits = Number(opts.configEdits ?? (opts.quick ? 20 : 100));
  const seed = Number(opts.seed ?? Date.now() % 1_000_000);
  const r = rng(seed);
  const v = new Violations();
  const d = new TortureDaemon();
  const t0 = Date.now();
  const canarySecret = `canary-${seed}-${Math.random().toString(36).slice(2)}`;
  const statuses: Record<string, number> = {};
  const kinds: Record<string, number> = {};
  let netErrors = 0;
  let sent = 0;
  const ws = { connections: 0, messages: 0, rejectedUpgrades: 0, errors: 0 };
  const cfg = { edits: 0, invalid: 0, valid: 0, mismatches: 0 };
  try {
    // Canaries next to the data dir: nothing the daemon does may touch them.
    writeFileSync(path.join(d.root, 'canary.txt'), canarySecret);
    mkdirSync(path.join(d.root, 'canary-dir'));
    writeFileSync(path.join(d.root, 'canary-dir', 'inner.txt'), canarySecret);
    await d.start();
    const skip = new Set([d.dataDir, d.configFile, d.socket]);
    const before = snapshot(d.root, skip);
    const health0 = await d.req('/api/health', { auth: false });
    if (health0.status !== 200) throw new Error(`health before fuzzing: ${health0.status}`);
    // A couple of real photos so ids in paths sometimes exist.
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await d.api<{ photo: { id: string } }>('POST', '/api/capture', {});
      if (c.status === 201) ids.push(c.data.photo.id);
    }

    // ---- HTTP -------------------------------------------------------------------------------------------------
    const one = async () => {
      const method = pick(r, METHODS);
      const urlPath = fuzzPath(r, ids);
      const { headers } = fuzzHeaders(r, d.url);
      const b =
        method === 'GET' || method === 'HEAD' ? (r() < 0.9 ? { kind: 'none' as const } : fuzzBody(r)) : fuzzBody(r);
      if (b.type !== undefined && b.type !== '') headers['Content-Type'] = b.type;
      kinds[b.kind] = (kinds[b.kind] ?? 0) + 1;
      sent++;
      let res: HttpResult;
      try {
        // The stream never ends: a short timeout and an abort are the expected outcome for a good request.
        res = await request(d.url, urlPath, {
          method,
          headers,
          body: b.body,
          auth: false,
          timeoutMs: urlPath.startsWith('/stream.mjpg') && method === 'GET' ? 500 : 15_000,
        });
      } catch (e) {
        netErrors++;
        if (!/timeout|ECONNRESET|EPIPE|socket hang up/.test(String(e)))
          v.add(`${method} ${urlPath.slice(0, 120)}: ${String(e)}`);
        return;
      }
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status >= 500 && !allowed5xx(res))
        v.add(`${method} ${urlPath.slice(0, 160)} [${b.kind}] → ${res.status} ${res.body.toString().slice(0, 200)}`);
      const text = res.body.toString('latin1');
      if (text.includes(canarySecret)) v.add(`${method} ${urlPath.slice(0, 160)}: response contains the canary file`);
      if (/\n\s+at .+\.(js|ts):\d+/.test(text))
        v.add(`${method} ${urlPath.slice(0, 160)}: stack trace in the response`);
      if (text.includes(API_TOKEN)) v.add(`${method} ${urlPath.slice(0, 160)}: response contains the API token`);
      if (/^\/api(\/|$)/.test(urlPath) && String(res.headers['content-type'] ?? '').includes('text/html'))
        v.add(`${method} ${urlPath.slice(0, 160)}: an /api path answered HTML`);
      if (/root:x:0:0|\[fonts\]|dataDir: \.\/data/.test(text))
        v.add(
          `${method} ${urlPath.slice(0, 160)}: response looks like a file from outside the UI (passwd, win.ini or the config)`,
        );
    };
    const workers = Array.from({ length: 4 }, async () => {
      while (sent < total && d.alive()) await one();
    });
    await Promise.all(workers);

    // ---- WebSocket --------------------------------------------------------------------------------------------
    const wsUrl = d.url.replace('http:', 'ws:');
    for (let i = 0; i < wsTotal && d.alive(); i++) {
      const x = r();
      if (x < 0.25) {
        // A hand-made broken upgrade request.
        await new Promise<void>((resolve) => {
          const u = new URL(d.url);
          const s = net.connect(Number(u.port), u.hostname, () => {
            s.write(
              pick(r, [
                'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n',
                `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: !!!\r\nSec-WebSocket-Version: 99\r\nAuthorization: Bearer ${API_TOKEN}\r\n\r\n`,
                'GET /ws/../../etc HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
                `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${API_TOKEN}\r\n\r\n\xff\xff\xff\xff\xff\xff`,
                '\x16\x03\x01\x00\xa5garbage-tls-hello\r\n\r\n',
              ]),
              'latin1',
            );
          });
          s.on('data', (chunk: Buffer) => {
            const line = chunk.toString('latin1').split('\r\n')[0];
            if (/ 5\d\d /.test(line)) v.add(`broken ws upgrade answered ${line}`);
          });
          s.on('error', () => {});
          s.setTimeout(1000, () => s.destroy());
          s.on('close', () => resolve());
        });
        ws.rejectedUpgrades++;
        continue;
      }
      const withAuth = r() < 0.8;
      await new Promise<void>((resolve) => {
        const sock = new WebSocket(`${wsUrl}/ws${r() < 0.1 ? `?token=${API_TOKEN}` : ''}`, {
          headers: withAuth ? { Authorization: `Bearer ${API_TOKEN}` } : { Origin: 'http://evil.example' },
          maxPayload: 1024 * 1024,
        });
        const done = setTimeout(() => sock.terminate(), 400 + Math.floor(r() * 400));
        sock.on('unexpected-response', (_req, res) => {
          if ((res.statusCode ?? 0) >= 500) v.add(`ws upgrade answered ${res.statusCode}`);
          ws.rejectedUpgrades++;
          sock.terminate();
        });
        sock.on('open', () => {
          ws.connections++;
          for (let k = 0; k < 5; k++) {
            const y = r();
            try {
              if (y < 0.3) sock.send(randomString(r, Math.floor(r() * 500)));
              else if (y < 0.5) sock.send(Buffer.alloc(Math.floor(r() * 200_000), 7));
              else if (y < 0.7)
                sock.send(
                  JSON.stringify({ type: pick(r, ['capture', 'subscribe', '__proto__', 'config']), data: { x: 1 } }),
                );
              else if (y < 0.8)
                sock.send(Buffer.concat([Buffer.from('{"type":"'), pick(r, BROKEN_UTF8), Buffer.from('"}')]), {
                  binary: false,
                });
              else if (y < 0.9) sock.ping(Buffer.alloc(100));
              else sock.send('x'.repeat(2 * 1024 * 1024));
            } catch {
              /* closed by the server: fine */
            }
          }
        });
        sock.on('message', () => {
          ws.messages++;
        });
        sock.on('error', () => {
          ws.errors++;
        });
        sock.on('close', () => {
          clearTimeout(done);
          resolve();
        });
      });
    }

    // ---- still alive, nothing outside the data dir touched ------------------------------------------------------
    if (!d.alive()) v.add(`daemon died during the HTTP/WS fuzzing:\n${d.output.slice(-2000)}`);
    else {
      const h = await d.req('/api/health', { auth: false });
      if (h.status !== 200) v.add(`/api/health after fuzzing → ${h.status}`);
    }
    const after = snapshot(d.root, skip);
    for (const [p, sig] of before)
      if (after.get(p) !== sig) v.add(`outside the data dir: ${path.relative(d.root, p)} changed or vanished`);
    for (const p of after.keys())
      if (!before.has(p) && !path.basename(p).startsWith('config.yaml'))
        v.add(`outside the data dir: ${path.relative(d.root, p)} appeared`);
    const internal = (d.output.match(/request failed|unhandled rejection|uncaught exception/gi) ?? []).length;
    if (internal)
      v.add(
        `daemon log has ${internal} internal errors: ${/.*(request failed|unhandled rejection|uncaught exception).*/i.exec(d.output)?.[0]?.slice(0, 400)}`,
      );

    // ---- config fuzzer ----------------------------------------------------------------------------------------
    await fs.writeFile(d.configFile, d.baseYaml());
    await callDaemon(d.socket, 'config.reload', {}, 10_000);
    const base = d.baseYaml();
    let lastValidQuality = 50;
    for (let i = 0; i < cfgEdits && d.alive(); i++) {
      const quality = 10 + Math.floor(r() * 80);
      const valid = `${base}  # edit ${i}\n`.replace(
        '  backend: sim\n  still:',
        `  backend: sim\n  preview:\n    quality: ${quality}\n  still:`,
      );
      const kind = pick(r, [
        'valid',
        'syntax',
        'wrong-type',
        'unknown-key',
        'out-of-range',
        'truncated',
        'binary',
        'tabs',
        'dup-key',
      ] as const);
      let text: string;
      let expectValid = false;
      switch (kind) {
        case 'valid':
          text = valid;
          expectValid = true;
          break;
        case 'syntax':
          text = valid.replace('camera:\n', 'camera:\n  preview: [unclosed\n');
          break;
        case 'wrong-type':
          text = valid.replace(`quality: ${quality}`, `quality: "${pick(r, ['high', 'yes', '1e3x'])}"`);
          break;
        case 'unknown-key':
          text = valid.replace('camera:\n', `camera:\n  ${pick(r, ['qualiti', 'previews', 'fps'])}: 3\n`);
          break;
        case 'out-of-range':
          text = valid.replace(`quality: ${quality}`, `quality: ${pick(r, [0, 101, -5, 1e9, 3.5])}`);
          break;
        case 'truncated':
          text = valid.slice(0, valid.indexOf('quality:') + 5);
          break;
        case 'binary':
          text = Buffer.from([0xff, 0xfe, 0, 1, 2, 0x7b]).toString('latin1');
          break;
        case 'tabs':
          text = valid.replace('  backend: sim\n  preview:', '\tbackend: sim\n  preview:');
          break;
        case 'dup-key':
          text = `${valid}camera:\n  backend: none\n`;
          break;
      }
      cfg.edits++;
      await fs.writeFile(d.configFile, text);
      await callDaemon(d.socket, 'config.reload', {}, 10_000);
      const res = await d.api<{
        config: Record<string, unknown> & { camera: { preview: { quality: number } } };
        errors: string[];
      }>('GET', '/api/config');
      const status = (await callDaemon(d.socket, 'status', {}, 10_000)) as { configErrors: number };
      const reportsInvalid = res.data.errors.length > 0;
      if (expectValid) cfg.valid++;
      else cfg.invalid++;
      if (reportsInvalid === expectValid || status.configErrors > 0 === expectValid) {
        cfg.mismatches++;
        v.add(
          `config edit ${i} (${kind}): file is ${expectValid ? 'valid' : 'invalid'} but the daemon reports ${res.data.errors.length} errors (status: ${status.configErrors}): ${res.data.errors.slice(0, 2).join('; ')}`,
        );
      }
      if (expectValid) lastValidQuality = quality;
      // The effective config is valid, and after a bad edit it is still the last good one.
      const effective = structuredClone(res.data.config) as unknown as { web: { auth: { apiTokens: string[] } } };
      effective.web.auth.apiTokens = [API_TOKEN]; // masked in the API answer
      const check = validateConfigObject(effective as object);
      if (check.errors.length)
        v.add(`config edit ${i} (${kind}): the effective config is invalid: ${check.errors.slice(0, 2).join('; ')}`);
      if (res.data.config.camera.preview.quality !== lastValidQuality)
        v.add(
          `config edit ${i} (${kind}): running preview quality ${res.data.config.camera.preview.quality}, expected the last valid ${lastValidQuality}`,
        );
      if (!d.alive()) v.add(`daemon died after config edit ${i} (${kind})`);
    }
    // Also through the file watcher (no explicit reload): a broken save is noticed and reported.
    await fs.writeFile(d.configFile, `${base}camera: [\n`);
    await waitFor(
      'the watcher to report the broken file',
      async () => ((await d.api<{ errors: string[] }>('GET', '/api/config')).data.errors.length > 0 ? true : undefined),
      10_000,
    ).catch((e: unknown) => v.add(`config watcher: ${String(e)}`));
    await fs.writeFile(d.configFile, base);
    await waitFor(
      'the watcher to see the fixed file',
      async () =>
        (await d.api<{ errors: string[] }>('GET', '/api/config')).data.errors.length === 0 ? true : undefined,
      10_000,
    ).catch((e: unknown) => v.add(`config watcher: ${String(e)}`));
    await sleep(50);
    if (!d.alive()) v.add('daemon died during the config fuzzing');
  } finally {
    await d.cleanup();
  }
  return {
    ok: v.ok,
    violations: v.list,
    seed,
    requestsFuzzed: sent,
    statuses,
    bodyKinds: kinds,
    networkErrors: netErrors,
    websocket: ws,
    configEdits: cfg,
    seconds: round((Date.now() - t0) / 1000),
  };
}

import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { defaultConfig } from '../../src/config/load.js';
import type { PinholeConfig } from '../../src/config/schema.js';
import { writePassword } from '../../src/web/auth/password.js';
import { createWebServer, type WebServer } from '../../src/web/server.js';
import type { WebServices } from '../../src/web/services.js';
import { type Fakes, makeFakes } from './fakes.js';

export const PASSWORD = 'correct horse battery';
export const API_TOKEN = 'tok_0123456789abcdef0123';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions read arbitrary JSON
  json: () => any;
}

/** Sends the path verbatim (fetch would normalise `..`), so traversal attempts reach the server as written. */
export function raw(
  base: string,
  method: string,
  p: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<RawResponse> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path: p,
        headers: {
          ...(opts.body !== undefined ? { 'content-length': String(Buffer.byteLength(opts.body)) } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const text = body.toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: () => JSON.parse(text) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

export interface Harness {
  server: WebServer;
  url: string;
  fakes: Fakes;
  config: PinholeConfig;
  staticDir: string;
  close(): Promise<void>;
}

export async function startHarness(
  opts: {
    password?: boolean;
    staticDir?: string;
    jobDelayMs?: number;
    /** Adds or replaces services before the server starts (capture modes, People). */
    services?: (s: WebServices, fakes: Fakes) => void;
  } = {},
): Promise<Harness> {
  const base = defaultConfig();
  const fakes = await makeFakes(base, { jobDelayMs: opts.jobDelayMs });
  const config: PinholeConfig = {
    ...base,
    dataDir: path.join(fakes.dir, 'data'),
    web: { ...base.web, host: '127.0.0.1', port: 0, auth: { ...base.web.auth, apiTokens: [API_TOKEN] } },
  };
  fakes.config.snapshot = { ...fakes.config.snapshot, config };
  if (opts.password !== false) await writePassword(config.dataDir, PASSWORD);
  let staticDir = opts.staticDir;
  if (!staticDir) {
    staticDir = path.join(fakes.dir, 'ui');
    await fs.mkdir(path.join(staticDir, 'assets'), { recursive: true });
    await fs.writeFile(path.join(staticDir, 'index.html'), '<!doctype html><title>Pinhole</title><div id="app"></div>');
    await fs.writeFile(path.join(staticDir, 'assets', 'app.js'), 'console.log(1)');
  }
  opts.services?.(fakes.services, fakes);
  const server = createWebServer(config, fakes.services, { staticDir });
  const { url } = await server.start();
  return {
    server,
    url,
    fakes,
    config,
    staticDir,
    async close() {
      await server.stop();
      await fakes.cleanup();
    },
  };
}

/** Logs in; returns the cookie header value and the CSRF token. */
export async function login(
  h: Harness,
  password = PASSWORD,
): Promise<{ cookie: string; csrf: string; res: RawResponse }> {
  const res = await raw(h.url, 'POST', '/api/login', {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password }),
  });
  const setCookie = res.headers['set-cookie'] ?? [];
  const cookie = setCookie.map((c) => c.split(';')[0]).join('; ');
  return { cookie, csrf: res.status === 200 ? res.json().csrfToken : '', res };
}

export function sessionHeaders(
  s: { cookie: string; csrf: string },
  h: Harness,
  extra: Record<string, string> = {},
): Record<string, string> {
  return { cookie: s.cookie, 'x-csrf-token': s.csrf, origin: h.url, 'content-type': 'application/json', ...extra };
}

export const bearer = { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' };

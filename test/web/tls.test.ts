import { promises as fs } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/load.js';
import { writePassword } from '../../src/web/auth/password.js';
import { createWebServer, type WebServer } from '../../src/web/server.js';
import { ensureSelfSignedCert } from '../../src/web/tls.js';
import { makeFakes } from './fakes.js';

let dir: string;
let server: WebServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
  await fs.rm(dir, { recursive: true, force: true });
});

function request(
  url: string,
  method: string,
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method, rejectUnauthorized: false, headers: body ? { 'content-type': 'application/json' } : {} },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('TLS', () => {
  it('makes a self-signed certificate on first start, reuses it, and marks cookies Secure', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-tls-'));
    const base = defaultConfig();
    const config = {
      ...base,
      dataDir: path.join(dir, 'data'),
      web: { ...base.web, host: '127.0.0.1', port: 0, tls: { enabled: true } },
    };
    await writePassword(config.dataDir, 'tls password');
    const fakes = await makeFakes(config);
    server = createWebServer(config, fakes.services, { staticDir: path.join(dir, 'ui') });
    const { url } = await server.start();
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const key = path.join(config.dataDir, 'tls', 'key.pem');
    expect((await fs.stat(key)).mode & 0o777).toBe(0o600);
    const cert = await fs.readFile(path.join(config.dataDir, 'tls', 'cert.pem'), 'utf8');
    expect(cert).toContain('BEGIN CERTIFICATE');
    expect((await request(`${url}/api/health`, 'GET')).status).toBe(200);
    const login = await request(`${url}/api/login`, 'POST', '{"password":"tls password"}');
    expect(login.status).toBe(200);
    for (const c of login.headers['set-cookie'] as string[]) expect(c).toMatch(/; Secure/);
    expect((await ensureSelfSignedCert(config.dataDir)).cert.toString()).toBe(cert); // reused, not remade
    await fakes.cleanup();
  });

  it('fails clearly when openssl is missing', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-tls-'));
    await expect(ensureSelfSignedCert(dir, { openssl: path.join(dir, 'no-such-openssl') })).rejects.toThrow(
      /needs the `openssl` command/,
    );
    expect(await fs.readdir(path.join(dir, 'tls'))).toEqual([]);
  });
});

describe('static folder', () => {
  it('refuses to serve a UI folder that contains the data folder', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-static-'));
    const base = defaultConfig();
    const config = { ...base, dataDir: path.join(dir, 'data') };
    const fakes = await makeFakes(config);
    expect(() => createWebServer(config, fakes.services, { staticDir: dir })).toThrow(/contains dataDir/);
    await fakes.cleanup();
  });
});

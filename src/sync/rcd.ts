import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { RcloneRunner } from './rclone.js';

/**
 * One `rclone rcd` for the length of one batch, then `core/quit`: per-file copies and server-side renames in a single
 * process, where the command line would need one process per rename (rclone 1.60's `move` refuses a source folder
 * inside its destination). Loopback only, with a random user and password passed in the environment (never on the
 * command line, which any local user can read in /proc).
 */
export class RcdSession {
  private url = '';
  private readonly user = `pinhole-${randomBytes(4).toString('hex')}`;
  private readonly pass = randomBytes(18).toString('base64url');
  private done?: Promise<unknown>;

  constructor(private readonly runner: RcloneRunner) {}

  async start(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
    let found: (url: string) => void = () => {};
    const ready = new Promise<string>((r) => {
      found = r;
    });
    this.done = this.runner.run(['rcd', '--rc-addr', '127.0.0.1:0', ...args], {
      env: { ...env, RCLONE_RC_USER: this.user, RCLONE_RC_PASS: this.pass },
      onLine: (msg) => {
        const m = /Serving remote control on (http:\/\/127\.0\.0\.1:\d+)\//.exec(msg);
        if (m) found(m[1]);
      },
    });
    const url = await Promise.race([
      ready,
      this.done.then(() => ''),
      new Promise<string>((r) => setTimeout(() => r(''), 20_000)),
    ]);
    if (!url) {
      await this.runner.stop();
      const r = (await this.done) as { errors?: string[] };
      throw new Error(`rclone rcd did not start: ${(r?.errors ?? []).join(' | ') || 'no output'}`);
    }
    this.url = url;
  }

  call(method: string, params: Record<string, unknown>, timeoutMs = 600_000): Promise<Record<string, unknown>> {
    const body = JSON.stringify(params);
    const u = new URL(`${this.url}/${method}`);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          agent: false,
          headers: {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
            Authorization: `Basic ${Buffer.from(`${this.user}:${this.pass}`).toString('base64')}`,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let j: Record<string, unknown> = {};
            try {
              j = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
            } catch {
              /* not JSON */
            }
            if ((res.statusCode ?? 500) >= 400)
              reject(new Error(String(j.error ?? `rc ${method}: HTTP ${res.statusCode}`)));
            else resolve(j);
          });
          res.on('error', reject);
        },
      );
      const t = setTimeout(() => req.destroy(new Error(`rc ${method} timed out`)), timeoutMs);
      req.on('close', () => clearTimeout(t));
      req.on('error', reject);
      req.end(body);
    });
  }

  async quit(): Promise<void> {
    if (!this.done) return;
    await this.call('core/quit', {}, 5000).catch(() => {});
    const t = setTimeout(() => void this.runner.stop(), 5000);
    await this.done;
    clearTimeout(t);
  }
}

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { unitMallocEnv } from '../../src/util/unit-env.js';

/** The repository root, found from this file whether it runs as TypeScript (vitest) or from dist/. */
export const repoRoot = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above the torture scripts');
    dir = up;
  }
  return dir;
})();
export const cliPath = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

export const API_TOKEN = 'torture-token-0123456789abcdef';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  stepMs = 50,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await sleep(stepMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json<T = Record<string, unknown>>(): T;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
  /** Adds the API token as a bearer header (default true). */
  auth?: boolean;
  timeoutMs?: number;
}

/** One HTTP request over loopback with a fresh connection; rejects only on network errors and timeouts. */
export function request(base: string, urlPath: string, opts: RequestOptions = {}): Promise<HttpResult> {
  const u = new URL(base);
  const headers: Record<string, string | string[]> = { ...(opts.headers ?? {}) };
  if (opts.auth !== false && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization'))
    headers.Authorization = `Bearer ${API_TOKEN}`;
  const body = typeof opts.body === 'string' ? Buffer.from(opts.body) : opts.body;
  if (body && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length'))
    headers['Content-Length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method: opts.method ?? 'GET',
        path: urlPath,
        headers,
        agent: false,
        insecureHTTPParser: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: buf,
            json: <T>() => JSON.parse(buf.toString('utf8')) as T,
          });
        });
        res.on('error', reject);
      },
    );
    // An absolute deadline, not an idle timeout: a stream that never ends (`/stream.mjpg`) keeps a socket busy forever.
    const deadline = setTimeout(
      () => req.destroy(new Error(`timeout ${opts.method ?? 'GET'} ${urlPath}`)),
      opts.timeoutMs ?? 30_000,
    );
    req.on('close', () => clearTimeout(deadline));
    req.on('error', reject);
    req.end(body);
  });
}

export function jsonBody(v: unknown): { body: string; headers: Record<string, string> } {
  return { body: JSON.stringify(v), headers: { 'Content-Type': 'application/json' } };
}

export interface DaemonOptions {
  /** Extra YAML appended under the top level (must not repeat keys of the base). */
  cameraYaml?: string;
  storageYaml?: string;
  webYaml?: string;
  env?: NodeJS.ProcessEnv;
  /** Keep the daemon's whole output (security scenario); otherwise the last 2 MB. */
  keepFullLog?: boolean;
  /** Called before the temp dir is removed (e.g. to unmount a tmpfs). */
  beforeCleanup?: () => void;
}

/** Daemons not cleaned up yet: the runner removes them when it is interrupted (Ctrl-C, SIGTERM). */
export const liveDaemons = new Set<TortureDaemon>();

/**
 * The real daemon (`pinhole run`) in a temp folder: sim camera with quick backoff, small stills (so cycles stay
 * fast), sim GPIO, web on 127.0.0.1 port 0, an API token. Start, SIGKILL, restart, clean up.
 */
export class TortureDaemon {
  readonly root: string;
  readonly configFile: string;
  readonly dataDir: string;
  readonly socket: string;
  proc?: ChildProcess;
  url = '';
  output = '';
  private readonly opts: DaemonOptions;
  starts = 0;

  constructor(opts: DaemonOptions = {}) {
    this.opts = opts;
    liveDaemons.add(this);
    this.root = mkdtempSync(path.join(os.tmpdir(), 'pinhole-torture-'));
    this.configFile = path.join(this.root, 'config.yaml');
    this.dataDir = path.join(this.root, 'data');
    this.socket = path.join(this.root, 'control.sock');
    writeFileSync(this.configFile, this.baseYaml());
  }

  baseYaml(): string {
    const o = this.opts;
    return [
      '# torture test config',
      'dataDir: ./data',
      'control:',
      '  socket: ./control.sock',
      'models:',
      '  dir: ./models',
      'log:',
      '  level: info',
      'web:',
      '  host: 127.0.0.1',
      '  port: 0',
      '  auth:',
      `    apiTokens: [${API_TOKEN}]`,
      o.webYaml ?? '',
      'gpio:',
      '  backend: sim',
      'camera:',
      '  backend: sim',
      '  still:',
      '    width: 640',
      '    height: 480',
      '  backoff:',
      '    initialMs: 50',
      '    maxMs: 400',
      o.cameraYaml ?? '',
      // The filter worker at the daemon's priority: torture checks what survives a cut, not priority
      // (test/filters/worker's subject), and beside stress-ng a nice-19 worker took over 20 s to resume a sepia job.
      'filters:',
      '  nice: 0',
      'storage:',
      o.storageYaml ?? '  minFreeMB: 0',
      '',
    ]
      .filter((l) => l !== '')
      .join('\n')
      .concat('\n');
  }

  get pid(): number | undefined {
    return this.proc?.exitCode === null && this.proc.signalCode === null ? this.proc.pid : undefined;
  }

  alive(): boolean {
    return this.pid !== undefined;
  }

  async start(timeoutMs = 30_000): Promise<void> {
    if (this.alive()) throw new Error('daemon already running');
    this.url = '';
    const startOffset = this.output.length;
    const proc = spawn(process.execPath, [cliPath, 'run', '--config', this.configFile], {
      cwd: this.root,
      // PINHOLE_DEV=1: power off, reboot and clock changes are only logged — a fuzzer must never power off this machine.
      // The memory settings are the systemd unit's (systemd/pinhole.service): the daemon is tortured as it runs.
      env: {
        ...unitMallocEnv(),
        VIPS_CONCURRENCY: '1',
        UV_THREADPOOL_SIZE: '2',
        ...process.env,
        PINHOLE_CONFIG: '',
        PINHOLE_DEV: '1',
        ...this.opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.starts++;
    const onData = (d: Buffer) => {
      this.output += d.toString();
      if (!this.opts.keepFullLog && this.output.length > 4_000_000) this.output = this.output.slice(-2_000_000);
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    await waitFor(
      'the daemon to be ready',
      () => {
        if (proc.exitCode !== null || proc.signalCode !== null)
          throw new Error(
            `daemon exited (${proc.exitCode ?? proc.signalCode}):\n${this.output.slice(startOffset).slice(-3000)}`,
          );
        const tail = this.output.slice(Math.max(0, startOffset - 1));
        const m = /web: listening url=(http:\/\/[0-9.:]+)/.exec(tail);
        return m && /app: ready/.test(tail) ? m[1] : undefined;
      },
      timeoutMs,
      25,
    ).then((url) => {
      this.url = url;
    });
  }

  /** SIGKILL (power cut) or SIGTERM; resolves when the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    await Promise.race([gone, sleep(15_000)]);
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL');
      await gone;
    }
  }

  req(urlPath: string, opts: RequestOptions = {}): Promise<HttpResult> {
    return request(this.url, urlPath, opts);
  }

  async api<T = Record<string, unknown>>(
    method: string,
    urlPath: string,
    body?: unknown,
  ): Promise<{ status: number; data: T; raw: HttpResult }> {
    const r = await this.req(urlPath, { method, ...(body === undefined ? {} : jsonBody(body)) });
    let data = {} as T;
    try {
      data = r.json<T>();
    } catch {
      /* not JSON (a file) */
    }
    return { status: r.status, data, raw: r };
  }

  readConfigText(): string {
    return readFileSync(this.configFile, 'utf8');
  }

  async cleanup(): Promise<void> {
    liveDaemons.delete(this);
    await this.kill('SIGKILL');
    // The fake camera exits when its parent dies; give it a moment so no file is written while we delete.
    await sleep(100);
    try {
      this.opts.beforeCleanup?.();
    } finally {
      // A fake camera process may still be finishing a file as its parent is gone: retry instead of failing.
      try {
        rmSync(this.root, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
      } catch (e) {
        process.stderr.write(`torture: could not remove ${this.root}: ${String(e)}\n`);
      }
    }
  }
}

/** Sampling of a process's memory and file descriptors from /proc. */
export function procStats(pid: number): { rssMB: number; fds: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    return { rssMB: m ? Number(m[1]) / 1024 : Number.NaN, fds };
  } catch {
    return undefined;
  }
}

export function percentile(values: number[], p: number): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}

/** Least-squares slope of y over x. */
export function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export const round = (v: number | null, digits = 1): number | null =>
  v === null || !Number.isFinite(v) ? v : Math.round(v * 10 ** digits) / 10 ** digits;

/** Seeded PRNG so a failing run can be replayed with the same seed. */
export { mulberry32 as rng } from '../../src/util/prng.js';

export function pick<T>(r: () => number, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)];
}

/** Collects violations instead of stopping at the first; a scenario returns ok:false with all of them. */
export class Violations {
  readonly list: string[] = [];
  add(msg: string): void {
    if (this.list.length < 50) this.list.push(msg);
  }
  check(cond: unknown, msg: string): void {
    if (!cond) this.add(msg);
  }
  get ok(): boolean {
    return this.list.length === 0;
  }
}

export interface ScenarioOptions {
  quick: boolean;
  seed?: number;
  /** Overrides of the scenario's own count or duration (e.g. `cycles`, `durationS`). */
  [key: string]: unknown;
}

export interface FrameRecord {
  t: number;
  bytes: number;
  hash: string;
  /** The server's frame counter (X-Frame-Seq): gaps are frames this viewer did not get. */
  seq?: number;
}

/**
 * A `/stream.mjpg` client that parses the multipart stream by Content-Length. A slow viewer stops reading for
 * `pauseMs` after every `readMs` of reading (its socket fills and the server must drop frames for it, not buffer).
 */
export class MjpegViewer {
  frames: FrameRecord[] = [];
  count = 0;
  status = 0;
  error?: string;
  closed = false;
  private req?: http.ClientRequest;
  private res?: http.IncomingMessage;
  private buf: Buffer = Buffer.alloc(0);
  private pauseTimer?: NodeJS.Timeout;

  constructor(
    private readonly base: string,
    private readonly opts: {
      hash?: boolean;
      keep?: number;
      slow?: { readMs: number; pauseMs: number };
      auth?: boolean;
    } = {},
  ) {}

  connect(): Promise<void> {
    const u = new URL(this.base);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          path: '/stream.mjpg',
          agent: false,
          headers: this.opts.auth === false ? {} : { Authorization: `Bearer ${API_TOKEN}` },
        },
        (res) => {
          this.res = res;
          this.status = res.statusCode ?? 0;
          if (this.status !== 200) {
            res.resume();
            reject(new Error(`/stream.mjpg → ${this.status}`));
            return;
          }
          res.on('data', (c: Buffer) => this.onData(c));
          res.on('close', () => {
            this.closed = true;
          });
          res.on('error', (e) => {
            this.error = String(e);
          });
          if (this.opts.slow) this.scheduleSlow();
          resolve();
        },
      );
      req.on('error', (e) => {
        this.error = String(e);
        this.closed = true;
        reject(e);
      });
      req.end();
      this.req = req;
    });
  }

  private scheduleSlow(): void {
    const s = this.opts.slow;
    if (!s || this.closed) return;
    this.pauseTimer = setTimeout(() => {
      this.res?.pause();
      this.pauseTimer = setTimeout(() => {
        this.res?.resume();
        this.scheduleSlow();
      }, s.pauseMs);
    }, s.readMs);
  }

  private onData(c: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
    for (;;) {
      const headEnd = this.buf.indexOf('\r\n\r\n');
      if (headEnd < 0) {
        if (this.buf.length > 64 * 1024) this.fail('no part header within 64 kB');
        return;
      }
      const head = this.buf.subarray(0, headEnd).toString('latin1');
      const m = /Content-Length:\s*(\d+)/i.exec(head);
      if (!m || !head.includes('--pinholeframe')) {
        this.fail(`bad part header: ${JSON.stringify(head.slice(0, 200))}`);
        return;
      }
      const len = Number(m[1]);
      const start = headEnd + 4;
      if (this.buf.length < start + len + 2) return;
      const jpeg = this.buf.subarray(start, start + len);
      if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8 || jpeg[len - 2] !== 0xff || jpeg[len - 1] !== 0xd9)
        this.fail('a part is not a complete JPEG (SOI/EOI)');
      this.count++;
      const seq = /X-Frame-Seq:\s*(-?\d+)/i.exec(head);
      const rec: FrameRecord = {
        t: Date.now(),
        bytes: len,
        hash: this.opts.hash === false ? '' : createHash('sha1').update(jpeg).digest('hex'),
        ...(seq ? { seq: Number(seq[1]) } : {}),
      };
      this.frames.push(rec);
      const keep = this.opts.keep ?? 2000;
      if (this.frames.length > keep) this.frames.splice(0, this.frames.length - keep);
      this.buf = this.buf.subarray(start + len + 2);
    }
  }

  private fail(msg: string): void {
    this.error = msg;
    this.close();
  }

  /**
   * When live camera frames (not a repeated placeholder) first arrived at or after `since`: three frames in a row
   * with distinct contents within 1 s (placeholders are the same image once a second).
   */
  firstLiveAfter(since: number): number | undefined {
    const f = this.frames;
    for (let i = 0; i + 2 < f.length; i++) {
      if (f[i].t < since) continue;
      const a = f[i];
      const b = f[i + 1];
      const c = f[i + 2];
      if (a.hash !== b.hash && b.hash !== c.hash && a.hash !== c.hash && c.t - a.t < 1000) return a.t;
    }
    return undefined;
  }

  close(): void {
    clearTimeout(this.pauseTimer);
    this.closed = true;
    this.req?.destroy();
  }
}

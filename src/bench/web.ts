/**
 * Live preview through the web server: latency the daemon adds (frame handed to the MJPEG hub → its bytes
 * handed to the client's socket, from the write callback) and the server's CPU with 1, 5 and 20 viewers.
 * Frames are real 640×480 JPEGs (from ../shared/images when present) at 15 fps from a fake frame source; the
 * viewers run in a child process so their parsing does not count as server CPU. Reference measured in the same
 * run: the same frame source and server with no viewer (baseline CPU), to quote per-viewer costs.
 */
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { defaultConfig } from '../config/load.js';
import { NotFoundError } from '../util/errors.js';
import { configureLogging } from '../util/logger.js';
import { createWebServer } from '../web/server.js';
import type { WebServices } from '../web/services.js';

const FPS = 15;
const TOKEN = 'bench-token-0123456789abcdef';

function percentiles(samples: number[]): { p50: number; p99: number; max: number; n: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return { p50: r(at(0.5)), p99: r(at(0.99)), max: r(s[s.length - 1] ?? 0), n: s.length };
}

async function frames(): Promise<Buffer[]> {
  // Runs from src/bench (tsx/vitest) or dist/src/bench (npm run bench): the repo root has package.json.
  let repoRoot = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(repoRoot, 'package.json')) && path.dirname(repoRoot) !== repoRoot)
    repoRoot = path.dirname(repoRoot);
  const dir = path.resolve(repoRoot, '../shared/images');
  const sources = existsSync(dir)
    ? (await fs.readdir(dir)).filter((f) => /\.(jpe?g|png)$/i.test(f)).map((f) => path.join(dir, f))
    : [];
  const out: Buffer[] = [];
  for (let i = 0; i < 8; i++) {
    const img = sources.length
      ? sharp(sources[i % sources.length])
          .resize(640 + 16 * i, 480 + 12 * i, { fit: 'cover' })
          .resize(640, 480, { fit: 'cover', position: i % 2 ? 'left' : 'right' })
      : sharp({
          create: {
            width: 640,
            height: 480,
            channels: 3,
            background: { r: 128, g: 128, b: 128 },
            noise: { type: 'gaussian', mean: 128, sigma: 40 },
          },
        });
    out.push(await img.jpeg({ quality: 50 }).toBuffer());
  }
  return out;
}

const CLIENT = `
const http = require('node:http');
const [url, n, ms, token] = process.argv.slice(1);
let bytes = 0; const reqs = [];
for (let i = 0; i < Number(n); i++) {
  const r = http.get(url + '/stream.mjpg', { headers: { authorization: 'Bearer ' + token } }, (res) => res.on('data', (c) => { bytes += c.length; }));
  r.on('error', () => {}); reqs.push(r);
}
setTimeout(() => { for (const r of reqs) r.destroy(); process.stdout.write(JSON.stringify({ bytes })); process.exit(0); }, Number(ms));
`;

function runViewers(url: string, n: number, ms: number): Promise<{ bytes: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CLIENT, url, String(n), String(ms), TOKEN], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('exit', () => {
      try {
        resolve(JSON.parse(out) as { bytes: number });
      } catch {
        reject(new Error(`viewer process failed: ${out}`));
      }
    });
  });
}

export async function run(opts: { quick: boolean }): Promise<Record<string, unknown>> {
  configureLogging({ level: 'warn' });
  const jpegs = await frames();
  const subscribers = new Set<(b: Buffer) => void>();
  let latest: Buffer | undefined;
  const missing = async (): Promise<never> => {
    throw new NotFoundError('not in the bench');
  };
  const services: WebServices = {
    camera: {
      status: () => ({ state: 'streaming' }),
      subscribe: (cb) => {
        subscribers.add(cb);
        return () => subscribers.delete(cb);
      },
      latestFrame: () => latest,
    },
    capture: missing,
    gallery: {
      list: async () => ({ photos: [], nextCursor: null }),
      get: missing,
      filePath: missing,
      thumbPath: missing,
      delete: missing,
    },
    jobs: { enqueue: missing, catalog: async () => ({ filters: [], recipes: [] }) },
    config: { get: () => ({ config: defaultConfig(), errors: [] }), update: missing, schema: () => ({}) },
    system: { status: async () => ({}), shutdown: async () => {}, reboot: async () => {}, setTime: async () => {} },
    events: { subscribe: () => () => {} },
  };
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-bench-web-'));
  const base = defaultConfig();
  const server = createWebServer(
    {
      ...base,
      dataDir,
      web: { ...base.web, host: '127.0.0.1', port: 0, maxViewers: 100, auth: { ...base.web.auth, apiTokens: [TOKEN] } },
    },
    services,
    { staticDir: path.join(dataDir, 'no-ui') },
  );
  const { url } = await server.start();
  const latencies: number[] = [];
  server.mjpeg.probe = (_seq, handed, written) => latencies.push(Number(written - handed) / 1e6);

  let i = 0;
  const ticker = setInterval(() => {
    latest = jpegs[i++ % jpegs.length];
    for (const s of subscribers) s(latest);
  }, 1000 / FPS);

  const windowMs = opts.quick ? 2000 : 8000;
  const measure = async (viewers: number) => {
    latencies.length = 0;
    const before = server.mjpeg.stats();
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    let received = 0;
    if (viewers === 0) await new Promise((r) => setTimeout(r, windowMs));
    else received = (await runViewers(url, viewers, windowMs)).bytes;
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpu = process.cpuUsage(cpu0);
    const after = server.mjpeg.stats();
    const cpuPct = Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 1000) / 10;
    return {
      viewers,
      cpuPct,
      latencyMs: percentiles(latencies),
      framesPerViewerPerS: viewers ? Math.round((latencies.length / viewers / (windowMs / 1000)) * 10) / 10 : 0,
      dropped: Math.max(0, after.dropped - before.dropped),
      receivedMB: Math.round(received / 1e5) / 10,
    };
  };

  try {
    const baseline = await measure(0);
    const levels = [];
    for (const n of [1, 5, 20]) levels.push(await measure(n));
    const frameIntervalMs = 1000 / FPS;
    return {
      fps: FPS,
      frameBytes: Math.round(jpegs.reduce((a, b) => a + b.length, 0) / jpegs.length),
      windowS: windowMs / 1000,
      baselineCpuPct: baseline.cpuPct,
      levels: levels.map((l) => ({
        ...l,
        cpuPerViewerPct: Math.round(((l.cpuPct - baseline.cpuPct) / l.viewers) * 100) / 100,
        // Latency as a share of the frame interval: below 1 means the daemon adds less than one frame of delay.
        p99VsFrameInterval: Math.round((l.latencyMs.p99 / frameIntervalMs) * 1000) / 1000,
      })),
    };
  } finally {
    clearInterval(ticker);
    await server.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

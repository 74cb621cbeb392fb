import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CaptureService } from '../capture/capture-service.js';
import { defaultConfig } from '../config/load.js';
import type { CameraConfig } from '../config/sections/camera.js';
import { cameraCommands } from '../hw/camera/commands.js';
import { RpicamCamera } from '../hw/camera/rpicam-camera.js';
import type { Frame } from '../hw/camera/types.js';
import { GalleryStore } from '../store/gallery.js';
import { configureLogging } from '../util/logger.js';

/**
 * Camera benchmarks with the simulated camera (real subprocesses, real pipes, real files):
 *  - preview fan-out: frames/s delivered per client and daemon CPU per client for 1, 5, 10 consumers at 640×480,
 *    each consumer writing multipart MJPEG to a local TCP socket with backpressure (what /stream.mjpg does);
 *  - capture lag per strategy: p50/p99 of trigger → command issued, → exposure done, → durable file.
 * The fake camera's CPU is not counted (it is a separate process standing in for the ISP).
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r1 = (v: number) => Math.round(v * 10) / 10;
const r2 = (v: number) => Math.round(v * 100) / 100;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return r1(s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]);
}

function baseConfig(patch: (c: CameraConfig) => void): CameraConfig {
  const c = structuredClone(defaultConfig().camera);
  c.backend = 'sim';
  c.preview = { width: 640, height: 480, fps: 15, quality: 50 };
  patch(c);
  return c;
}

async function socketSink(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer((s) => {
    s.on('data', () => {});
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

async function fanout(dir: string, consumers: number, seconds: number): Promise<Record<string, number>> {
  const cfg = baseConfig((c) => (c.capture.strategy = 'switch'));
  const cam = new RpicamCamera({
    config: cfg,
    commands: cameraCommands('sim'),
    runDir: path.join(dir, `run-fan-${consumers}`),
    env: { ...process.env, PINHOLE_FAKE_CAMERA_STATE_DIR: path.join(dir, 'sim'), PINHOLE_FAKE_CAMERA_FAULT: '' },
  });
  const sink = await socketSink();
  const sockets: net.Socket[] = [];
  const offs: (() => void)[] = [];
  try {
    await cam.start();
    const t0 = Date.now();
    while (cam.status().state !== 'streaming' && Date.now() - t0 < 15_000) await sleep(50);
    const counts = new Array<number>(consumers).fill(0);
    for (let i = 0; i < consumers; i++) {
      const sock = net.createConnection(sink.port, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      sockets.push(sock);
      offs.push(
        cam.frames.subscribe((f: Frame) => {
          counts[i]++;
          const ok =
            sock.write(`--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ${f.data.length}\r\n\r\n`) &&
            sock.write(f.data) &&
            sock.write('\r\n');
          if (!ok) return new Promise<void>((r) => sock.once('drain', () => r()));
        }),
      );
    }
    await sleep(500); // settle
    counts.fill(0);
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    await sleep(seconds * 1000);
    const cpu = process.cpuUsage(cpu0);
    const wall = (performance.now() - w0) / 1000;
    const cpuPct = ((cpu.user + cpu.system) / 1e6 / wall) * 100;
    return {
      consumers,
      fpsPerClient: r1(counts.reduce((a, b) => a + b, 0) / consumers / wall),
      fpsSource: cfg.preview.fps,
      daemonCpuPercent: r1(cpuPct),
      cpuPercentPerClient: r1(cpuPct / consumers),
      dropped: cam.frames.stats().dropped,
    };
  } finally {
    for (const off of offs) off();
    for (const s of sockets) s.destroy();
    await cam.stop();
    await sink.close();
  }
}

/**
 * `viewer`: a consumer watches the preview the whole time (a phone on the viewfinder), so even strategy `signal`
 * takes the switch path: stop rpicam-vid, run rpicam-still, restart the preview. How the preview is stopped is on
 * this path's shutter lag.
 */
async function captureLag(
  dir: string,
  strategy: 'switch' | 'signal',
  n: number,
  opts: { viewer?: boolean; width?: number; height?: number } = {},
): Promise<Record<string, unknown>> {
  const cfg = baseConfig((c) => {
    c.capture.strategy = strategy;
    c.still = { width: opts.width ?? 0, height: opts.height ?? 0, quality: 93 };
  });
  const label = `${strategy}${opts.viewer ? '-viewer' : ''}`;
  const dataDir = path.join(dir, `data-${label}`);
  const cam = new RpicamCamera({
    config: cfg,
    commands: cameraCommands('sim'),
    runDir: path.join(dataDir, 'run'),
    env: { ...process.env, PINHOLE_FAKE_CAMERA_STATE_DIR: path.join(dir, 'sim'), PINHOLE_FAKE_CAMERA_FAULT: '' },
  });
  const store = new GalleryStore({ dataDir, storage: () => ({ minFreeMB: 0, thumbnailSize: 320 }) });
  await store.open();
  const service = new CaptureService({ camera: cam, store, config: () => cfg });
  const lags: { command: number; exposure: number; durable: number }[] = [];
  let offViewer: (() => void) | undefined;
  try {
    await cam.start();
    if (opts.viewer) offViewer = cam.frames.subscribe(() => {});
    for (let i = 0; i < n; i++) {
      const t0 = Date.now();
      // Each shot starts from the steady state: streaming preview (switch) or armed still process (signal).
      while (cam.status().state !== 'streaming' && Date.now() - t0 < 15_000) await sleep(20);
      await sleep(300);
      const r = await service.capture({ source: 'bench' });
      lags.push({
        command: r.lag.commandIssuedMs,
        exposure: r.lag.exposureDoneMs,
        durable: r.lag.durableMs ?? Number.NaN,
      });
    }
  } finally {
    offViewer?.();
    await cam.stop();
  }
  const col = (k: 'command' | 'exposure' | 'durable') => lags.map((l) => l[k]);
  return {
    strategy,
    viewer: Boolean(opts.viewer),
    n,
    size: opts.width ? `${opts.width}x${opts.height}` : '4056x3040',
    triggerToCommandMs: { p50: pct(col('command'), 50), p99: pct(col('command'), 99) },
    triggerToExposureDoneMs: { p50: pct(col('exposure'), 50), p99: pct(col('exposure'), 99) },
    triggerToDurableMs: { p50: pct(col('durable'), 50), p99: pct(col('durable'), 99) },
  };
}

/** Only the "switch with a viewer" case: `PINHOLE_BENCH_CAMERA=viewer npm run bench -- --only camera`. */
export async function viewerOnly(dir: string, shots: number): Promise<Record<string, unknown>> {
  return captureLag(dir, 'signal', shots, { viewer: true });
}

export async function run(opts: { quick: boolean }): Promise<Record<string, unknown>> {
  // stdout carries the benchmark JSON: camera warnings go to stderr.
  configureLogging({ level: 'warn', sink: (line) => process.stderr.write(`${line}\n`) });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-bench-camera-'));
  try {
    if (process.env.PINHOLE_BENCH_CAMERA === 'viewer') {
      const shots = opts.quick ? 3 : 10;
      return { camera: 'sim', cpus: os.cpus().length, switchWithViewer: await viewerOnly(dir, shots) };
    }
    const seconds = opts.quick ? 1.5 : 6;
    const fan = [];
    for (const n of [1, 5, 10]) fan.push(await fanout(dir, n, seconds));
    const shots = opts.quick ? 3 : 10;
    const sw = await captureLag(dir, 'switch', shots);
    const sig = await captureLag(dir, 'signal', shots);
    const viewer = await captureLag(dir, 'signal', shots, { viewer: true });
    const p50 = (r: Record<string, unknown>, k: string) => (r[k] as { p50: number }).p50;
    return {
      camera: 'sim (fake rpicam-vid/rpicam-still, modelled open/mode-switch/exposure delays)',
      cpus: os.cpus().length,
      previewFanout: fan,
      captureLag: [sw, sig, viewer],
      signalVsSwitch: {
        exposureDoneRatio: r2(p50(sig, 'triggerToExposureDoneMs') / p50(sw, 'triggerToExposureDoneMs')),
        durableRatio: r2(p50(sig, 'triggerToDurableMs') / p50(sw, 'triggerToDurableMs')),
      },
    };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

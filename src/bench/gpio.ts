/**
 * Button edge → capture command issued: the daemon's share of shutter lag on the GPIO side.
 *  - sim: a press edge injected into the sim backend → debounce/gesture logic → the shutter handler (a fake that
 *    records the time). Same code path as a real button after the backend.
 *  - gpiod: a fake `gpiomon` (test/fixtures/gpio) stamps each event with CLOCK_MONOTONIC as it prints it; measured
 *    to our onEdge callback: pipe + line parsing, the part the gpiod backend adds on a Pi.
 * Reference measured in the same run: one event-loop turn (setImmediate round trip), to quote ratios.
 */
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { CameraComponent } from '../capture/camera-component.js';
import type { CaptureResult } from '../capture/capture-service.js';
import { defaultConfig } from '../config/load.js';
import type { PinholeConfig } from '../config/schema.js';
import { EventBus } from '../events.js';
import type { ButtonActionHandlers } from '../hw/gpio/actions.js';
import { GpioComponent } from '../hw/gpio/gpio-component.js';
import { GpiodBackend } from '../hw/gpio/gpiod-backend.js';
import { configureLogging } from '../util/logger.js';

const BUDGET_MS = 20;

function percentiles(samples: number[]): { p50: number; p99: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return { p50: r(at(0.5)), p99: r(at(0.99)), max: r(s[s.length - 1]) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventLoopTurn(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise((r) => setImmediate(r));
    out.push(performance.now() - t0);
  }
  return out;
}

/** The sim backend with one shutter button on BCM 26 (5 ms debounce, no long or double action: fires on press). */
function simShutterButton(cfg: PinholeConfig): void {
  cfg.gpio.backend = 'sim';
  cfg.gpio.modelPath = path.join(os.tmpdir(), 'pinhole-bench-no-model');
  cfg.gpio.buttons = [
    {
      name: 'shutter',
      pin: 26,
      action: 'shutter',
      activeLow: true,
      pull: 'up',
      debounceMs: 5,
      longPressMs: 1000,
      longPressAction: 'none',
      doublePressAction: 'none',
      doublePressMs: 300,
    },
  ];
}

async function simPresses(n: number): Promise<number[]> {
  const cfg = defaultConfig();
  simShutterButton(cfg);
  let shotAt = 0;
  const noop = async () => undefined;
  const handlers: ButtonActionHandlers = {
    shutter: async () => {
      shotAt = performance.now();
    },
    burst: noop,
    timer: noop,
    nextFilter: noop,
    toggleFaces: noop,
    shutdown: noop,
  };
  const gpio = new GpioComponent({ config: cfg, handlers });
  await gpio.start();
  const sim = gpio.simBackend;
  if (!sim) throw new Error('sim backend did not start');
  const out: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      shotAt = 0;
      const t0 = performance.now();
      sim.setLevel(26, 0);
      if (!shotAt) throw new Error(`press ${i} issued no shutter`);
      out.push(shotAt - t0);
      await sleep(7); // past the 5 ms debounce lockout
      sim.setLevel(26, 1);
      await sleep(7);
    }
  } finally {
    await gpio.stop();
  }
  return out;
}

/**
 * The whole path with the simulated camera: press edge → button logic → shutter handler → capture service → the
 * still command issued to the camera process (SIGUSR1 to the armed rpicam-still, strategy `signal`), and on to the
 * durable file. Small stills keep 200 presses short; the command time does not depend on the still size.
 */
async function simCameraPresses(n: number): Promise<{ toCommand: number[]; toDurable: number[] }> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-bench-shutter-'));
  const cfg = defaultConfig();
  cfg.dataDir = dataDir;
  cfg.storage.minFreeMB = 0;
  cfg.camera.backend = 'sim';
  cfg.camera.capture.strategy = 'signal';
  cfg.camera.still = { width: 640, height: 480, quality: 80 };
  simShutterButton(cfg);
  const camera = new CameraComponent({ config: cfg, bus: new EventBus() });
  let handlerAt = 0;
  let shot: Promise<CaptureResult> | undefined;
  const noop = async () => undefined;
  const gpio = new GpioComponent({
    config: cfg,
    handlers: {
      shutter: async () => {
        handlerAt = performance.now();
        shot = camera.captures.capture({ source: 'button' });
        return shot;
      },
      burst: noop,
      timer: noop,
      nextFilter: noop,
      toggleFaces: noop,
      shutdown: noop,
    },
  });
  const toCommand: number[] = [];
  const toDurable: number[] = [];
  try {
    await camera.start();
    await gpio.start();
    const sim = gpio.simBackend;
    if (!sim) throw new Error('sim backend did not start');
    // Wait until the camera is armed (ready for the shutter).
    for (let i = 0; i < 200 && camera.cameraStatus().state !== 'streaming'; i++) await sleep(50);
    for (let i = 0; i < n; i++) {
      shot = undefined;
      const t0 = performance.now();
      sim.setLevel(26, 0);
      if (!shot) throw new Error(`press ${i} issued no shutter`);
      const r = await (shot as Promise<CaptureResult>);
      toCommand.push(handlerAt - t0 + r.lag.commandIssuedMs);
      toDurable.push(handlerAt - t0 + (r.lag.durableMs ?? r.lag.writtenMs));
      sim.setLevel(26, 1);
      await sleep(10);
    }
  } finally {
    await gpio.stop();
    await camera.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
  return { toCommand, toDurable };
}

function fixturesDir(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'test', 'fixtures', 'gpio');
    if (existsSync(path.join(candidate, 'gpiomon'))) return candidate;
    dir = path.dirname(dir);
  }
  return undefined;
}

async function gpiodEdges(n: number): Promise<number[] | string> {
  const fx = fixturesDir();
  if (!fx) return 'fake gpiomon not found (test/fixtures/gpio)';
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-bench-gpiod-'));
  const saved = process.env.FAKE_GPIO_DIR;
  process.env.FAKE_GPIO_DIR = dir;
  const backend = await GpiodBackend.create({
    tools: {
      gpiomon: path.join(fx, 'gpiomon'),
      gpioset: path.join(fx, 'gpioset'),
      gpiodetect: path.join(fx, 'gpiodetect'),
    },
  });
  const out: number[] = [];
  let waiting: ((v: number) => void) | undefined;
  try {
    await backend.openInput(26, {
      pull: 'up',
      glitchFilterUs: 0,
      onEdge: (_level, ts) => {
        // ts is the fake's CLOCK_MONOTONIC in ms, the same clock as process.hrtime.
        const now = Number(process.hrtime.bigint()) / 1e6;
        if (ts !== undefined) waiting?.(now - ts);
      },
    });
    const events = path.join(dir, 'gpiomon-26.events');
    for (let i = 0; i < n; i++) {
      const got = new Promise<number>((resolve) => {
        waiting = resolve;
      });
      await fs.appendFile(events, i % 2 ? 'rising\n' : 'falling\n');
      out.push(await got);
    }
  } finally {
    await backend.close();
    process.env.FAKE_GPIO_DIR = saved;
    await fs.rm(dir, { recursive: true, force: true });
  }
  return out;
}

export async function run(opts: { quick: boolean }): Promise<Record<string, unknown>> {
  configureLogging({ level: 'warn' });
  const n = opts.quick ? 50 : 200;
  const reference = percentiles(await eventLoopTurn(n));
  const sim = percentiles(await simPresses(n));
  const gpiodSamples = await gpiodEdges(opts.quick ? 30 : 100);
  let withCamera: Record<string, unknown>;
  try {
    const c = await simCameraPresses(opts.quick ? 20 : 200);
    const cmd = percentiles(c.toCommand);
    withCamera = {
      presses: c.toCommand.length,
      edgeToCommandIssued: cmd,
      edgeToDurableFile: percentiles(c.toDurable),
      edgeToCommandP99OfBudget: Math.round((cmd.p99 / BUDGET_MS) * 10000) / 10000,
    };
  } catch (e) {
    withCamera = { error: (e as Error).message };
  }
  const gpiod = typeof gpiodSamples === 'string' ? { error: gpiodSamples } : percentiles(gpiodSamples);
  return {
    presses: n,
    unit: 'ms',
    budgetMs: BUDGET_MS,
    edgeToShutterSim: sim,
    edgeToShutterSimP99OfBudget: Math.round((sim.p99 / BUDGET_MS) * 10000) / 10000,
    gpiodPipeEdgeToCallback: gpiod,
    simCamera: withCamera,
    referenceEventLoopTurn: reference,
    simP50VsEventLoopTurn: reference.p50 > 0 ? Math.round((sim.p50 / reference.p50) * 100) / 100 : null,
    note: 'sim: press edge → shutter handler (debounce lockout, act on first edge). gpiod: fake gpiomon print → onEdge. Capture itself is the camera bench.',
  };
}

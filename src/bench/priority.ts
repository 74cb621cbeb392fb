import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { defaultConfig } from '../config/load.js';
import { InProcessRunner, type JobRunner } from '../filters/job-runner.js';
import { filterDepsFromConfig } from '../filters/setup.js';
import { ChildJobRunner } from '../filters/worker/child-runner.js';
import { previewArgv } from '../hw/camera/argv.js';
import { cameraCommands } from '../hw/camera/commands.js';
import { childEnv } from '../util/child-env.js';
import { configureLogging } from '../util/logger.js';
import type { PriorityClass } from '../util/low-priority.js';

/**
 * `npm run bench -- --only priority`: where should a long filter job run so that it never costs the shutter or the
 * preview? The same denoise runs beside a stand-in for the daemon's foreground work — the fake camera (its own
 * session, like the daemon's camera child) streaming 640×480 at 15 fps, this process's event loop (the daemon's main
 * thread: preview fan-out, shutter command) and a capture-sized sharp encode every second — once per option:
 * in this process, in a worker thread at nice 19, in a child process at nice 0, nice 19 and SCHED_IDLE. Every
 * figure is a ratio against the same foreground with no job measured just before (paired, so a busy machine's
 * drift hits both alike).
 */

const here = path.dirname(fileURLToPath(import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r2 = (v: number) => Math.round(v * 100) / 100;

function sharedDir(): string {
  for (const up of ['../../..', '../../../..']) {
    const d = path.resolve(here, up, 'shared');
    if (existsSync(path.join(d, 'models'))) return d;
  }
  throw new Error('cannot find ../shared next to the repo');
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] : Number.NaN;
}

type Option = { name: string; runner: (workDir: string) => JobRunner };

interface Foreground {
  cameraFps: number;
  loopLagP99Ms: number;
  loopLagMaxMs: number;
  encodeP50Ms: number;
}

/** Runs the foreground until `until` resolves; returns what it achieved. */
async function foreground(until: Promise<unknown>, stateDir: string, still: Buffer): Promise<Foreground> {
  const cfg = structuredClone(defaultConfig().camera);
  cfg.backend = 'sim';
  cfg.preview = { width: 640, height: 480, fps: 15, quality: 50 };
  const cam: ChildProcess = spawn(cameraCommands('sim').vid, previewArgv(cfg), {
    stdio: ['ignore', 'pipe', 'ignore'],
    detached: true,
    env: childEnv(process.env, { PINHOLE_FAKE_CAMERA_STATE_DIR: stateDir }),
  });
  // frames = JPEG end markers seen on stdout
  let frames = 0;
  let prev = 0;
  cam.stdout?.on('data', (c: Buffer) => {
    for (let i = 0; i < c.length; i++) {
      if (prev === 0xff && c[i] === 0xd9) frames++;
      prev = c[i];
    }
  });
  const lags: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lags.push(Math.max(0, now - last - 10));
    last = now;
  }, 10);
  const encodes: number[] = [];
  let done = false;
  void until.finally(() => {
    done = true;
  });
  try {
    while (frames < 3) await sleep(20);
    const f0 = frames;
    const t0 = performance.now();
    while (!done) {
      const e0 = performance.now();
      await sharp(still, { raw: { width: 2028, height: 1520, channels: 3 } })
        .jpeg({ quality: 93 })
        .toBuffer();
      encodes.push(performance.now() - e0);
      await Promise.race([sleep(1000), until]);
    }
    const secs = (performance.now() - t0) / 1000;
    return {
      cameraFps: (frames - f0) / secs,
      loopLagP99Ms: pct(lags, 99),
      loopLagMaxMs: Math.max(...lags),
      encodeP50Ms: pct(encodes, 50),
    };
  } finally {
    clearInterval(timer);
    cam.kill('SIGINT');
    await new Promise((r) => cam.once('exit', r));
  }
}

export async function run(opts: { quick: boolean }): Promise<Record<string, unknown>> {
  // the job runners' log lines (worker started, …) go to stderr: stdout holds the bench's JSON only
  configureLogging({ sink: (line) => process.stderr.write(`${line}\n`) });
  const shared = sharedDir();
  const work = mkdtempSync(path.join(os.tmpdir(), 'pinhole-bench-priority-'));
  const side = opts.quick ? 512 : 1024;
  const photo = path.join(work, 'photo.png');
  await sharp(path.join(shared, 'images', 'two_people.jpg'))
    .resize(side, side, { fit: 'cover' })
    .png()
    .toFile(photo);
  const still = await sharp(path.join(shared, 'images', 'two_people.jpg'))
    .resize(2028, 1520, { fit: 'fill' })
    .raw()
    .toBuffer();
  const config = defaultConfig();
  config.models.dir = path.join(shared, 'models');
  // the same arena choice everywhere: this compares priorities, not glibc settings (the worker process has its own)
  config.vision.memArena = true;
  const child =
    (priority: PriorityClass, isolation: 'process' | 'thread' = 'process') =>
    (workDir: string) =>
      new ChildJobRunner({ config, workDir, idleExitMs: 0, priority, isolation });
  const options: Option[] = [
    { name: 'in the daemon process', runner: (w) => new InProcessRunner(filterDepsFromConfig(config, { workDir: w })) },
    { name: 'worker thread, nice 19', runner: child('jobs', 'thread') },
    { name: 'child process, nice 0', runner: child('normal') },
    { name: 'child process, nice 19', runner: child('jobs') },
    { name: 'child process, SCHED_IDLE', runner: child('idle') },
  ];
  const results: Record<string, unknown>[] = [];
  const baseSeconds = opts.quick ? 5 : 15;
  try {
    for (const o of options) {
      process.stderr.write(`priority: ${o.name}…\n`);
      const base = await foreground(sleep(baseSeconds * 1000), path.join(work, 'sim'), still);
      const runner = o.runner(work);
      // the worker's start and model load are not part of the comparison
      await runner.run(job('warm', photo, work, 'sepia'), {
        signal: new AbortController().signal,
        onProgress: () => {},
      });
      const t0 = performance.now();
      let runMs = 0;
      const jobDone = runner.run(job(o.name.replace(/\W+/g, '-'), photo, work, 'denoise'), {
        signal: new AbortController().signal,
        onProgress: () => {},
      });
      const fg = await foreground(
        jobDone.then((r) => {
          runMs = r.runMs;
        }),
        path.join(work, 'sim'),
        still,
      );
      const wall = performance.now() - t0;
      await runner.close();
      results.push({
        option: o.name,
        denoiseWallS: r2(wall / 1000),
        denoiseModelRunS: r2(runMs / 1000),
        cameraFps: { noJob: r2(base.cameraFps), withJob: r2(fg.cameraFps) },
        eventLoopLagP99Ms: { noJob: r2(base.loopLagP99Ms), withJob: r2(fg.loopLagP99Ms) },
        eventLoopLagMaxMs: { noJob: r2(base.loopLagMaxMs), withJob: r2(fg.loopLagMaxMs) },
        captureEncodeP50OverNoJob: r2(fg.encodeP50Ms / base.encodeP50Ms),
      });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return {
    loadAverage: os.loadavg().map(r2),
    job: `denoise of ${side}x${side}`,
    foreground:
      'fake rpicam-vid 640x480@15 (own session), this event loop (10 ms timer), a 3 MP JPEG encode every second',
    options: results,
  };
}

function job(id: string, source: string, dir: string, recipe: string) {
  return { id, recipe, params: {}, source, output: path.join(dir, `${id}.jpg`) };
}

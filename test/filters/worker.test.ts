import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/load.js';
import type { PinholeConfig } from '../../src/config/schema.js';
import { InProcessRunner, type JobRunner, type JobSpec } from '../../src/filters/job-runner.js';
import { ChildJobRunner } from '../../src/filters/worker/child-runner.js';
import { schedOf } from '../../src/util/low-priority.js';
import { maxLoopLag } from '../helpers/loop-lag.js';
import { waitUntil } from '../helpers/tmp.js';
import * as h from './helpers.js';

function config(): PinholeConfig {
  const c = defaultConfig();
  c.models.dir = h.modelsDir;
  c.vision = { ...c.vision, ...h.sessionOpts };
  return c;
}

const environ = (pid: number) =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The longest the event loop was kept from running a 10 ms interval while `work` ran. */
describe('filter jobs in the low-priority worker process', () => {
  let t: ReturnType<typeof h.tempDir>;
  let photo: string;
  let runner: ChildJobRunner | undefined;
  beforeAll(async () => {
    // the worker runs the built JS (npm test builds first)
    expect(readdirSync(path.join(h.repoRoot, 'dist/src/filters/worker'))).toContain('main.js');
  });
  beforeEach(async () => {
    t = h.tempDir();
    photo = path.join(t.dir, 'p.png');
    await sharp(h.twoPeople).resize(512, 512, { fit: 'cover' }).png().toFile(photo);
  });
  afterEach(async () => {
    await runner?.close();
    runner = undefined;
    t.cleanup();
  });

  const job = (id: string, recipe: string, params = {}): JobSpec => ({
    id,
    recipe,
    params,
    source: photo,
    output: path.join(t.dir, `${id}.jpg`),
  });
  const progress = { signal: new AbortController().signal, onProgress: () => {} };

  it("runs at nice 19 on every thread, with its own malloc tuning and none of the daemon's", async () => {
    runner = new ChildJobRunner({
      config: config(),
      workDir: t.dir,
      idleExitMs: 0,
      env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '131072', NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '1' },
    });
    // Judged while the job runs: at nice 19 beside a machine's worth of busy nice-0 processes (stress-ng) the worker
    // gets a sliver of the CPU and may take minutes to finish; its priority is what this test is about. Threads
    // started later (onnxruntime's) inherit the nice value of the thread that starts them.
    const running = runner.run(job('a', 'denoise'), progress);
    running.catch(() => {}); // finished or ended by close()
    await waitUntil(
      () => {
        const p = runner?.pid;
        return p !== undefined && readdirSync(`/proc/${p}/task`).length > 3;
      },
      60_000,
      50,
    );
    const pid = runner.pid as number;
    const threads = readdirSync(`/proc/${pid}/task`).map((tid) => schedOf(pid, Number(tid))?.nice);
    // main, libuv and V8 platform threads alike
    expect(threads.length).toBeGreaterThan(3);
    expect(new Set(threads)).toEqual(new Set([19]));
    const env = environ(pid);
    expect(env.MALLOC_MMAP_THRESHOLD_).toBe('65536');
    expect(env.MALLOC_ARENA_MAX).toBe('2');
    expect(env.NOTIFY_SOCKET).toBeUndefined();
    expect(env.WATCHDOG_USEC).toBeUndefined();
    expect(runner.describe()).toMatchObject({ mode: 'worker-process', priority: 'jobs', pid });
  }, 120_000);

  it("face-aware filters get the daemon's faces; the worker exits when idle and comes back for the next job", async () => {
    const faces = new h.FakeFaceFinder([{ box: [100, 100, 120, 150] }]);
    runner = new ChildJobRunner({ config: config(), workDir: t.dir, idleExitMs: 300, faces, priority: 'normal' });
    await runner.run(job('a', 'privacy', { mode: 'pixelate' }), progress);
    expect(faces.calls).toBe(1);
    const first = runner.pid as number;
    await sleep(1500);
    expect(runner.pid).toBeUndefined();
    expect(() => process.kill(first, 0)).toThrow();
    await runner.run(job('b', 'sepia'), progress);
    expect(runner.describe()).toMatchObject({ starts: 2 });
    const px = await sharp(path.join(t.dir, 'a.jpg')).metadata();
    expect([px.width, px.height]).toEqual([512, 512]);
  }, 120_000);

  it('a worker killed mid-job fails that job with the reason; the next job gets a new worker', async () => {
    runner = new ChildJobRunner({ config: config(), workDir: t.dir, idleExitMs: 0, priority: 'normal' });
    const running = runner.run(job('a', 'denoise', { strength: 'strong' }), {
      signal: new AbortController().signal,
      onProgress: () => {
        if (runner?.pid) process.kill(runner.pid, 'SIGKILL');
      },
    });
    await expect(running).rejects.toThrow(/filter worker stopped \(killed by SIGKILL\)/);
    await expect(runner.run(job('b', 'sepia'), progress)).resolves.toMatchObject({ width: 512 });
  }, 120_000);

  it("keeps the daemon's event loop free while a model runs, unlike running the job in the daemon", async () => {
    // onnxruntime-node runs inference synchronously: in-process, every tile stalls the event loop (the preview, the
    // shutter) for the whole run
    const inProcess: JobRunner = new InProcessRunner(h.makeDeps(t.dir));
    runner = new ChildJobRunner({ config: config(), workDir: t.dir, idleExitMs: 0, priority: 'normal' });
    const worker = runner;
    await worker.run(job('warm', 'sepia'), progress); // the worker's start is not what is measured
    await inProcess.run(job('warm2', 'sepia'), progress);
    const lagIn = await maxLoopLag(() => inProcess.run(job('in', 'denoise'), progress));
    const lagWorker = await maxLoopLag(() => worker.run(job('out', 'denoise'), progress));
    await inProcess.close();
    console.log(
      `event loop stall during a 512×512 denoise: in process ${lagIn.toFixed(0)} ms, worker ${lagWorker.toFixed(0)} ms`,
    );
    // a tile's run is hundreds of ms even on a fast idle core
    expect(lagIn).toBeGreaterThan(100);
    expect(lagWorker).toBeLessThan(lagIn / 3);
  }, 240_000);
});

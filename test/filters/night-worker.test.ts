import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/load.js';
import type { PinholeConfig } from '../../src/config/schema.js';
import { EventBus } from '../../src/events.js';
import { InProcessRunner, type JobOutcome, type JobSpec } from '../../src/filters/job-runner.js';
import { FilterJobs, type JobProgress } from '../../src/filters/jobs.js';
import { ChildJobRunner } from '../../src/filters/worker/child-runner.js';
import * as s from '../fixtures/night/synth.js';
import { maxLoopLag } from '../helpers/loop-lag.js';
import * as h from './helpers.js';

/**
 * The night merge as a filter job (JobSpec.night): it runs in the low-priority worker process, not on the daemon's
 * event loop, with progress, abort and the report the night shot's sidecar needs.
 */
sharp.cache(false);

function config(): PinholeConfig {
  const c = defaultConfig();
  c.models.dir = h.modelsDir;
  c.vision = { ...c.vision, ...h.sessionOpts };
  return c;
}

/** The longest the event loop was kept from running a 10 ms interval while `work` ran. */
describe('night merge jobs in the filter worker process', () => {
  const t = h.tempDir();
  const f = (name: string) => path.join(t.dir, name);
  let small: string[] = [];
  let big: string[] = [];
  let runner: ChildJobRunner | undefined;

  const writeBurst = async (name: string, maxSide: number, n: number) => {
    const scene = await s.loadScene(h.astronaut, { maxSide });
    const b = s.makeBurst(scene, { source: h.astronaut, frames: n, noise: 'mid', seed: 11 });
    const files: string[] = [];
    for (let i = 0; i < n; i++) {
      files.push(f(`${name}-${i}.png`));
      await s.writePng(b.frames[i], files[i]);
    }
    return files;
  };
  const spec = (id: string, frames: string[]): JobSpec => ({
    id,
    recipe: 'night',
    params: {},
    source: frames[0],
    output: f(`${id}.jpg`),
    night: { frames, tone: false, denoise: false },
  });

  beforeAll(async () => {
    // the worker runs the built JS (npm test builds first)
    expect(readdirSync(path.join(h.repoRoot, 'dist/src/filters/worker'))).toContain('main.js');
    small = await writeBurst('small', 320, 4);
    // 2048 px wide (the synthetic burst upscaled): a strip of the merge is then long enough to measure its stall
    big = [];
    for (const [i, file] of (await writeBurst('base', 1024, 4)).entries()) {
      big.push(f(`big-${i}.png`));
      await sharp(file).resize(2048, 2048, { fit: 'fill' }).png({ compressionLevel: 1 }).toFile(big[i]);
    }
  }, 180_000);
  afterEach(async () => {
    await runner?.close();
    runner = undefined;
  });
  afterAll(() => t.cleanup());

  it("a night job through the daemon's queue runs in the worker (its pid, not ours) and hands its report to import", async () => {
    runner = new ChildJobRunner({ config: config(), workDir: t.dir, idleExitMs: 0, priority: 'jobs' });
    const bus = new EventBus();
    const events: JobProgress[] = [];
    bus.on('job.progress', (e) => events.push(e));
    const jobs = new FilterJobs({
      deps: h.makeDeps(t.dir),
      target: { sourcePath: async () => h.astronaut, writeVariant: async () => {} },
      bus,
      stateFile: f('state/filter-jobs.json'),
      workers: 1,
      queueLimit: 4,
      runner,
    });
    await jobs.start();
    let got: { outcome: JobOutcome; size: [number, number] } | undefined;
    const q = jobs.enqueueTask('night', '', {
      prepare: async () => ({ source: small[0], night: { frames: small, tone: false, denoise: false } }),
      import: async (output, outcome) => {
        const m = await sharp(output).metadata();
        got = { outcome, size: [m.width ?? 0, m.height ?? 0] };
      },
    });
    await q.done;
    const ref = await sharp(small[0]).metadata();
    expect(got?.size).toEqual([ref.width, ref.height]);
    const outcome = got?.outcome as JobOutcome;
    expect(outcome.pid).not.toBe(process.pid);
    expect(outcome.pid).toBe(runner.pid);
    expect(jobs.status().runner).toMatchObject({ mode: 'worker-process', priority: 'jobs', pid: outcome.pid });
    // the sidecar's record crossed the process boundary whole
    expect(outcome.night?.frames).toBe(4);
    expect(outcome.night?.shifts).toHaveLength(4);
    expect(outcome.night?.fellBack).toBe(false);
    expect(typeof outcome.night?.rejectedTiles).toBe('number');
    const states = [...new Set(events.filter((e) => e.jobId === q.job.id).map((e) => e.state))];
    expect(states).toEqual(['queued', 'running', 'done']);
    expect(jobs.status().recent[0]).toMatchObject({ id: q.job.id, state: 'done', recipe: 'night' });
    await jobs.stop();
  }, 180_000);

  it('a cancelled night job stops in the worker, writes no output, and the worker takes the next job', async () => {
    runner = new ChildJobRunner({ config: config(), workDir: t.dir, idleExitMs: 0, priority: 'normal' });
    const abort = new AbortController();
    let progressed = 0;
    const run = runner.run(spec('cancelled', big), {
      signal: abort.signal,
      onProgress: (p) => {
        progressed = p;
        if (p > 0) abort.abort(new Error('cancelled'));
      },
    });
    await expect(run).rejects.toThrow('cancelled');
    expect(progressed).toBeGreaterThan(0);
    expect(progressed).toBeLessThan(1);
    expect(existsSync(f('cancelled.jpg'))).toBe(false);
    // the merge's own temp files are gone too
    expect(readdirSync(t.dir).filter((n) => n.includes('night-'))).toEqual([]);
    const pid = runner.pid;
    await expect(
      runner.run(spec('after', small), { signal: new AbortController().signal, onProgress: () => {} }),
    ).resolves.toMatchObject({ pid });
  }, 180_000);

  it("keeps the daemon's event loop free during a merge, unlike merging in the daemon", async () => {
    const inProcess = new InProcessRunner(h.makeDeps(t.dir));
    runner = new ChildJobRunner({ config: config(), workDir: t.dir, idleExitMs: 0, priority: 'normal' });
    const worker = runner;
    const quiet = { signal: new AbortController().signal, onProgress: () => {} };
    // the worker's start is not what is measured; a smaller burst first (a long-lived worker merges bursts of
    // any size one after another: a scratch buffer sized by the first once broke the second)
    await worker.run(spec('warm', small), quiet);
    await inProcess.run(spec('warm2', small), quiet);
    const lagIn = await maxLoopLag(() => inProcess.run(spec('in', big), quiet));
    const lagWorker = await maxLoopLag(() => worker.run(spec('out', big), quiet));
    console.log(
      `event loop stall during a 2048×2048 4-frame night merge: in process ${lagIn.toFixed(0)} ms, worker ${lagWorker.toFixed(0)} ms`,
    );
    // the merge's strips are synchronous JS: in the daemon each one holds the preview and the shutter
    expect(lagIn).toBeGreaterThan(150);
    expect(lagWorker).toBeLessThan(lagIn / 3);
  }, 240_000);
});

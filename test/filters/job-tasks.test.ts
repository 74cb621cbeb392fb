import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events.js';
import type { JobOutcome, JobRunner, JobRunOptions, JobSpec } from '../../src/filters/job-runner.js';
import { FilterJobs, type JobProgress, type JobTask, type VariantTarget } from '../../src/filters/jobs.js';
import * as h from './helpers.js';

/**
 * A hand-written runner (the JobRunner seam): a task's spec says what its "merge" does, as a name in `night.frames[0]`
 * of the behaviours below, so the queue's ordering, events, cancel and shutdown are tested without a real merge
 * (test/filters/night-worker.test.ts runs the real one in the worker process).
 */
class ScriptedRunner implements JobRunner {
  readonly specs: JobSpec[] = [];
  constructor(
    private readonly behaviours: Record<string, (signal: AbortSignal, progress: (f: number) => void) => Promise<void>>,
  ) {}
  async run(spec: JobSpec, opts: JobRunOptions): Promise<JobOutcome> {
    this.specs.push(spec);
    const name = spec.night?.frames[0] ?? '';
    const b = this.behaviours[name];
    if (!b) throw new Error(`no behaviour ${name}`);
    await b(opts.signal, opts.onProgress);
    await fs.writeFile(spec.output, name);
    return { width: 1, height: 1, runMs: 0, pid: 4242 };
  }
  async close(): Promise<void> {}
  describe(): Record<string, unknown> {
    return { mode: 'scripted' };
  }
}

/** A task whose runner part is the behaviour `name`; `imported` gets what the queue handed to its import step. */
const task = (name: string, imported: { output: string; body: string; outcome: JobOutcome }[] = []): JobTask => ({
  prepare: async () => ({ source: name, night: { frames: [name], tone: false, denoise: false } }),
  import: async (output, outcome) => {
    imported.push({ output, body: await fs.readFile(output, 'utf8'), outcome });
  },
});

/** Tasks (the night merge) in the filter job queue: one worker shared with filter jobs, events, cancel, shutdown. */
describe('FilterJobs tasks', () => {
  let t: ReturnType<typeof h.tempDir>;
  beforeEach(() => {
    t = h.tempDir();
  });
  afterEach(() => t.cleanup());
  const target: VariantTarget = {
    sourcePath: async () => h.astronaut,
    writeVariant: async () => {},
  };
  const stateFile = () => path.join(t.dir, 'state', 'filter-jobs.json');
  const make = (runner: JobRunner, bus = new EventBus()) =>
    new FilterJobs({ deps: h.makeDeps(t.dir), target, bus, stateFile: stateFile(), workers: 1, queueLimit: 2, runner });

  it('runs one at a time in queue order with progress events; not written to the job file', async () => {
    const bus = new EventBus();
    const events: JobProgress[] = [];
    bus.on('job.progress', (e) => events.push(e));
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const runner = new ScriptedRunner({
      a: async (_s, progress) => {
        order.push('a start');
        progress(0.5);
        await gate;
        order.push('a end');
      },
      b: async () => {
        order.push('b');
      },
    });
    const jobs = make(runner, bus);
    await jobs.start();
    const imported: { output: string; body: string; outcome: JobOutcome }[] = [];
    const a = jobs.enqueueTask('night', '', task('a', imported));
    const b = jobs.enqueueTask('night', '', task('b', imported));
    await new Promise((r) => setTimeout(r, 50));
    expect(order).toEqual(['a start']);
    expect(jobs.status().queued.map((j) => j.id)).toEqual([b.job.id]);
    const saved = JSON.parse(await fs.readFile(stateFile(), 'utf8').catch(() => '{"jobs":[]}')) as { jobs: unknown[] };
    expect(saved.jobs).toEqual([]);
    release();
    await Promise.all([a.done, b.done]);
    expect(order).toEqual(['a start', 'a end', 'b']);
    // the runner got the task's serialisable spec; the import step got the runner's output file and outcome
    expect(runner.specs.map((x) => [x.id, x.recipe, x.night?.frames])).toEqual([
      [a.job.id, 'night', ['a']],
      [b.job.id, 'night', ['b']],
    ]);
    expect(imported.map((i) => [i.body, i.outcome.pid])).toEqual([
      ['a', 4242],
      ['b', 4242],
    ]);
    // the queue's temp output is gone once imported
    expect(await fs.stat(imported[0].output).catch(() => 'gone')).toBe('gone');
    const states = events.filter((e) => e.jobId === a.job.id).map((e) => e.state);
    expect([...new Set(states)]).toEqual(['queued', 'running', 'done']);
    expect(jobs.status().recent.map((j) => j.state)).toEqual(['done', 'done']);
    await jobs.stop();
  });

  it('a failing task rejects done and the job is failed; the queue limit applies; cancel and shutdown settle', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const runner = new ScriptedRunner({
      bad: async () => {
        throw new Error('frame 2 is unreadable');
      },
      gated: async (signal) => {
        await Promise.race([
          gate,
          new Promise((_r, rej) => signal.addEventListener('abort', () => rej(signal.reason))),
        ]);
      },
      quick: async (signal) => signal.throwIfAborted(),
    });
    const jobs = make(runner);
    await jobs.start();
    const bad = jobs.enqueueTask('night', '', task('bad'));
    await expect(bad.done).rejects.toThrow('frame 2 is unreadable');
    await jobs.idle();
    expect(jobs.status().recent[0]).toMatchObject({ state: 'failed', error: 'frame 2 is unreadable' });
    const running = jobs.enqueueTask('night', '', task('gated'));
    await new Promise((r) => setTimeout(r, 20));
    const q1 = jobs.enqueueTask('night', '', task('quick'));
    const q2 = jobs.enqueueTask('night', '', task('quick'));
    expect(() => jobs.enqueueTask('night', '', task('quick'))).toThrow(/filter queue is full/);
    jobs.cancel(q1.job.id);
    await expect(q1.done).rejects.toThrow('cancelled');
    const settled = [
      expect(running.done).rejects.toThrow('shutting down'),
      expect(q2.done).rejects.toThrow('shutting down'),
    ];
    await jobs.stop();
    await Promise.all(settled);
    // neither queued task reached the runner
    expect(runner.specs.map((x) => x.night?.frames[0])).toEqual(['bad', 'gated']);
    release();
  });
});

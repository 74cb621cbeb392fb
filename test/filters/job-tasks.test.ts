import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events.js';
import { FilterJobs, type JobProgress, type VariantTarget } from '../../src/filters/jobs.js';
import * as h from './helpers.js';

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
  const make = (bus = new EventBus()) =>
    new FilterJobs({ deps: h.makeDeps(t.dir), target, bus, stateFile: stateFile(), workers: 1, queueLimit: 2 });

  it('runs one at a time in queue order with progress events; not written to the job file', async () => {
    const bus = new EventBus();
    const events: JobProgress[] = [];
    bus.on('job.progress', (e) => events.push(e));
    const jobs = make(bus);
    await jobs.start();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const a = jobs.enqueueTask('night', '', async (_s, progress) => {
      order.push('a start');
      progress(0.5);
      await gate;
      order.push('a end');
    });
    const b = jobs.enqueueTask('night', '', async () => {
      order.push('b');
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(order).toEqual(['a start']);
    expect(jobs.status().queued.map((j) => j.id)).toEqual([b.job.id]);
    const saved = JSON.parse(await fs.readFile(stateFile(), 'utf8').catch(() => '{"jobs":[]}')) as { jobs: unknown[] };
    expect(saved.jobs).toEqual([]);
    release();
    await Promise.all([a.done, b.done]);
    expect(order).toEqual(['a start', 'a end', 'b']);
    const states = events.filter((e) => e.jobId === a.job.id).map((e) => e.state);
    expect([...new Set(states)]).toEqual(['queued', 'running', 'done']);
    expect(jobs.status().recent.map((j) => j.state)).toEqual(['done', 'done']);
    await jobs.stop();
  });

  it('a failing task rejects done and the job is failed; the queue limit applies; cancel and shutdown settle', async () => {
    const jobs = make();
    await jobs.start();
    const bad = jobs.enqueueTask('night', '', async () => {
      throw new Error('frame 2 is unreadable');
    });
    await expect(bad.done).rejects.toThrow('frame 2 is unreadable');
    await jobs.idle();
    expect(jobs.status().recent[0]).toMatchObject({ state: 'failed', error: 'frame 2 is unreadable' });
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const running = jobs.enqueueTask('night', '', async (signal) => {
      await Promise.race([gate, new Promise((_r, rej) => signal.addEventListener('abort', () => rej(signal.reason)))]);
    });
    await new Promise((r) => setTimeout(r, 20));
    const q1 = jobs.enqueueTask('night', '', async (signal) => signal.throwIfAborted());
    const q2 = jobs.enqueueTask('night', '', async (signal) => signal.throwIfAborted());
    expect(() => jobs.enqueueTask('night', '', async () => {})).toThrow(/filter queue is full/);
    jobs.cancel(q1.job.id);
    await expect(q1.done).rejects.toThrow('cancelled');
    const settled = [
      expect(running.done).rejects.toThrow('shutting down'),
      expect(q2.done).rejects.toThrow('shutting down'),
    ];
    await jobs.stop();
    await Promise.all(settled);
    release();
  });
});

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/load.js';
import { EventBus } from '../../src/events.js';
import type { JobRunner } from '../../src/filters/job-runner.js';
import { FilterJobs, type JobProgress, type VariantTarget } from '../../src/filters/jobs.js';
import { ChildJobRunner } from '../../src/filters/worker/child-runner.js';
import * as h from './helpers.js';

/** The daemon's worker process, configured like the in-process deps of h.makeDeps. */
function workerRunner(workDir: string): JobRunner {
  const config = defaultConfig();
  config.models.dir = h.modelsDir;
  config.vision = { ...config.vision, ...h.sessionOpts };
  // the contract, not the priority (worker.test.ts): at nice 19 beside other suites a job could take minutes
  return new ChildJobRunner({ config, workDir, idleExitMs: 0, priority: 'normal' });
}

/** The gallery seam, hand-written: photos are files in a folder, variants are copied into another. */
class FakeGallery implements VariantTarget {
  written: { photoId: string; name: string; recipe: string; bytes: number }[] = [];
  gate?: Promise<void>;
  constructor(
    private readonly photos: Record<string, string>,
    private readonly outDir: string,
  ) {}
  async sourcePath(photoId: string): Promise<string> {
    await this.gate;
    const p = this.photos[photoId];
    if (!p) throw new Error(`no photo ${photoId}`);
    return p;
  }
  async writeVariant(photoId: string, name: string, tmp: string, info: { recipe: string }): Promise<void> {
    const st = await fs.stat(tmp);
    await fs.rename(tmp, path.join(this.outDir, `${photoId}.${name}.jpg`));
    this.written.push({ photoId, name, recipe: info.recipe, bytes: st.size });
  }
}

// The queue's contract holds wherever jobs run: in this process (the CLI) or in the daemon's low-priority worker.
describe.each([
  ['in process', undefined],
  ['in the worker process', workerRunner],
] as const)('FilterJobs (%s)', (_where, runner) => {
  let t: ReturnType<typeof h.tempDir>;
  let photos: Record<string, string>;
  beforeEach(async () => {
    t = h.tempDir();
    const small = path.join(t.dir, 'p1.png');
    await h.writeRaw(await h.crop(h.astronaut, 100, 100, 96, 96), small);
    photos = { p1: small, p2: h.twoPeople };
  });
  afterEach(() => t.cleanup());

  const make = (gallery: FakeGallery, bus = new EventBus(), extra: { queueLimit?: number; onCapture?: string } = {}) =>
    new FilterJobs({
      deps: h.makeDeps(t.dir),
      target: gallery,
      bus,
      stateFile: path.join(t.dir, 'state', 'filter-jobs.json'),
      workers: 1,
      queueLimit: extra.queueLimit ?? 5,
      onCapture: extra.onCapture,
      runner: runner?.(t.dir),
    });

  it('runs a job, emits progress events and writes the variant', async () => {
    const gallery = new FakeGallery(photos, t.dir);
    const bus = new EventBus();
    const events: JobProgress[] = [];
    bus.on('job.progress', (e) => {
      events.push(e);
    });
    const jobs = make(gallery, bus);
    await jobs.start();
    const job = await jobs.enqueue('p1', 'sepia');
    await jobs.idle();
    expect(gallery.written).toEqual([{ photoId: 'p1', name: 'sepia', recipe: 'sepia', bytes: expect.any(Number) }]);
    const states = events.filter((e) => e.jobId === job.id).map((e) => e.state);
    expect(states[0]).toBe('queued');
    expect(states).toContain('running');
    expect(states.at(-1)).toBe('done');
    expect(jobs.status().recent[0]).toMatchObject({ id: job.id, state: 'done', progress: 1 });
    await jobs.stop();
  });

  it('two jobs for the same photo and recipe at once become one', async () => {
    const gallery = new FakeGallery(photos, t.dir);
    let open!: () => void;
    gallery.gate = new Promise((r) => {
      open = r;
    });
    const jobs = make(gallery);
    await jobs.start();
    const a = await jobs.enqueue('p1', 'denoise');
    const b = await jobs.enqueue('p1', 'denoise', { strength: 'normal' });
    const c = await jobs.enqueue('p1', 'denoise', { strength: 'strong' });
    expect(b.id).toBe(a.id);
    expect(c.id).not.toBe(a.id);
    open();
    await jobs.idle();
    expect(gallery.written.map((w) => w.name)).toEqual(['denoise', 'denoise']);
    await jobs.stop();
  });

  it('refuses jobs beyond filters.queueLimit with 429 and validates before queueing', async () => {
    const gallery = new FakeGallery(photos, t.dir);
    gallery.gate = new Promise(() => {});
    const jobs = make(gallery, new EventBus(), { queueLimit: 1 });
    await jobs.start();
    await jobs.enqueue('p1', 'sepia'); // running (blocked in sourcePath)
    await jobs.enqueue('p1', 'film'); // queued
    await expect(jobs.enqueue('p1', 'faded')).rejects.toMatchObject({ status: 429 });
    await expect(jobs.enqueue('p1', 'nope')).rejects.toMatchObject({ status: 404 });
    await expect(jobs.enqueue('p1', 'sepia', { strength: 7 })).rejects.toMatchObject({ status: 400 });
    expect(jobs.status().queued).toHaveLength(1);
  });

  it('jobs pending or running at shutdown are resumed at the next start', async () => {
    const gallery = new FakeGallery(photos, t.dir);
    const jobs = make(gallery);
    await jobs.start();
    const running = await jobs.enqueue('p2', 'denoise', { strength: 'strong' });
    const queued = await jobs.enqueue('p1', 'film', { strength: 0.5 });
    // Stop while the first (≈0.7 MP denoise) is mid-way.
    await new Promise((r) => setTimeout(r, 300));
    expect(jobs.status().running.map((j) => j.id)).toEqual([running.id]);
    await jobs.stop();
    expect(gallery.written.map((w) => w.name)).toEqual([]);
    const saved = JSON.parse(await fs.readFile(path.join(t.dir, 'state', 'filter-jobs.json'), 'utf8'));
    expect(saved.jobs.map((j: { id: string }) => j.id)).toEqual([running.id, queued.id]);
    expect(saved.jobs[1].params).toEqual({ strength: 0.5 });

    const again = make(gallery);
    await again.start();
    await again.idle();
    expect(gallery.written.map((w) => `${w.photoId}:${w.name}`)).toEqual(['p2:denoise', 'p1:film']);
    expect(JSON.parse(await fs.readFile(path.join(t.dir, 'state', 'filter-jobs.json'), 'utf8')).jobs).toEqual([]);
    await again.stop();
    // two 0.7 MP denoises (one restarted) on a machine shared with other suites
  }, 180_000);

  it('onCaptured applies filters.onCapture and nothing when unset', async () => {
    const gallery = new FakeGallery(photos, t.dir);
    const off = make(gallery);
    await off.start();
    expect(await off.onCaptured('p1')).toBeUndefined();
    await off.stop();
    const on = make(gallery, new EventBus(), { onCapture: 'vignette' });
    await on.start();
    await on.onCaptured('p1');
    await on.idle();
    expect(gallery.written.map((w) => w.name)).toEqual(['vignette']);
    await on.stop();
  });
});

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FaceDescriber, type PeopleGallery, PeopleIndexer } from '../../src/people/indexer.js';
import { type DescribedPhoto, PeopleStore } from '../../src/people/store.js';
import { UnavailableError } from '../../src/util/errors.js';
import { configureLogging } from '../../src/util/logger.js';
import { waitUntil } from '../helpers/tmp.js';
import { box, descriptorFactory } from './helpers.js';

configureLogging({ level: 'silent' });

const pid = (n: number) => `p${String(n).padStart(8, '0')}-0000abcd`;

/** A gallery that is a list of ids (oldest first, like capture order), each photo showing some people. */
class FakeGallery implements PeopleGallery {
  readonly photos = new Map<string, string[]>();
  add(n: number, ...people: string[]): string {
    this.photos.set(pid(n), people);
    return pid(n);
  }
  ids(): string[] {
    return [...this.photos.keys()].sort().reverse();
  }
  has(id: string): boolean {
    return this.photos.has(id);
  }
  filePath(id: string): string {
    if (!this.photos.has(id)) throw new Error('gone');
    return `/gallery/${id}/photo.jpg`;
  }
}

/** A describer that answers from the gallery's list of people, optionally slowly or failing. */
class FakeDescriber implements FaceDescriber {
  readonly calls: string[] = [];
  delayMs = 0;
  unavailable?: string;
  failFor = new Set<string>();
  onCall?: (id: string) => void;
  private readonly d = descriptorFactory(11);
  constructor(private readonly g: FakeGallery) {}
  async describe(id: string, file: string): Promise<DescribedPhoto> {
    this.calls.push(id);
    this.onCall?.(id);
    if (this.unavailable) throw new UnavailableError(this.unavailable);
    if (this.failFor.has(id)) throw new Error('truncated JPEG');
    expect(file).toBe(`/gallery/${id}/photo.jpg`);
    await new Promise((r) => setTimeout(r, this.delayMs));
    const people = this.g.photos.get(id) ?? ['ghost'];
    return { width: 800, height: 600, faces: people.map((p, i) => ({ box: box(i * 150), descriptor: this.d(p) })) };
  }
}

describe('PeopleIndexer', () => {
  let dataDir: string;
  let store: PeopleStore;
  let gallery: FakeGallery;
  let describer: FakeDescriber;
  let busy: boolean;
  let indexer: PeopleIndexer | undefined;

  beforeEach(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-people-q-'));
    store = new PeopleStore({ dataDir });
    await store.open();
    gallery = new FakeGallery();
    describer = new FakeDescriber(gallery);
    busy = false;
  });
  afterEach(async () => {
    await indexer?.stop();
    indexer = undefined;
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  const start = (extra: Partial<ConstructorParameters<typeof PeopleIndexer>[0]> = {}) => {
    indexer = new PeopleIndexer({
      store,
      gallery,
      describer,
      thumbs: async (_f, boxes) => boxes.map(() => Buffer.from('thumb')),
      busy: () => busy,
      minRestMs: 1,
      restFactor: 0,
      pollMs: 10,
      retryMs: 20,
      ...extra,
    });
    indexer.start();
    return indexer;
  };

  it('does nothing while People is off; once on, back-fills the whole gallery newest first', async () => {
    for (let i = 1; i <= 5; i++) gallery.add(i, i % 2 ? 'ann' : 'bob');
    const q = start();
    await new Promise((r) => setTimeout(r, 50));
    expect(describer.calls).toEqual([]);
    expect(q.queued()).toBe(0);
    expect(q.state).toBe('off');
    await store.enable();
    expect(q.queued()).toBe(5);
    q.wake();
    await q.drained(10_000);
    expect(describer.calls).toEqual([pid(5), pid(4), pid(3), pid(2), pid(1)]);
    expect(store.list().map((p) => p.faces)).toEqual([3, 2]);
    expect(q.state).toBe('idle');
  });

  it('a new photo wakes it; it waits while something more important runs', async () => {
    await store.enable();
    const q = start();
    await waitUntil(() => q.state === 'idle');
    busy = true;
    gallery.add(1, 'ann');
    q.wake();
    await waitUntil(() => q.state === 'paused');
    await new Promise((r) => setTimeout(r, 60));
    expect(describer.calls).toEqual([]);
    busy = false;
    await q.drained(10_000);
    expect(describer.calls).toEqual([pid(1)]);
  });

  it('its queue survives a restart: a new indexer goes on where the last one stopped', async () => {
    await store.enable();
    for (let i = 1; i <= 6; i++) gallery.add(i, 'ann');
    describer.delayMs = 20;
    let q = start();
    await waitUntil(() => describer.calls.length >= 2, 10_000);
    await q.stop();
    const done = describer.calls.length;
    // the daemon restarts: a new store from disk, a new queue
    store = new PeopleStore({ dataDir });
    await store.open();
    describer.calls.length = 0;
    q = start();
    await q.drained(10_000);
    expect(describer.calls.length).toBeLessThanOrEqual(6 - done + 1);
    expect(store.counts()).toMatchObject({ faces: 6, photos: 6, people: 1 });
  });

  it('a photo deleted while queued is skipped; one deleted while being described leaves nothing', async () => {
    await store.enable();
    gallery.add(1, 'ann');
    gallery.add(2, 'bob');
    gallery.add(3, 'cy');
    describer.onCall = (id) => {
      if (id === pid(3)) {
        gallery.photos.delete(pid(3)); // deleted during its own description
        gallery.photos.delete(pid(2)); // deleted while queued
      }
    };
    const q = start();
    await q.drained(10_000);
    expect(describer.calls).toEqual([pid(3), pid(1)]);
    expect(store.isDone(pid(3))).toBe(false);
    expect(await fs.readdir(path.join(store.dir, 'faces'))).toEqual([`${pid(1)}.json`]);
    expect(await fs.readdir(path.join(store.dir, 'thumbs'))).toEqual([`${pid(1)}-f0.jpg`]);
  });

  it('a photo that cannot be described is recorded and not retried; a missing model makes it wait', async () => {
    await store.enable();
    gallery.add(1, 'ann');
    gallery.add(2, 'bob');
    describer.failFor.add(pid(2));
    describer.unavailable = 'descriptor model missing';
    const q = start();
    await waitUntil(() => q.state === 'unavailable');
    expect(q.status().reason).toBe('descriptor model missing');
    expect(q.queued()).toBe(2);
    describer.unavailable = undefined;
    await q.drained(10_000);
    expect(q.status()).toMatchObject({ failed: 1, described: 1 });
    expect(store.isDone(pid(2))).toBe(true);
    describer.calls.length = 0;
    store = new PeopleStore({ dataDir });
    await store.open();
    await q.stop();
    start();
    await new Promise((r) => setTimeout(r, 50));
    expect(describer.calls).toEqual([]);
  });

  it('rests between photos in proportion to the work (lowest priority)', async () => {
    await store.enable();
    for (let i = 1; i <= 3; i++) gallery.add(i, 'ann');
    describer.delayMs = 30;
    const t0 = performance.now();
    const q = start({ restFactor: 2, minRestMs: 1 });
    await q.drained(10_000);
    // 3 × 30 ms of work and at least 2 × 60 ms of rest between them
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90 + 120);
  });
});

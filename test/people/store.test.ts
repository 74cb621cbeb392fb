import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assignPerson, assignPhoto } from '../../src/people/cluster.js';
import { type DescribedPhoto, PeopleStore } from '../../src/people/store.js';
import { configureLogging } from '../../src/util/logger.js';
import { box, descriptorFactory } from './helpers.js';

configureLogging({ level: 'silent' });

const pid = (n: number) => `p${String(n).padStart(8, '0')}-0000abcd`;
const yes = () => true;

describe('clustering (pure)', () => {
  const d = descriptorFactory(7);
  const f32 = (a: number[]) => Float32Array.from(a);

  it('a face joins the person its neighbours below 0.6 vote for, else starts a new one', () => {
    const known = [
      { descriptor: f32(d('ann')), person: 'A' },
      { descriptor: f32(d('ann')), person: 'A' },
      { descriptor: f32(d('bob')), person: 'B' },
    ];
    expect(assignPerson(f32(d('ann')), known)?.person).toBe('A');
    expect(assignPerson(f32(d('bob')), known)?.person).toBe('B');
    expect(assignPerson(f32(d('cy')), known)).toBeNull();
    expect(assignPerson(f32(d('ann')), known, { exclude: new Set(['A']) })).toBeNull();
  });

  it('two faces of one photo never become the same person', () => {
    const known = [{ descriptor: f32(d('ann')), person: 'A' }];
    let n = 0;
    const r = assignPhoto([f32(d('ann')), f32(d('ann', 0.3)), null], known, { newPerson: () => `new${++n}` });
    expect(r[0] === 'A' || r[1] === 'A').toBe(true);
    expect(r[0]).not.toBe(r[1]);
    expect(r[2]).toBeNull();
  });
});

describe('PeopleStore', () => {
  let dataDir: string;
  let store: PeopleStore;
  const d = descriptorFactory(3);
  const photo = (...people: (string | null)[]): DescribedPhoto => ({
    width: 1000,
    height: 800,
    faces: people.map((p, i) =>
      p === null ? { box: box(i * 200), skipped: 'face too small' } : { box: box(i * 200), descriptor: d(p) },
    ),
  });

  beforeEach(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-people-'));
    store = new PeopleStore({ dataDir });
    await store.open();
  });
  afterEach(() => fs.rm(dataDir, { recursive: true, force: true }));

  const add = (n: number, ...people: (string | null)[]) =>
    store.addPhoto(
      pid(n),
      photo(...people),
      people.map(() => Buffer.from('jpeg')),
      yes,
    );

  it('is off until enabled; nothing is stored while off', async () => {
    expect(store.enabled).toBe(false);
    expect(await add(1, 'ann')).toEqual([]);
    await expect(fs.access(store.dir)).rejects.toThrow();
    expect(await store.enable()).toBe(true);
    expect(store.enabled).toBe(true);
    expect(await add(1, 'ann')).toEqual([`${pid(1)}-f0`]);
  });

  it('clusters faces across photos into people, survives a reopen with names and merges', async () => {
    await store.enable();
    await add(1, 'ann', 'bob');
    await add(2, 'ann');
    await add(3, 'bob', null, 'ann');
    await add(4, 'cy');
    const list = store.list();
    expect(list.map((p) => p.faces)).toEqual([3, 2, 1]);
    expect(store.counts()).toEqual({ people: 3, faces: 6, photos: 4 });
    const ann = list[0].id;
    expect(store.photosOf(ann)).toEqual([pid(3), pid(2), pid(1)]);
    await store.rename(ann, '  Grandma  ');
    const cy = list[2].id;
    const bob = list[1].id;
    await store.merge(bob, cy);
    const again = new PeopleStore({ dataDir });
    await again.open();
    expect(again.enabled).toBe(true);
    expect(again.list().map((p) => [p.name, p.faces])).toEqual([
      ['Grandma', 3],
      [null, 3],
    ]);
    expect(again.repaired).toBeUndefined();
  });

  it('faces too small get no descriptor; a photo is done once, even with no usable face', async () => {
    await store.enable();
    expect(await add(5, null, null)).toEqual([]);
    expect(store.isDone(pid(5))).toBe(true);
    expect(store.counts().faces).toBe(0);
  });

  it('a photo deleted while it was being described leaves nothing behind', async () => {
    await store.enable();
    const ids = await store.addPhoto(pid(6), photo('ann'), [Buffer.from('x')], () => false);
    expect(ids).toEqual([]);
    expect(store.isDone(pid(6))).toBe(false);
    expect(await fs.readdir(path.join(store.dir, 'faces'))).toEqual([]);
    expect(await fs.readdir(path.join(store.dir, 'thumbs'))).toEqual([]);
  });

  it('deleting a photo deletes its descriptors and thumbnails', async () => {
    await store.enable();
    await add(1, 'ann', 'bob');
    await add(2, 'ann');
    await store.removePhoto(pid(1));
    expect(store.counts()).toEqual({ people: 1, faces: 1, photos: 1 });
    expect(await fs.readdir(path.join(store.dir, 'faces'))).toEqual([`${pid(2)}.json`]);
    expect(await fs.readdir(path.join(store.dir, 'thumbs'))).toEqual([`${pid(2)}-f0.jpg`]);
    expect(store.isDone(pid(1))).toBe(false);
  });

  it('deleting a person deletes its descriptors for good; the photos are not described again', async () => {
    await store.enable();
    await add(1, 'ann', 'bob');
    await add(2, 'ann');
    const ann = store.list()[0].id;
    expect(await store.deletePerson(ann)).toEqual({ faces: 2 });
    expect(store.counts().people).toBe(1);
    expect(store.isDone(pid(2))).toBe(true);
    const raw = await fs.readFile(path.join(store.dir, 'faces', `${pid(1)}.json`), 'utf8');
    const ff = JSON.parse(raw) as { faces: { d: string | null; deleted?: boolean }[] };
    expect(ff.faces.map((f) => [f.d === null, f.deleted ?? false])).toEqual([
      [true, true],
      [false, false],
    ]);
    const again = new PeopleStore({ dataDir });
    await again.open();
    expect(again.counts()).toEqual({ people: 1, faces: 1, photos: 2 });
  });

  it('removing a wrong face moves it off the person for good', async () => {
    await store.enable();
    await add(1, 'ann');
    await add(2, 'ann');
    await add(3, 'ann');
    const ann = store.list()[0].id;
    const face = `${pid(2)}-f0`;
    const r = await store.removeFace(ann, face);
    expect(r.person).not.toBe(ann);
    expect(store.person(ann).faces).toBe(2);
    // after a restart it still does not go back
    const again = new PeopleStore({ dataDir });
    await again.open();
    expect(again.person(ann).faceList.map((f) => f.id)).not.toContain(face);
    await expect(store.removeFace(ann, face)).rejects.toThrow(/has no face/);
  });

  it('concurrent renames and merges are serialised: every request sees a consistent store', async () => {
    await store.enable();
    for (let i = 1; i <= 6; i++) await add(i, `p${i}`);
    const ids = store.list().map((p) => p.id);
    const results = await Promise.allSettled([
      store.rename(ids[0], 'One'),
      store.merge(ids[0], ids[1]),
      store.merge(ids[2], ids[0]),
      store.rename(ids[0], 'Lost'), // merged away by the call before: 404
      store.merge(ids[3], ids[4]),
      store.rename(ids[2], 'Three'),
      store.merge(ids[3], ids[4]), // already merged: 404
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'rejected',
    ]);
    const list = store.list();
    expect(list.map((p) => [p.name, p.faces])).toEqual([
      ['Three', 3],
      [null, 2],
      [null, 1],
    ]);
    const again = new PeopleStore({ dataDir });
    await again.open();
    expect(again.list()).toEqual(list);
  });

  it('bad input: names and ids are checked', async () => {
    await store.enable();
    await add(1, 'ann');
    const ann = store.list()[0].id;
    await expect(store.rename(ann, 'x'.repeat(61))).rejects.toThrow(/longer than 60/);
    await expect(store.rename(ann, 'a\u0007b')).rejects.toThrow(/control/);
    await expect(store.rename('../../etc', 'x')).rejects.toThrow(/invalid person id/);
    await expect(store.rename('person-00000000', 'x')).rejects.toThrow(/no person/);
    await expect(store.merge(ann, ann)).rejects.toThrow(/itself/);
    expect(() => store.thumbPath('../x')).toThrow(/invalid face id/);
    await expect(
      store.addPhoto(pid(2), { width: 1, height: 1, faces: [{ box: box(), descriptor: [1, 2, 3] }] }, [], yes),
    ).rejects.toThrow(/128 numbers/);
  });

  it('turning People off deletes every descriptor, thumbnail and name', async () => {
    await store.enable();
    await add(1, 'ann');
    await store.rename(store.list()[0].id, 'Ann');
    expect(await store.disable()).toBe(true);
    expect(store.enabled).toBe(false);
    expect(store.counts()).toEqual({ people: 0, faces: 0, photos: 0 });
    await expect(fs.access(store.dir)).rejects.toThrow();
    expect((await fs.readdir(dataDir)).filter((n) => n.includes('people'))).toEqual([]);
    const again = new PeopleStore({ dataDir });
    await again.open();
    expect(again.enabled).toBe(false);
  });

  it('a "turn off" cut short by a power cut is finished at the next start', async () => {
    await store.enable();
    await add(1, 'ann');
    // the state right after disable()'s rename, before its delete
    await fs.rename(store.dir, path.join(dataDir, '.pinhole-tmp-people-deleted-1234abcd'));
    const again = new PeopleStore({ dataDir });
    await again.open();
    expect(again.enabled).toBe(false);
    expect(await fs.readdir(dataDir)).toEqual([]);
  });

  it('a corrupt people.json is rebuilt from the face files (names lost, faces kept), never a crash', async () => {
    await store.enable();
    await add(1, 'ann', 'bob');
    await add(2, 'ann');
    await store.rename(store.list()[0].id, 'Ann');
    await fs.writeFile(path.join(store.dir, 'people.json'), '{"v":1,"enabled":tru');
    const again = new PeopleStore({ dataDir });
    await again.open();
    expect(again.enabled).toBe(true);
    expect(again.repaired).toMatch(/damaged/);
    expect(again.list().map((p) => [p.name, p.faces])).toEqual([
      [null, 2],
      [null, 1],
    ]);
    await again.rename(again.list()[0].id, 'Ann again');
    const third = new PeopleStore({ dataDir });
    await third.open();
    expect(third.repaired).toBeUndefined();
    expect(third.list()[0].name).toBe('Ann again');
  });

  it('corrupt or truncated face files are removed and their photos described again; garbage never crashes', async () => {
    await store.enable();
    await add(1, 'ann');
    await add(2, 'ann');
    await add(3, 'bob');
    const faces = path.join(store.dir, 'faces');
    const good = await fs.readFile(path.join(faces, `${pid(2)}.json`), 'utf8');
    await fs.writeFile(path.join(faces, `${pid(2)}.json`), good.slice(0, good.length / 2));
    const ff = JSON.parse(await fs.readFile(path.join(faces, `${pid(3)}.json`), 'utf8'));
    ff.faces[0].d = Buffer.from(new Float32Array(128).fill(Number.NaN).buffer).toString('base64');
    await fs.writeFile(path.join(faces, `${pid(3)}.json`), JSON.stringify(ff));
    await fs.writeFile(path.join(faces, 'not-a-photo.json'), 'x');
    await fs.writeFile(path.join(faces, '.pinhole-tmp-p00000009-0000abcd.json.1.ab'), 'partial');
    const again = new PeopleStore({ dataDir });
    await again.open();
    expect(again.repaired).toMatch(/2 damaged face file/);
    expect(again.isDone(pid(1))).toBe(true);
    expect(again.isDone(pid(2))).toBe(false);
    expect(again.isDone(pid(3))).toBe(false);
    expect(again.counts().faces).toBe(1);
    expect((await fs.readdir(faces)).sort()).toEqual(['not-a-photo.json', `${pid(1)}.json`]);
  });

  it('faces whose person assignment was lost are clustered again at open', async () => {
    await store.enable();
    await add(1, 'ann');
    await add(2, 'ann');
    const file = path.join(store.dir, 'faces', `${pid(2)}.json`);
    const ff = JSON.parse(await fs.readFile(file, 'utf8'));
    ff.faces[0].person = null;
    await fs.writeFile(file, JSON.stringify(ff));
    const again = new PeopleStore({ dataDir });
    await again.open();
    expect(again.list().map((p) => p.faces)).toEqual([2]);
  });
});

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { PeopleStore } from '../../src/people/store.js';
import { FakeModes, peopleService } from './faces-fakes.js';
import { bearer, type Harness, login, raw, sessionHeaders, startHarness } from './helpers.js';

let h: Harness;
let modes: FakeModes;
let store: PeopleStore;
let seed: (photos: string[][]) => Promise<void>;

beforeEach(async () => {
  let people: Awaited<ReturnType<typeof peopleService>> | undefined;
  h = await startHarness({
    services: (s, fakes) => {
      modes = new FakeModes(fakes.gallery, fakes.events);
      s.modes = modes;
      s.people = {
        // resolved lazily: the store needs the harness' data dir, made before the server starts
        overview: () => (people as NonNullable<typeof people>).service.overview(),
        setEnabled: (on) => (people as NonNullable<typeof people>).service.setEnabled(on),
        person: (id) => (people as NonNullable<typeof people>).service.person(id),
        rename: (id, n) => (people as NonNullable<typeof people>).service.rename(id, n),
        merge: (a, b) => (people as NonNullable<typeof people>).service.merge(a, b),
        remove: (id) => (people as NonNullable<typeof people>).service.remove(id),
        removeFace: (id, f) => (people as NonNullable<typeof people>).service.removeFace(id, f),
        photos: (id, o) => (people as NonNullable<typeof people>).service.photos(id, o),
        faceThumb: (f) => (people as NonNullable<typeof people>).service.faceThumb(f),
      };
    },
  });
  await fs.mkdir(h.config.dataDir, { recursive: true });
  people = await peopleService(h.config.dataDir, h.fakes.gallery, h.fakes.events);
  store = people.store;
  seed = people.seed;
});
afterEach(async () => {
  await h?.close();
});

const api = (method: string, p: string, body?: unknown) =>
  raw(h.url, method, p, { headers: bearer, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

const PROTECTED: [string, string, string?][] = [
  ['GET', '/api/modes'],
  ['POST', '/api/modes/smile-shutter', '{}'],
  ['POST', '/api/modes/gesture-shutter', '{}'],
  ['POST', '/api/modes/disarm', '{}'],
  ['POST', '/api/modes/best-shot', '{}'],
  ['POST', '/api/photos/p000001/alternates/frame-2/promote', '{}'],
  ['GET', '/api/people'],
  ['POST', '/api/people/enable', '{}'],
  ['POST', '/api/people/disable', '{}'],
  ['GET', '/api/people/person-0123abcd'],
  ['PATCH', '/api/people/person-0123abcd', '{"name":"x"}'],
  ['DELETE', '/api/people/person-0123abcd'],
  ['POST', '/api/people/person-0123abcd/merge', '{"from":"person-0123abce"}'],
  ['DELETE', '/api/people/person-0123abcd/faces/p00000001-0000abcd-f0'],
  ['GET', '/api/people/person-0123abcd/photos'],
  ['GET', '/api/people/faces/p00000001-0000abcd-f0/thumb'],
];

describe('modes and People routes are behind the same auth', () => {
  it.each(PROTECTED)('%s %s without credentials → 401', async (method, p, body) => {
    const res = await raw(h.url, method, p, { body, headers: body ? { 'content-type': 'application/json' } : {} });
    expect(res.status).toBe(401);
  });

  it.each(PROTECTED.filter(([m]) => m !== 'GET'))('%s %s with a cookie but no CSRF token → 403', async (m, p, body) => {
    const s = await login(h);
    const res = await raw(h.url, m, p, {
      body,
      headers: { cookie: s.cookie, 'content-type': 'application/json', origin: h.url },
    });
    expect(res.status).toBe(403);
    expect(modes.calls).toEqual([]);
  });
});

describe('capture modes', () => {
  it('arms, reports and disarms the smile shutter; state changes reach the WebSocket', async () => {
    const s = await login(h);
    const ws = new WebSocket(`${h.url.replace('http', 'ws')}/ws`, { headers: { cookie: s.cookie, origin: h.url } });
    const events: { type: string; data: { state?: string; mode?: string } }[] = [];
    ws.on('message', (m) => events.push(JSON.parse(String(m))));
    await new Promise((r) => ws.once('open', r));
    const armed = await raw(h.url, 'POST', '/api/modes/smile-shutter', { headers: sessionHeaders(s, h), body: '{}' });
    expect(armed.status).toBe(202);
    expect(armed.json().mode).toMatchObject({ mode: 'smile-shutter', state: 'armed' });
    expect((await api('GET', '/api/modes')).json().mode.state).toBe('armed');
    const off = await api('POST', '/api/modes/disarm', {});
    expect(off.json().mode).toMatchObject({ state: 'idle', message: 'Smile shutter disarmed' });
    await expect
      .poll(() => events.filter((e) => e.type === 'mode').map((e) => e.data.state))
      .toEqual(['armed', 'idle']);
    ws.close();
  });

  it('a mode that cannot run answers 503 with the reason', async () => {
    modes.unavailable = 'Smile shutter unavailable: model fer_mini_xception: missing';
    const r = await api('POST', '/api/modes/smile-shutter', {});
    expect(r.status).toBe(503);
    expect(r.json().error).toEqual({ code: 'mode-unavailable', message: modes.unavailable });
  });

  it('best shot answers 201 with the photo and its alternates; one can be promoted', async () => {
    const r = await api('POST', '/api/modes/best-shot', {});
    expect(r.status).toBe(201);
    const photo = r.json().photo;
    expect(photo.bestShot.scores).toHaveLength(3);
    expect(photo.variants.map((v: { name: string }) => v.name)).toEqual(['frame-2', 'frame-3']);
    const p = await api('POST', `/api/photos/${photo.id}/alternates/frame-3/promote`, {});
    expect(p.status).toBe(200);
    expect(p.json().photo.bestShot.chosen).toBe(2);
    expect(modes.calls).toEqual(['best-shot', `promote ${photo.id} frame-3`]);
    expect((await api('POST', `/api/photos/${photo.id}/alternates/frame-9/promote`, {})).status).toBe(404);
    expect((await api('POST', `/api/photos/${photo.id}/alternates/..%2f..%2fx/promote`, {})).status).toBe(400);
    expect((await api('POST', '/api/photos/..%2fx/alternates/frame-2/promote', {})).status).toBe(400);
  });
});

describe('People', () => {
  it('is off until turned on; then lists people with counts; off deletes everything', async () => {
    let r = await api('GET', '/api/people');
    expect(r.json()).toEqual({ status: { enabled: false, people: 0, faces: 0, photos: 0, queued: 0 }, people: [] });
    r = await api('POST', '/api/people/enable', {});
    expect(r.json().status.enabled).toBe(true);
    await seed([['ann', 'bob'], ['ann'], ['ann', 'cy']]);
    r = await api('GET', '/api/people');
    expect(r.json().status).toMatchObject({ enabled: true, people: 3, faces: 5 });
    expect(r.json().people.map((p: { faces: number }) => p.faces)).toEqual([3, 1, 1]);
    r = await api('POST', '/api/people/disable', {});
    expect(r.json().status).toMatchObject({ enabled: false, people: 0, faces: 0 });
    await expect(fs.access(path.join(h.config.dataDir, 'people'))).rejects.toThrow();
  });

  it('rename, merge, remove a face, delete a person, photos and thumbnails', async () => {
    await api('POST', '/api/people/enable', {});
    await seed([['ann', 'bob'], ['ann'], ['ann', 'cy'], ['bob']]);
    const list = (await api('GET', '/api/people')).json().people as { id: string; cover: string }[];
    const [ann, bob, cy] = list.map((p) => p.id);
    expect((await api('PATCH', `/api/people/${ann}`, { name: 'Grandma' })).json().person.name).toBe('Grandma');
    const photos = (await api('GET', `/api/people/${ann}/photos`)).json();
    expect(photos.photos.map((p: { id: string }) => p.id)).toEqual(['p000003', 'p000002', 'p000001']);
    const thumb = await api('GET', `/api/people/faces/${list[0].cover}/thumb`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers['content-type']).toBe('image/jpeg');
    const merged = await api('POST', `/api/people/${bob}/merge`, { from: cy });
    expect(merged.json().person).toMatchObject({ id: bob, faces: 3 });
    expect((await api('GET', `/api/people/${cy}`)).status).toBe(404);
    const detail = (await api('GET', `/api/people/${ann}`)).json().person;
    const moved = await api('DELETE', `/api/people/${ann}/faces/${detail.faceList[0].id}`);
    expect(moved.status).toBe(200);
    expect(moved.json().person).not.toBe(ann);
    expect((await api('DELETE', `/api/people/${bob}`)).status).toBe(204);
    expect((await api('GET', '/api/people')).json().people.find((p: { id: string }) => p.id === bob)).toBeUndefined();
  });

  it('bad input: ids, names and bodies are checked before anything happens', async () => {
    await api('POST', '/api/people/enable', {});
    await seed([['ann']]);
    const ann = (await api('GET', '/api/people')).json().people[0].id;
    expect((await api('GET', '/api/people/..%2f..%2fetc')).status).toBe(400);
    expect((await api('GET', '/api/people/faces/..%2fpeople.json/thumb')).status).toBe(400);
    expect((await api('GET', '/api/people/faces/p00000009-0000abcd-f0/thumb')).status).toBe(404);
    expect((await api('PATCH', `/api/people/${ann}`, { name: 42 })).status).toBe(400);
    expect((await api('PATCH', `/api/people/${ann}`, {})).status).toBe(400);
    expect((await api('PATCH', `/api/people/${ann}`, { name: 'x'.repeat(61) })).status).toBe(400);
    expect((await api('POST', `/api/people/${ann}/merge`, { from: '../x' })).status).toBe(400);
    expect((await api('POST', `/api/people/${ann}/merge`, { from: ann })).status).toBe(400);
    expect((await api('PATCH', '/api/people/person-00000000', { name: 'x' })).status).toBe(404);
    expect((await api('DELETE', `/api/people/${ann}/faces/p00000001-0000abcd-f9`)).status).toBe(404);
    expect(store.list()[0].name).toBeNull();
  });

  it('concurrent renames and merges over HTTP are serialised: the store ends consistent', async () => {
    await api('POST', '/api/people/enable', {});
    await seed([['a'], ['b'], ['c'], ['d'], ['e'], ['f']]);
    const ids = ((await api('GET', '/api/people')).json().people as { id: string }[]).map((p) => p.id);
    const results = await Promise.all([
      api('PATCH', `/api/people/${ids[0]}`, { name: 'A' }),
      api('POST', `/api/people/${ids[0]}/merge`, { from: ids[1] }),
      api('POST', `/api/people/${ids[1]}/merge`, { from: ids[2] }),
      api('POST', `/api/people/${ids[3]}/merge`, { from: ids[0] }),
      api('PATCH', `/api/people/${ids[3]}`, { name: 'D' }),
      api('POST', `/api/people/${ids[4]}/merge`, { from: ids[5] }),
      api('POST', `/api/people/${ids[5]}/merge`, { from: ids[4] }),
    ]);
    for (const r of results) expect([200, 404]).toContain(r.status);
    // every face is in exactly one person, whatever order the requests ran in
    const after = (await api('GET', '/api/people')).json();
    expect(after.status.faces).toBe(6);
    expect(after.people.reduce((n: number, p: { faces: number }) => n + p.faces, 0)).toBe(6);
    const reopened = new (store.constructor as typeof PeopleStore)({ dataDir: h.config.dataDir });
    await reopened.open();
    expect(reopened.list()).toEqual(store.list());
  });
});

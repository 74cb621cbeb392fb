import sharp from 'sharp';
import { PeopleStore } from '../../src/people/store.js';
import { NotFoundError, UnavailableError } from '../../src/util/errors.js';
import type { WebModes } from '../../src/web/mode-routes.js';
import type { WebPeople } from '../../src/web/people-routes.js';
import type { PhotoRecord } from '../../src/web/services.js';
import { box, descriptorFactory } from '../people/helpers.js';
import { type FakeEvents, type FakeGallery, makeJpeg } from './fakes.js';

/**
 * People for the web tests: the real PeopleStore (files in the harness' temp dir) behind a hand-written adapter,
 * filled with synthetic descriptors; photos come from the fake gallery.
 */
export async function peopleService(
  dataDir: string,
  gallery: FakeGallery,
  events: FakeEvents,
): Promise<{ service: WebPeople; store: PeopleStore; seed: (photos: string[][]) => Promise<void> }> {
  const store = new PeopleStore({ dataDir });
  await store.open();
  const d = descriptorFactory(5);
  const thumb = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#c96' } })
    .jpeg()
    .toBuffer();
  const changed = (reason: string) => events.emit({ type: 'people', data: { reason } });
  /** Store ids (the real pattern) → fake gallery ids (p000001). */
  const galleryId = new Map<string, string>();
  const seed = async (photos: string[][]) => {
    for (const people of photos) {
      const p = await gallery.add(await makeJpeg(64, 48, people.length, people.join(',')));
      // The fake gallery's ids (p000001) are shorter than the real ones; the store wants the real pattern.
      const id = `p${p.id.slice(1).padStart(8, '0')}-0000abcd`;
      galleryId.set(id, p.id);
      await store.addPhoto(
        id,
        { width: 64, height: 48, faces: people.map((x, i) => ({ box: box(i * 10), descriptor: d(x) })) },
        people.map(() => thumb),
        () => true,
      );
    }
  };
  const service: WebPeople = {
    overview: async () => ({
      status: { enabled: store.enabled, ...store.counts(), queued: 0 },
      people: store.list(),
    }),
    setEnabled: async (on) => {
      if (on) await store.enable();
      else await store.disable();
      changed(on ? 'on' : 'off');
      return { enabled: store.enabled, ...store.counts(), queued: 0 };
    },
    person: async (id) => store.person(id),
    rename: (id, name) => store.rename(id, name),
    merge: (into, from) => store.merge(into, from),
    remove: async (id) => {
      await store.deletePerson(id);
    },
    removeFace: (id, face) => store.removeFace(id, face),
    photos: async (id) => {
      const ids = store.photosOf(id);
      const photos: PhotoRecord[] = [];
      for (const x of ids) photos.push(await gallery.get(galleryId.get(x) ?? x));
      return { photos, nextCursor: null };
    },
    faceThumb: async (face) => store.thumbPath(face),
  };
  return { service, store, seed };
}

/** Capture modes for the web tests: records what the routes asked for; a mode can be made unavailable. */
export class FakeModes implements WebModes {
  state: Record<string, unknown> = { mode: null, state: 'idle' };
  unavailable?: string;
  readonly calls: string[] = [];
  constructor(
    private readonly gallery: FakeGallery,
    private readonly events: FakeEvents,
  ) {}
  status() {
    return this.state;
  }
  private set(s: Record<string, unknown>) {
    this.state = s;
    this.events.emit({ type: 'mode', data: s });
  }
  async arm(mode: 'smile-shutter' | 'gesture-shutter') {
    this.calls.push(`arm ${mode}`);
    if (this.unavailable) throw new UnavailableError(this.unavailable, 'mode-unavailable');
    this.set({ mode, state: 'armed', expiresAt: Date.now() + 30_000 });
    return this.state;
  }
  async disarm() {
    this.calls.push('disarm');
    this.set({ mode: this.state.mode, state: 'idle', message: 'Smile shutter disarmed' });
    return this.state;
  }
  async night() {
    this.calls.push('night-burst');
    return { jobId: 'night-job', frames: 6, burstMs: 10 };
  }
  // scan mode's own behaviour is tested against the daemon (test/e2e/scan-daemon.test.ts); this records the call
  async scan(corners: unknown) {
    this.calls.push(`scan ${JSON.stringify(corners ?? null)}`);
    return { photo: await this.gallery.add(await makeJpeg(64, 48, 3, 'scan')), jobId: 'scan-job' };
  }
  async scanOutline(on: boolean) {
    this.calls.push(`scan outline ${on}`);
    return { watching: on };
  }
  async rescan(id: string, corners: unknown) {
    this.calls.push(`rescan ${id} ${JSON.stringify(corners ?? null)}`);
    return { jobId: 'scan-job' };
  }
  async bestShot() {
    this.calls.push('best-shot');
    const p = await this.gallery.add(await makeJpeg(64, 48, 3, 'best'));
    const frames = [0, 1, 2].map((frame) => ({
      frame,
      faces: 1,
      smile: 0.5 + frame / 10,
      faceSharpness: 100 - frame,
      sharpness: 50,
      total: 0.9 - frame / 10,
      ...(frame === 0 ? { chosen: true } : { alternate: `frame-${frame + 1}` }),
    }));
    p.bestShot = { frames: 3, chosen: 0, scores: frames };
    for (const f of frames.slice(1))
      await this.gallery.addVariant(
        p.id,
        `frame-${f.frame + 1}`,
        await makeJpeg(64, 48, f.frame + 5, `frame ${f.frame}`),
      );
    for (const v of p.variants ?? []) v.recipe = { alternate: { frame: Number(v.name.slice(6)) - 1, total: 0.5 } };
    return p;
  }
  async promote(id: string, name: string) {
    this.calls.push(`promote ${id} ${name}`);
    const p = await this.gallery.get(id);
    if (!p.variants?.some((v) => v.name === name)) throw new NotFoundError(`photo ${id} has no alternate "${name}"`);
    const bs = p.bestShot as { chosen: number; scores: { frame: number; chosen?: boolean; alternate?: string }[] };
    const frame = Number(name.slice(6)) - 1;
    const old = bs.chosen;
    bs.scores = bs.scores.map((s) =>
      s.frame === frame
        ? { ...s, chosen: true, alternate: undefined }
        : s.frame === old
          ? { ...s, chosen: undefined, alternate: `frame-${old + 1}` }
          : s,
    );
    bs.chosen = frame;
    p.variants = (p.variants ?? []).map((v) =>
      v.name === name ? { name: `frame-${old + 1}`, recipe: { alternate: { frame: old, total: 0.9 } } } : v,
    );
    return { photo: p, removedVariants: [] };
  }
}

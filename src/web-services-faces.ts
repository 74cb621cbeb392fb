import type { App } from './app.js';
import { promoteAlternate } from './capture/alternates.js';
import type { EventBus } from './events.js';
import type { PeopleComponent } from './people/component.js';
import type { PhotoRecord as StorePhoto } from './store/types.js';
import { UnavailableError } from './util/errors.js';
import type { WebModes } from './web/mode-routes.js';
import type { WebPeople } from './web/people-routes.js';
import type { PhotoRecord } from './web/services.js';

/**
 * The web server's view of the capture modes and of People (src/web/mode-routes.ts, people-routes.ts), adapted
 * from the running components. Each call looks the component up anew (a config change may restart it).
 */
export function modesWebService(app: App, bus: EventBus, toWeb: (p: StorePhoto) => PhotoRecord): WebModes {
  return {
    status: () => {
      try {
        return { ...app.modes().status() };
      } catch {
        return { mode: null, state: 'idle', message: 'capture modes are not running' };
      }
    },
    arm: async (mode) => ({ ...(await app.modes().arm(mode, 'web')) }),
    disarm: async () => ({ ...app.modes().disarm() }),
    bestShot: async () => {
      const r = await app.modes().takeBestShot('web');
      return toWeb(app.camera().gallery.get(r.id));
    },
    night: async () => {
      const r = await app.modes().takeNight('web');
      r.done.catch(() => {}); // logged by night mode; the photo event tells the UI
      return { jobId: r.jobId, frames: r.frames, burstMs: r.burstMs };
    },
    scan: async (corners) => {
      const r = await app.modes().takeScan('web', corners);
      r.done.catch(() => {}); // logged by scan mode; the variant event tells the UI
      return { photo: toWeb(app.camera().gallery.get(r.photoId)), jobId: r.jobId };
    },
    scanOutline: async (on) => ({ ...(on ? app.modes().outline.watch() : app.modes().outline.unwatch()) }),
    rescan: async (id, corners) => {
      app.camera().gallery.get(id); // 404 for an unknown photo
      const r = await app.modes().rescan(id, corners);
      r.done.catch(() => {});
      return { jobId: r.jobId };
    },
    promote: async (id, name) => {
      const gallery = app.camera().gallery;
      const r = await promoteAlternate(gallery, id, name);
      bus.emit('photo.replaced', { id });
      return { photo: toWeb(gallery.get(id)), removedVariants: r.removed };
    },
  };
}

export function peopleWebService(app: App, toWeb: (p: StorePhoto) => PhotoRecord): WebPeople {
  const people = (): PeopleComponent => {
    const p = app.lifecycle.get<PeopleComponent>('people');
    if (!p) throw new UnavailableError('People is not running', 'people-stopped');
    return p;
  };
  return {
    overview: async () => ({ status: { ...people().status() }, people: people().store.list() }),
    setEnabled: async (on) => ({ ...(await people().setEnabled(on)) }),
    person: async (id) => people().store.person(id),
    rename: (id, name) => people().change(`renamed ${id}`, () => people().store.rename(id, name)),
    merge: (into, from) => people().change(`merged ${from} into ${into}`, () => people().store.merge(into, from)),
    remove: async (id) => {
      await people().change(`deleted ${id}`, () => people().store.deletePerson(id));
    },
    removeFace: (id, face) => people().change(`face ${face} removed`, () => people().store.removeFace(id, face)),
    photos: async (id, { cursor, limit }) => {
      const gallery = app.camera().gallery;
      const ids = people()
        .store.photosOf(id)
        .filter((x) => gallery.has(x));
      // ids are newest first; the cursor is the last id of the previous page, like /api/photos
      const start = cursor ? ids.findIndex((x) => x < cursor) : 0;
      const page = start < 0 ? [] : ids.slice(start, start + limit);
      const more = start >= 0 && start + limit < ids.length;
      return {
        photos: page.map((x) => toWeb(gallery.get(x))),
        nextCursor: more ? page[page.length - 1] : null,
      };
    },
    faceThumb: async (face) => people().store.thumbPath(face),
  };
}

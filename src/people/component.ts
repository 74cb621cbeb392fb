import type { Component, ControlHandler } from '../component.js';
import type { PinholeConfig } from '../config/schema.js';
import type { EventBus } from '../events.js';
import { NotFoundError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { type FaceDescriber, type IndexerState, type PeopleGallery, PeopleIndexer } from './indexer.js';
import { PeopleStore } from './store.js';
import { makeFaceThumbs } from './thumbs.js';

declare module '../events.js' {
  interface PinholeEvents {
    /** The original of a photo was replaced (an alternate promoted): its faces are those of another frame now. */
    'photo.replaced': { id: string };
    /** People changed (a photo described, a rename, a merge ...): the People tab reloads. */
    'people.changed': { reason: string };
  }
}

const log = createLogger('people');

/** The contract of `pinhole people status --json`. */
export interface PeopleStatus {
  enabled: boolean;
  people: number;
  faces: number;
  queued: number;
}

export interface PeopleComponentDeps {
  config: PinholeConfig;
  bus: EventBus;
  /** The gallery (looked up per call: the camera component may restart). Undefined while it is not running. */
  gallery: () => PeopleGallery | undefined;
  describer: FaceDescriber;
  /** Something more important runs: the queue waits. */
  busy: () => boolean;
  thumbs?: (file: string, boxes: [number, number, number, number][]) => Promise<(Buffer | undefined)[]>;
  /** Queue pacing (tests). */
  pace?: { restFactor?: number; minRestMs?: number; pollMs?: number; retryMs?: number };
}

const NO_GALLERY: PeopleGallery = {
  ids: () => [],
  has: () => false,
  filePath: (id) => {
    throw new NotFoundError(`no photo ${id}`);
  },
};

/**
 * People as a daemon component: the store (`<dataDir>/people/`), the background queue, and the gallery's events
 * (a new photo wakes the queue, a deleted or replaced one takes its descriptors with it).
 */
export class PeopleComponent implements Component {
  readonly name = 'people';
  readonly configSections = ['dataDir'] as const;
  readonly store: PeopleStore;
  readonly indexer: PeopleIndexer;
  private readonly offs: (() => void)[] = [];

  constructor(private readonly deps: PeopleComponentDeps) {
    this.store = new PeopleStore({ dataDir: deps.config.dataDir });
    const gallery: PeopleGallery = {
      ids: () => (deps.gallery() ?? NO_GALLERY).ids(),
      has: (id) => (deps.gallery() ?? NO_GALLERY).has(id),
      filePath: (id) => (deps.gallery() ?? NO_GALLERY).filePath(id),
    };
    this.indexer = new PeopleIndexer({
      store: this.store,
      gallery,
      describer: deps.describer,
      thumbs: deps.thumbs ?? makeFaceThumbs,
      busy: deps.busy,
      ...deps.pace,
      onDescribed: (id) => deps.bus.emit('people.changed', { reason: `described ${id}` }),
    });
  }

  async start(): Promise<void> {
    await this.store.open();
    const { bus } = this.deps;
    this.offs.push(
      bus.on('photo.captured', () => this.indexer.wake()),
      bus.on('photo.deleted', async ({ id }) => {
        await this.store.removePhoto(id);
        bus.emit('people.changed', { reason: `photo ${id} deleted` });
      }),
      bus.on('photo.replaced', async ({ id }) => {
        await this.store.removePhoto(id);
        this.indexer.wake();
      }),
    );
    this.indexer.start();
    log.info('people ready', { enabled: this.store.enabled, ...this.store.counts() });
  }

  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
    await this.indexer.stop();
  }

  /** `pinhole people status --json`, exactly. */
  contractStatus(): PeopleStatus {
    const c = this.store.counts();
    return { enabled: this.store.enabled, people: c.people, faces: c.faces, queued: this.indexer.queued() };
  }

  status(): PeopleStatus & { state: IndexerState; reason?: string; repaired?: string; photos: number } {
    const q = this.indexer.status();
    return {
      ...this.contractStatus(),
      photos: this.store.counts().photos,
      state: q.state,
      ...(q.reason ? { reason: q.reason } : {}),
      ...(this.store.repaired ? { repaired: this.store.repaired } : {}),
    };
  }

  async setEnabled(on: boolean): Promise<PeopleStatus> {
    if (on) {
      await this.store.enable();
      this.indexer.wake();
    } else {
      await this.store.disable();
    }
    this.deps.bus.emit('people.changed', { reason: on ? 'enabled' : 'disabled' });
    return this.contractStatus();
  }

  /** Emits `people.changed` after an owner's change. */
  async change<T>(reason: string, fn: () => Promise<T>): Promise<T> {
    const r = await fn();
    this.deps.bus.emit('people.changed', { reason });
    return r;
  }

  controlMethods(): Record<string, ControlHandler> {
    return {
      'people.status': async () => this.contractStatus(),
      'people.enable': async () => this.setEnabled(true),
      'people.disable': async () => this.setEnabled(false),
    };
  }
}

import { errorMessage, isPinholeError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import type { DescribedPhoto, PeopleStore } from './store.js';

const log = createLogger('people.queue');

/** What the queue needs of the gallery. */
export interface PeopleGallery {
  /** Photo ids, newest first. */
  ids(): string[];
  has(id: string): boolean;
  filePath(id: string): string;
}

/** Faces of a photo with their descriptors (the face-analysis engine). */
export interface FaceDescriber {
  /** Throws an UnavailableError (503) when descriptors cannot be made at all (model missing): the queue waits. */
  describe(photoId: string, file: string): Promise<DescribedPhoto>;
}

export type IndexerState = 'off' | 'idle' | 'working' | 'paused' | 'unavailable';

export interface PeopleIndexerDeps {
  store: PeopleStore;
  gallery: PeopleGallery;
  describer: FaceDescriber;
  /** Small JPEG crops of the faces (the People cards), one per box; undefined where one could not be made. */
  thumbs: (file: string, boxes: [number, number, number, number][]) => Promise<(Buffer | undefined)[]>;
  /** True while something more important runs (a capture, an armed mode, filter jobs): the queue waits. */
  busy: () => boolean;
  /** Rest after each photo, as a multiple of the time it took (2 = at most a third of one core). */
  restFactor?: number;
  /** Shortest rest between photos (ms). */
  minRestMs?: number;
  /** How often a paused queue looks again (ms). */
  pollMs?: number;
  /** Wait before retrying after the describer failed to load (ms). */
  retryMs?: number;
  /** Called after each photo stored. */
  onDescribed?: (photoId: string) => void;
}

/**
 * People's background queue: describes every photo the store has not done yet, newest first, one at a time, at the
 * lowest priority (it waits while `busy()` and rests between photos). There is no queue file to lose: the work
 * left is "gallery photos without a face file", so it survives restarts, back-fills the existing gallery, and a
 * photo deleted before its turn simply leaves the list.
 */
export class PeopleIndexer {
  private running = false;
  private loop?: Promise<void>;
  private wakeUp?: () => void;
  private timer?: NodeJS.Timeout;
  private stateValue: IndexerState = 'off';
  private reason?: string;
  private current?: string;
  private described = 0;
  private failed = 0;

  constructor(private readonly deps: PeopleIndexerDeps) {}

  get state(): IndexerState {
    return this.stateValue;
  }

  status(): { state: IndexerState; reason?: string; current?: string; described: number; failed: number } {
    return {
      state: this.stateValue,
      ...(this.reason ? { reason: this.reason } : {}),
      ...(this.current ? { current: this.current } : {}),
      described: this.described,
      failed: this.failed,
    };
  }

  /** Photos waiting for their descriptors. */
  queued(): number {
    if (!this.deps.store.enabled) return 0;
    let n = 0;
    for (const id of this.deps.gallery.ids()) if (!this.deps.store.isDone(id)) n++;
    return n;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run().catch((e: unknown) => {
      log.error('people queue stopped', { error: errorMessage(e) });
      this.stateValue = 'unavailable';
      this.reason = errorMessage(e);
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    this.loop = undefined;
    this.stateValue = 'off';
  }

  /** New work (a photo captured, People turned on) or a reason to look again. */
  wake(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  /** Resolves once nothing is queued or being described (tests, the memory bench). */
  async drained(timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.queued() > 0 || this.current) {
      if (Date.now() > end) throw new Error(`people queue not drained after ${timeoutMs} ms (${this.queued()} left)`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private sleep(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = resolve;
      if (ms !== undefined) this.timer = setTimeout(() => this.wake(), ms);
    });
  }

  private next(): string | undefined {
    for (const id of this.deps.gallery.ids()) if (!this.deps.store.isDone(id)) return id;
    return undefined;
  }

  private async run(): Promise<void> {
    const poll = this.deps.pollMs ?? 1000;
    while (this.running) {
      if (!this.deps.store.enabled) {
        this.stateValue = 'off';
        await this.sleep(undefined);
        continue;
      }
      if (this.deps.busy()) {
        this.stateValue = 'paused';
        await this.sleep(poll);
        continue;
      }
      const id = this.next();
      if (!id) {
        this.stateValue = 'idle';
        await this.sleep(undefined);
        continue;
      }
      this.stateValue = 'working';
      this.current = id;
      const t0 = performance.now();
      try {
        await this.describe(id);
        this.reason = undefined;
      } catch (e) {
        if (isPinholeError(e) && e.status === 503) {
          // The model is missing or will not load: everything would fail the same way. Wait and try again.
          this.stateValue = 'unavailable';
          this.reason = errorMessage(e);
          log.warn('face descriptors unavailable; People waits', { reason: this.reason });
          this.current = undefined;
          await this.sleep(this.deps.retryMs ?? 60_000);
          continue;
        }
        this.failed++;
        log.warn('photo not described', { id, error: errorMessage(e) });
        await this.deps.store.markFailed(id, errorMessage(e), () => this.deps.gallery.has(id)).catch(() => {});
      } finally {
        this.current = undefined;
      }
      const took = performance.now() - t0;
      if (this.running) await this.sleep(Math.max(this.deps.minRestMs ?? 200, took * (this.deps.restFactor ?? 2)));
    }
  }

  private async describe(id: string): Promise<void> {
    const { gallery, store } = this.deps;
    if (!gallery.has(id)) return;
    let file: string;
    try {
      file = gallery.filePath(id);
    } catch {
      return; // deleted between the two calls
    }
    const described = await this.deps.describer.describe(id, file);
    if (!gallery.has(id)) return;
    const withDescriptor = described.faces.map((f) => (f.descriptor ? f.box : undefined));
    const boxes = withDescriptor.filter((b): b is [number, number, number, number] => b !== undefined);
    const made = boxes.length ? await this.deps.thumbs(file, boxes).catch(() => [] as (Buffer | undefined)[]) : [];
    let k = 0;
    const thumbs = withDescriptor.map((b) => (b ? made[k++] : undefined));
    const stored = await store.addPhoto(id, described, thumbs, () => gallery.has(id));
    if (store.isDone(id)) {
      this.described++;
      this.deps.onDescribed?.(id);
    }
    log.debug('photo described', { id, faces: described.faces.length, stored: stored.length });
  }
}

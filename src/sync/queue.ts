import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import { errorMessage } from '../util/errors.js';
import { createLogger } from '../util/logger.js';

const log = createLogger('sync.queue');

export type EntryState = 'queued' | 'uploading' | 'failed';

/** One file for one target. `kind` is `original` or a variant name. Done entries leave the queue (see DoneLedger). */
export interface QueueEntry {
  target: string;
  photoId: string;
  kind: string;
  state: EntryState;
  attempts: number;
  bytes: number;
  queuedAt: string;
  lastError?: string;
  /** Epoch ms before which a failed entry is not retried. */
  nextTryAt?: number;
}

export interface TargetState {
  lastSuccess: string | null;
  lastError: string | null;
  /** A staged upload was running: its hidden incoming folder may hold partial files to delete. */
  incomingDirty: boolean;
  /** Target-level backoff after a failure that hit the whole batch (offline, credentials, full). */
  attempts: number;
  nextTryAt: number | null;
}

interface QueueFile {
  version: 1;
  targets: Record<string, TargetState>;
  entries: Omit<QueueEntry, 'target' | 'photoId' | 'kind'> & { k: string }[];
}

const keyOf = (target: string, photoId: string, kind: string) => `${target}\t${photoId}\t${kind}`;

export const emptyTargetState = (): TargetState => ({
  lastSuccess: null,
  lastError: null,
  incomingDirty: false,
  attempts: 0,
  nextTryAt: null,
});

/**
 * The durable upload queue: every pending upload with its state, attempts, last error and next try, plus each
 * target's last success/error. Saved with the gallery's power-cut-safe write (temp, fsync, rename, fsync dir), saves
 * coalesced so a burst of changes costs one write. A file that does not parse is moved aside
 * (`sync-queue.json.corrupt-<time>`) and the caller rebuilds the queue from the gallery.
 */
export class SyncQueue {
  private readonly entries = new Map<string, QueueEntry>();
  readonly targets = new Map<string, TargetState>();
  private saving: Promise<void> = Promise.resolve();
  private dirty = false;
  private scheduled = false;

  constructor(readonly file: string) {}

  /** Returns 'ok', 'missing' or 'corrupt' (quarantined). Entries of targets not in `known` are dropped. */
  async load(known: string[]): Promise<'ok' | 'missing' | 'corrupt'> {
    this.entries.clear();
    this.targets.clear();
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch {
      for (const t of known) this.targets.set(t, emptyTargetState());
      return 'missing';
    }
    let data: QueueFile;
    try {
      data = JSON.parse(text) as QueueFile;
      if (data?.version !== 1 || !Array.isArray(data.entries) || typeof data.targets !== 'object' || !data.targets)
        throw new Error('not a sync queue file');
    } catch (e) {
      const aside = `${this.file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      await fs.rename(this.file, aside).catch(() => {});
      log.error('sync queue file is corrupt: moved aside, rebuilding from the gallery', {
        file: this.file,
        quarantined: aside,
        error: errorMessage(e),
      });
      for (const t of known) this.targets.set(t, emptyTargetState());
      return 'corrupt';
    }
    for (const t of known) this.targets.set(t, { ...emptyTargetState(), ...(data.targets[t] ?? {}) });
    for (const raw of data.entries as unknown as (QueueEntry & { k?: string })[]) {
      const [target, photoId, kind] = String(raw.k ?? '').split('\t');
      if (!target || !photoId || !kind || !known.includes(target)) continue;
      // An upload running at a power cut is redone: nothing at a final name is trusted until rclone reported it.
      const state: EntryState = raw.state === 'failed' ? 'failed' : 'queued';
      this.entries.set(keyOf(target, photoId, kind), {
        target,
        photoId,
        kind,
        state,
        attempts: Number(raw.attempts) || 0,
        bytes: Number(raw.bytes) || 0,
        queuedAt: String(raw.queuedAt ?? new Date().toISOString()),
        ...(raw.lastError ? { lastError: String(raw.lastError) } : {}),
        ...(raw.nextTryAt ? { nextTryAt: Number(raw.nextTryAt) } : {}),
      });
    }
    return 'ok';
  }

  target(name: string): TargetState {
    let t = this.targets.get(name);
    if (!t) {
      t = emptyTargetState();
      this.targets.set(name, t);
    }
    return t;
  }

  has(target: string, photoId: string, kind: string): boolean {
    return this.entries.has(keyOf(target, photoId, kind));
  }

  add(target: string, photoId: string, kind: string, bytes: number): boolean {
    const k = keyOf(target, photoId, kind);
    if (this.entries.has(k)) return false;
    this.entries.set(k, {
      target,
      photoId,
      kind,
      state: 'queued',
      attempts: 0,
      bytes,
      queuedAt: new Date().toISOString(),
    });
    this.touch();
    return true;
  }

  remove(e: Pick<QueueEntry, 'target' | 'photoId' | 'kind'>): void {
    if (this.entries.delete(keyOf(e.target, e.photoId, e.kind))) this.touch();
  }

  removePhoto(photoId: string, onlyQueued = true): number {
    let n = 0;
    for (const [k, e] of this.entries) {
      if (e.photoId !== photoId || (onlyQueued && e.state === 'uploading')) continue;
      this.entries.delete(k);
      n++;
    }
    if (n) this.touch();
    return n;
  }

  all(): QueueEntry[] {
    return [...this.entries.values()];
  }

  forTarget(target: string): QueueEntry[] {
    return this.all().filter((e) => e.target === target);
  }

  forPhoto(photoId: string): QueueEntry[] {
    return this.all().filter((e) => e.photoId === photoId);
  }

  /** Entries of `target` that may be uploaded now, oldest photo first, at most `limit`. */
  due(target: string, now: number, limit: number): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (const e of this.entries.values()) {
      if (e.target !== target || e.state === 'uploading') continue;
      if (e.state === 'failed' && (e.nextTryAt ?? 0) > now) continue;
      out.push(e);
    }
    out.sort((a, b) => (a.photoId < b.photoId ? -1 : a.photoId > b.photoId ? 1 : a.kind < b.kind ? -1 : 1));
    return out.slice(0, limit);
  }

  /** Earliest time a failed entry of `target` becomes due (undefined: none waiting). */
  nextDue(target: string): number | undefined {
    let min: number | undefined;
    for (const e of this.entries.values())
      if (e.target === target && e.state === 'failed' && e.nextTryAt !== undefined)
        min = min === undefined ? e.nextTryAt : Math.min(min, e.nextTryAt);
    return min;
  }

  /** `pinhole sync retry`: failed entries become due at once. */
  retryFailed(): number {
    let n = 0;
    for (const e of this.entries.values())
      if (e.state === 'failed') {
        e.state = 'queued';
        e.nextTryAt = undefined;
        n++;
      }
    for (const t of this.targets.values()) t.nextTryAt = null;
    this.touch();
    return n;
  }

  /** Marks a change; the file is written soon (one write for a burst). */
  touch(): void {
    this.dirty = true;
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Resolves once everything changed so far is on disk. */
  flush(): Promise<void> {
    this.saving = this.saving.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      const data = {
        version: 1,
        targets: Object.fromEntries(this.targets),
        entries: this.all().map(({ target, photoId, kind, ...rest }) => ({
          k: keyOf(target, photoId, kind),
          ...rest,
        })),
      };
      try {
        await fs.mkdir(path.dirname(this.file), { recursive: true });
        await writeFileAtomic(this.file, JSON.stringify(data));
      } catch (e) {
        this.dirty = true;
        log.error('cannot save the sync queue', { file: this.file, error: errorMessage(e) });
      }
    });
    return this.saving;
  }
}

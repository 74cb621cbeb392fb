import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import type { EventBus } from '../events.js';
import { Mutex } from '../hw/camera/mutex.js';
import { fsyncDir, isTempName, TEMP_MARK, writeFileAtomic } from '../util/atomic-write.js';
import { errorMessage, NotFoundError, StorageError, UnavailableError, ValidationError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { type ExifFields, withExif } from './exif.js';
import type {
  GalleryReader,
  GalleryWriter,
  PhotoMeta,
  PhotoPage,
  PhotoRecord,
  ShutterLag,
  StorageHealth,
  VariantInfo,
} from './types.js';

declare module '../events.js' {
  interface PinholeEvents {
    'photo.deleted': { id: string };
    /** A variant was written (or replaced) beside the original. */
    'photo.variant': { id: string; name: string };
  }
}

const log = createLogger('store');

/** `p00000042-1a2b3c4d`: capture number (fixed width: names sort in capture order) and a random part. */
export const PHOTO_ID_RE = /^p\d{8}-[0-9a-f]{8}$/;
export const VARIANT_NAME_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const PHOTO = 'photo.jpg';
const THUMB = 'thumb.jpg';
const META = 'meta.json';
const VARIANTS = 'variants';
const SEQ_FILE = 'sequence.json';

export type StatfsFn = (p: string) => Promise<{ bavail: number; bsize: number }>;

export interface GalleryOptions {
  dataDir: string;
  /** Read at each use, so a config reload applies at once. */
  storage: () => { minFreeMB: number; thumbnailSize: number };
  bus?: EventBus;
  /** Injectable for tests (a full disk is hard to make for real). */
  statfs?: StatfsFn;
}

/** A photo being captured: a temp folder that becomes the photo's folder in one rename. */
export interface PendingPhoto {
  id: string;
  seq: number;
  /** Where the camera writes its JPEG. */
  rawPath: string;
  dir: string;
}

export interface CommitInput {
  capturedAt: Date;
  source?: string;
  settings: Record<string, unknown>;
  lag?: ShutterLag;
  exif?: Omit<ExifFields, 'dateTime'>;
  /** Runs on the final JPEG (EXIF already in) before thumbnail and commit: may rewrite it (e.g. XMP regions). */
  beforeCommit?: (jpegPath: string, meta: PhotoMeta) => Promise<void>;
}

/**
 * Photos on disk: `<dataDir>/gallery/<id>/{photo.jpg, thumb.jpg, meta.json, variants/}`. A capture is written into
 * a temp folder and renamed into place once complete, so a power cut leaves either the whole photo or a temp
 * folder that the next start deletes: a partial photo is never listed.
 */
export class GalleryStore implements GalleryReader, GalleryWriter {
  readonly root: string;
  private readonly index = new Map<string, PhotoMeta>();
  /** IDs, oldest first (capture order). */
  private order: string[] = [];
  private nextSeq = 1;
  private readonly seqLock = new Mutex();
  private readonly metaLocks = new Map<string, Mutex>();
  private unwritable?: string;

  constructor(private readonly opts: GalleryOptions) {
    this.root = path.join(opts.dataDir, 'gallery');
  }

  /** Creates the folders, removes crash leftovers, loads the index. An unwritable data dir does not throw: captures are refused with a clear error while the rest of the daemon runs. */
  async open(): Promise<void> {
    try {
      await fs.mkdir(this.root, { recursive: true });
      const probe = path.join(this.root, `${TEMP_MARK}probe.${process.pid}`);
      await fs.writeFile(probe, 'ok');
      await fs.rm(probe, { force: true });
      this.unwritable = undefined;
    } catch (e) {
      this.unwritable = `the data folder ${this.opts.dataDir} is not writable: ${errorMessage(e)}`;
      log.error('gallery not writable; captures will be refused', {
        dataDir: this.opts.dataDir,
        error: errorMessage(e),
      });
      await this.loadIndex().catch(() => {});
      return;
    }
    await this.cleanup();
    await this.loadIndex();
    try {
      const saved = JSON.parse(await fs.readFile(path.join(this.root, SEQ_FILE), 'utf8')) as { next?: number };
      if (Number.isInteger(saved.next) && (saved.next as number) > this.nextSeq) this.nextSeq = saved.next as number;
    } catch {
      /* no sequence file yet: derived from the photos */
    }
    log.info('gallery opened', { root: this.root, photos: this.order.length, nextSeq: this.nextSeq });
  }

  get count(): number {
    return this.order.length;
  }

  /** Every photo id, newest first. */
  idsNewestFirst(): string[] {
    return [...this.order].reverse();
  }

  has(id: string): boolean {
    return this.index.has(id);
  }

  // ---- checks ------------------------------------------------------------------------------------------------

  async health(): Promise<StorageHealth> {
    const { minFreeMB } = this.opts.storage();
    if (this.unwritable) return { writable: false, minFreeMB, error: this.unwritable };
    try {
      return { writable: true, freeMB: await this.freeMB(), minFreeMB };
    } catch (e) {
      return { writable: true, minFreeMB, error: errorMessage(e) };
    }
  }

  /**
   * Throws StorageError when a capture must be refused (not writable, or below storage.minFreeMB once `needMB` more
   * are written: a burst reserves room for all its frames).
   */
  async assertCanWrite(needMB = 0): Promise<void> {
    if (this.unwritable) throw new StorageError(this.unwritable, 'storage-unwritable');
    const { minFreeMB } = this.opts.storage();
    const free = await this.freeMB();
    if (free - needMB < minFreeMB) {
      throw new StorageError(
        `not enough free space for ${needMB ? `${Math.ceil(needMB)} MB of frames` : 'a photo'}: ${Math.floor(free)} MB free, storage.minFreeMB is ${minFreeMB} MB. Delete photos or lower storage.minFreeMB.`,
      );
    }
  }

  /** True when fewer than `needMB` MB are free above storage.minFreeMB (or the folder is not writable). */
  async lowOnSpace(needMB: number): Promise<boolean> {
    if (this.unwritable) return true;
    try {
      return (await this.freeMB()) - needMB < this.opts.storage().minFreeMB;
    } catch {
      return false;
    }
  }

  private async freeMB(): Promise<number> {
    const st = await (this.opts.statfs ?? ((p: string) => fs.statfs(p)))(this.root);
    return (st.bavail * st.bsize) / (1024 * 1024);
  }

  // ---- capture -----------------------------------------------------------------------------------------------

  async reserve(): Promise<PendingPhoto> {
    await this.assertCanWrite();
    const seq = await this.seqLock.run(async () => {
      const s = this.nextSeq++;
      await writeFileAtomic(path.join(this.root, SEQ_FILE), JSON.stringify({ next: this.nextSeq }));
      return s;
    });
    const id = `p${String(seq).padStart(8, '0')}-${randomBytes(4).toString('hex')}`;
    const dir = path.join(this.root, `${TEMP_MARK}${id}`);
    await fs.mkdir(dir);
    return { id, seq, dir, rawPath: path.join(dir, `${TEMP_MARK}camera.jpg`) };
  }

  async abort(p: PendingPhoto): Promise<void> {
    await fs.rm(p.dir, { recursive: true, force: true });
  }

  /** Validates the camera's JPEG, adds EXIF, runs the hook, writes thumbnail and sidecar, then commits. */
  async commit(p: PendingPhoto, input: CommitInput): Promise<PhotoRecord & { durableAt: number }> {
    try {
      const raw = await fs.readFile(p.rawPath);
      let info: sharp.Metadata;
      try {
        info = await sharp(raw).metadata();
      } catch (e) {
        // A camera fault, not a server bug: 503 with a clear code instead of a 500 "internal error".
        throw new UnavailableError(
          `the camera wrote an unreadable image (${raw.length} bytes): ${errorMessage(e)}`,
          'camera-failed',
        );
      }
      if (info.format !== 'jpeg' || !info.width || !info.height)
        throw new UnavailableError(`the camera wrote a ${info.format ?? 'unknown'} file, not a JPEG`, 'camera-failed');
      const jpeg = withExif(raw, {
        dateTime: input.capturedAt,
        make: 'Raspberry Pi',
        software: 'Pinhole',
        ...input.exif,
      });
      const photoPath = path.join(p.dir, PHOTO);
      await writeFileAtomic(photoPath, jpeg);
      await fs.rm(p.rawPath, { force: true });
      const meta: PhotoMeta = {
        id: p.id,
        seq: p.seq,
        capturedAt: input.capturedAt.toISOString(),
        width: info.width,
        height: info.height,
        bytes: jpeg.length,
        ...(input.source ? { source: input.source } : {}),
        settings: input.settings,
        ...(input.lag ? { lag: input.lag } : {}),
        variants: {},
      };
      if (input.beforeCommit) await input.beforeCommit(photoPath, meta);
      meta.bytes = (await fs.stat(photoPath)).size;
      const size = this.opts.storage().thumbnailSize;
      const thumb = await sharp(photoPath)
        .rotate()
        .resize(size, size, { fit: 'inside' })
        .jpeg({ quality: 80 })
        .toBuffer();
      await writeFileAtomic(path.join(p.dir, THUMB), thumb);
      await writeFileAtomic(path.join(p.dir, META), JSON.stringify(meta, null, 2));
      const final = path.join(this.root, p.id);
      await fs.rename(p.dir, final);
      await fsyncDir(this.root);
      const durableAt = performance.now();
      this.index.set(p.id, meta);
      this.order.push(p.id); // seqs are handed out in order; a rare out-of-order commit is fixed by the sort
      if (this.order.length > 1 && this.order[this.order.length - 2] > p.id) this.order.sort();
      return { ...this.record(p.id), durableAt };
    } catch (e) {
      await this.abort(p);
      throw e;
    }
  }

  // ---- read --------------------------------------------------------------------------------------------------

  /** Newest first. `cursor` is the last ID of the previous page. */
  list(opts: { cursor?: string; limit?: number } = {}): PhotoPage {
    const limit = Math.max(1, Math.min(200, Math.floor(opts.limit ?? 50)));
    let end = this.order.length; // exclusive, walking backwards
    if (opts.cursor !== undefined) {
      checkId(opts.cursor);
      end = lowerBound(this.order, opts.cursor);
    }
    const start = Math.max(0, end - limit);
    const items = this.order
      .slice(start, end)
      .reverse()
      .map((id) => this.record(id));
    return start > 0 ? { items, nextCursor: this.order[start] } : { items };
  }

  get(id: string): PhotoRecord {
    checkId(id);
    if (!this.index.has(id)) throw new NotFoundError(`no photo ${id}`);
    return this.record(id);
  }

  filePath(id: string): string {
    return this.get(id).path;
  }

  thumbPath(id: string): string {
    return this.get(id).thumbPath;
  }

  variantPath(id: string, name: string): string {
    this.get(id);
    checkVariantName(name);
    return path.join(this.root, id, VARIANTS, `${name}.jpg`);
  }

  listVariants(id: string): Record<string, VariantInfo> {
    return { ...this.get(id).meta.variants };
  }

  private record(id: string): PhotoRecord {
    const meta = this.index.get(id) as PhotoMeta;
    const dir = path.join(this.root, id);
    return { id, seq: meta.seq, path: path.join(dir, PHOTO), thumbPath: path.join(dir, THUMB), meta };
  }

  // ---- write -------------------------------------------------------------------------------------------------

  async delete(id: string): Promise<void> {
    this.get(id);
    const dir = path.join(this.root, id);
    const doomed = path.join(this.root, `${TEMP_MARK}deleted-${id}`);
    // One rename makes it vanish atomically; the slow recursive delete happens after (or at the next start).
    await fs.rename(dir, doomed);
    await fsyncDir(this.root);
    this.index.delete(id);
    this.order = this.order.filter((x) => x !== id);
    await fs.rm(doomed, { recursive: true, force: true });
    this.opts.bus?.emit('photo.deleted', { id });
  }

  async update(id: string, patch: Partial<PhotoMeta>): Promise<PhotoMeta> {
    this.get(id);
    return this.lockFor(id).run(async () => {
      const cur = this.index.get(id);
      if (!cur) throw new NotFoundError(`no photo ${id}`);
      const { id: _i, seq: _s, ...rest } = patch;
      const next: PhotoMeta = { ...cur, ...rest, id: cur.id, seq: cur.seq };
      await writeFileAtomic(path.join(this.root, id, META), JSON.stringify(next, null, 2));
      this.index.set(id, next);
      return next;
    });
  }

  async writeVariant(id: string, name: string, data: Buffer, recipe: unknown): Promise<string> {
    const file = this.variantPath(id, name);
    await this.assertCanWrite();
    await fs.mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, data);
    const cur = this.get(id).meta;
    await this.update(id, {
      variants: { ...cur.variants, [name]: { recipe, createdAt: new Date().toISOString(), bytes: data.length } },
    });
    this.opts.bus?.emit('photo.variant', { id, name });
    return file;
  }

  async deleteVariant(id: string, name: string): Promise<void> {
    const file = this.variantPath(id, name);
    if (!(name in this.get(id).meta.variants)) throw new NotFoundError(`photo ${id} has no variant "${name}"`);
    await this.lockFor(id).run(async () => {
      const cur = this.index.get(id) as PhotoMeta;
      const variants = { ...cur.variants };
      delete variants[name];
      const next = { ...cur, variants };
      await writeFileAtomic(path.join(this.root, id, META), JSON.stringify(next, null, 2));
      this.index.set(id, next);
    });
    await fs.rm(file, { force: true });
  }

  /**
   * Makes variant `name` the photo's original (best shot: an alternate promoted) and keeps the old original as
   * variant `keepAs`; the thumbnail follows. Power-cut safe: the old original is first copied to `keepAs`, then the
   * sidecar is written with the outcome and a `promoting` mark, then the files are swapped and the mark cleared; a
   * start that finds the mark finishes the swap (finishPromotion). No frame is lost at any point.
   */
  async promoteVariant(
    id: string,
    name: string,
    keep: { name: string; recipe: unknown },
    patch: Partial<PhotoMeta> = {},
  ): Promise<PhotoMeta> {
    const keepAs = keep.name;
    const from = this.variantPath(id, name);
    const keepFile = this.variantPath(id, keepAs);
    if (!(name in this.get(id).meta.variants)) throw new NotFoundError(`photo ${id} has no variant "${name}"`);
    if (keepAs in this.get(id).meta.variants)
      throw new ValidationError(`photo ${id} already has a variant "${keepAs}"`);
    await this.assertCanWrite();
    return this.lockFor(id).run(async () => {
      const cur = this.index.get(id) as PhotoMeta;
      const dir = path.join(this.root, id);
      const original = await fs.readFile(path.join(dir, PHOTO));
      const info = await sharp(from).metadata();
      await writeFileAtomic(keepFile, original);
      const variants = { ...cur.variants };
      delete variants[name];
      variants[keepAs] = { recipe: keep.recipe, createdAt: new Date().toISOString(), bytes: original.length };
      const { id: _i, seq: _s, ...rest } = patch;
      const marked: PhotoMeta = {
        ...cur,
        ...rest,
        id: cur.id,
        seq: cur.seq,
        width: info.width ?? cur.width,
        height: info.height ?? cur.height,
        variants,
        promoting: { from: name },
      };
      await writeFileAtomic(path.join(dir, META), JSON.stringify(marked, null, 2));
      const meta = await this.finishPromotion(dir, marked);
      this.index.set(id, meta);
      return meta;
    });
  }

  /** The second half of promoteVariant, also run at start for a photo whose sidecar still has the mark. */
  private async finishPromotion(dir: string, meta: PhotoMeta): Promise<PhotoMeta> {
    const { from } = meta.promoting as { from: string };
    checkVariantName(from);
    const src = path.join(dir, VARIANTS, `${from}.jpg`);
    let promoted: Buffer | undefined;
    try {
      promoted = await fs.readFile(src);
    } catch {
      // already swapped before the cut: photo.jpg holds the promoted frame
    }
    if (promoted) await writeFileAtomic(path.join(dir, PHOTO), promoted);
    const size = this.opts.storage().thumbnailSize;
    const photo = path.join(dir, PHOTO);
    await writeFileAtomic(
      path.join(dir, THUMB),
      await sharp(photo).rotate().resize(size, size, { fit: 'inside' }).jpeg({ quality: 80 }).toBuffer(),
    );
    await fs.rm(src, { force: true });
    const { promoting: _p, ...rest } = meta;
    const done: PhotoMeta = { ...rest, bytes: (await fs.stat(photo)).size } as PhotoMeta;
    await writeFileAtomic(path.join(dir, META), JSON.stringify(done, null, 2));
    return done;
  }

  private lockFor(id: string): Mutex {
    let m = this.metaLocks.get(id);
    if (!m) {
      m = new Mutex();
      this.metaLocks.set(id, m);
    }
    return m;
  }

  // ---- startup -----------------------------------------------------------------------------------------------

  /** Deletes temp folders and files of interrupted captures, deletes and updates; repairs missing thumbnails. */
  private async cleanup(): Promise<void> {
    for (const ent of await fs.readdir(this.root, { withFileTypes: true })) {
      const full = path.join(this.root, ent.name);
      if (isTempName(ent.name)) {
        log.info('removing the leftover of an interrupted write', { path: full });
        await fs.rm(full, { recursive: true, force: true });
        continue;
      }
      if (!ent.isDirectory() || !PHOTO_ID_RE.test(ent.name)) continue;
      for (const sub of [full, path.join(full, VARIANTS)]) {
        const names = await fs.readdir(sub).catch(() => [] as string[]);
        for (const n of names) if (isTempName(n)) await fs.rm(path.join(sub, n), { force: true, recursive: true });
      }
    }
  }

  private async loadIndex(): Promise<void> {
    this.index.clear();
    let names: string[] = [];
    try {
      names = await fs.readdir(this.root);
    } catch {
      return;
    }
    for (const id of names.filter((n) => PHOTO_ID_RE.test(n))) {
      const dir = path.join(this.root, id);
      try {
        const meta = JSON.parse(await fs.readFile(path.join(dir, META), 'utf8')) as PhotoMeta;
        await fs.access(path.join(dir, PHOTO));
        try {
          await fs.access(path.join(dir, THUMB));
        } catch {
          // A lost thumbnail is cheap to rebuild; the photo itself is what matters.
          const size = this.opts.storage().thumbnailSize;
          await writeFileAtomic(
            path.join(dir, THUMB),
            await sharp(path.join(dir, PHOTO))
              .rotate()
              .resize(size, size, { fit: 'inside' })
              .jpeg({ quality: 80 })
              .toBuffer(),
          );
        }
        if (meta.id !== id || !Number.isInteger(meta.seq)) throw new Error('sidecar does not match its folder');
        meta.variants ??= {};
        this.index.set(id, meta.promoting ? await this.finishPromotion(dir, meta) : meta);
      } catch (e) {
        // Incomplete or damaged: never listed. Kept on disk for a human to look at, not deleted blindly.
        log.warn('skipping an incomplete photo folder', { id, error: errorMessage(e) });
      }
    }
    this.order = [...this.index.keys()].sort();
    const last = this.order[this.order.length - 1];
    if (last) this.nextSeq = Math.max(this.nextSeq, (this.index.get(last) as PhotoMeta).seq + 1);
  }
}

export function checkId(id: string): void {
  if (typeof id !== 'string' || !PHOTO_ID_RE.test(id))
    throw new ValidationError('invalid photo id', undefined, 'invalid-id');
}

export function checkVariantName(name: string): void {
  if (typeof name !== 'string' || !VARIANT_NAME_RE.test(name))
    throw new ValidationError(
      'invalid variant name (a-z, 0-9, _ and -, up to 32 characters)',
      undefined,
      'invalid-variant',
    );
}

/** First index whose value is >= key (sorted array). */
function lowerBound(a: string[], key: string): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

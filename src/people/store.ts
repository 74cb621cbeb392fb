import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Mutex } from '../hw/camera/mutex.js';
import { fsyncDir, isTempName, TEMP_MARK, writeFileAtomic } from '../util/atomic-write.js';
import { errorMessage, NotFoundError, ValidationError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { assignPerson, assignPhoto, type ClusterFace, type Descriptor, SAME_PERSON_DISTANCE } from './cluster.js';

const log = createLogger('people.store');

export const PERSON_ID_RE = /^person-[0-9a-f]{8}$/;
export const FACE_ID_RE = /^(p\d{8}-[0-9a-f]{8})-f(\d{1,3})$/;
const PHOTO_ID_RE = /^p\d{8}-[0-9a-f]{8}$/;
const DESCRIPTOR_LENGTH = 128;
const INDEX = 'people.json';
const FACES = 'faces';
const THUMBS = 'thumbs';
/** Leftover of a "turn People off" cut short: the whole folder renamed, waiting to be deleted. */
const DOOMED = `${TEMP_MARK}people-deleted-`;
const MAX_NAME = 60;

/** One face of a photo as the describer found it, in the photo's pixels. */
export interface DescribedFace {
  box: [number, number, number, number];
  /** 128 numbers; absent when the face was too small for the model (`skipped` says why). */
  descriptor?: ArrayLike<number>;
  skipped?: string;
}

export interface DescribedPhoto {
  width: number;
  height: number;
  faces: DescribedFace[];
}

/** On disk, one file per photo: `faces/<photoId>.json`. Descriptors are base64 float32 (exact, compact). */
interface FaceFile {
  v: 1;
  photoId: string;
  width: number;
  height: number;
  faces: {
    box: [number, number, number, number];
    d: string | null;
    person: string | null;
    skipped?: string;
    deleted?: true;
  }[];
  /** The photo could not be described (kept so it is not retried on every start). */
  error?: string;
}

/** `people.json`: only what the owner decided. Which face is whose lives in the face files. */
interface IndexFile {
  v: 1;
  enabled: true;
  names: Record<string, string>;
  /** Person ids merged into another (the face files keep the old id; it is resolved through this map). */
  merged: Record<string, string>;
  /** Face id → people the owner removed it from. */
  rejected: Record<string, string[]>;
}

interface FaceEntry {
  id: string;
  photoId: string;
  index: number;
  box: [number, number, number, number];
  descriptor: Descriptor;
  person: string;
}

export interface PersonSummary {
  id: string;
  name: string | null;
  faces: number;
  photos: number;
  /** The face shown on the card (the largest one). */
  cover: string;
}

export interface FaceSummary {
  id: string;
  photoId: string;
  box: [number, number, number, number];
}

export interface PeopleStoreOptions {
  dataDir: string;
  threshold?: number;
}

/**
 * The People store: `<dataDir>/people/{people.json, faces/<photoId>.json, thumbs/<faceId>.jpg}`, apart from the
 * gallery (nothing here is ever written into a photo, its sidecar, or anything synced). Every write is atomic
 * (writeFileAtomic), every change runs under one lock, so concurrent rename/merge requests are serialised. A damaged
 * file is rebuilt, never fatal: a corrupt people.json loses only names and merges (faces keep their people), a
 * corrupt face file is deleted and its photo described again.
 */
export class PeopleStore {
  readonly dir: string;
  private index?: IndexFile;
  private readonly faces = new Map<string, FaceEntry>();
  /** Photos with a face file: done, whatever they held (no face, too small, an error). */
  private readonly done = new Set<string>();
  private readonly lock = new Mutex();
  private readonly threshold: number;
  /** Set when open() had to rebuild something; shown in status. */
  repaired?: string;

  constructor(private readonly opts: PeopleStoreOptions) {
    this.dir = path.join(opts.dataDir, 'people');
    this.threshold = opts.threshold ?? SAME_PERSON_DISTANCE;
  }

  get enabled(): boolean {
    return this.index !== undefined;
  }

  /** Loads the store (or nothing when People is off), removing the leftovers of interrupted writes. */
  open(): Promise<void> {
    return this.lock.run(() => this.load());
  }

  private async load(): Promise<void> {
    this.index = undefined;
    this.faces.clear();
    this.done.clear();
    this.repaired = undefined;
    for (const n of await fs.readdir(this.opts.dataDir).catch(() => [] as string[]))
      if (n.startsWith(DOOMED)) await fs.rm(path.join(this.opts.dataDir, n), { recursive: true, force: true });
    let text: string | undefined;
    try {
      text = await fs.readFile(path.join(this.dir, INDEX), 'utf8');
    } catch {
      // No index: People is off, unless face files exist (a lost index): then it was on.
    }
    const faceNames = (await fs.readdir(path.join(this.dir, FACES)).catch(() => [] as string[])).filter(
      (n) => !isTempName(n),
    );
    if (text === undefined && faceNames.length === 0) return;
    this.index = text === undefined ? undefined : parseIndex(text);
    if (!this.index) {
      this.repaired = `people.json was ${text === undefined ? 'missing' : 'damaged'}: rebuilt from the face files (names and merges were lost)`;
      log.warn(this.repaired);
      if (text !== undefined) await writeFileAtomic(path.join(this.dir, 'people.damaged.json'), text).catch(() => {});
      this.index = emptyIndex();
      await this.saveIndex();
    }
    for (const dir of [this.dir, path.join(this.dir, FACES), path.join(this.dir, THUMBS)])
      for (const n of await fs.readdir(dir).catch(() => [] as string[]))
        if (isTempName(n)) await fs.rm(path.join(dir, n), { force: true, recursive: true });
    let damaged = 0;
    for (const name of faceNames) {
      const photoId = name.replace(/\.json$/, '');
      const file = path.join(this.dir, FACES, name);
      if (!PHOTO_ID_RE.test(photoId) || !name.endsWith('.json')) continue;
      let ff: FaceFile | undefined;
      try {
        ff = parseFaceFile(await fs.readFile(file, 'utf8'), photoId);
      } catch {
        ff = undefined;
      }
      if (!ff) {
        // Described again by the queue: the photo is simply not done.
        damaged++;
        await fs.rm(file, { force: true });
        continue;
      }
      this.done.add(photoId);
      ff.faces.forEach((f, index) => {
        if (!f.d) return;
        this.faces.set(faceId(photoId, index), {
          id: faceId(photoId, index),
          photoId,
          index,
          box: f.box,
          descriptor: decodeDescriptor(f.d) as Descriptor,
          person: f.person ?? '',
        });
      });
    }
    if (damaged) {
      const msg = `${damaged} damaged face file(s) removed; their photos will be described again`;
      this.repaired = this.repaired ? `${this.repaired}; ${msg}` : msg;
      log.warn(msg);
    }
    // Faces whose person is unknown (lost assignment) are clustered again.
    const loose: FaceEntry[] = [];
    for (const f of this.faces.values()) {
      f.person = this.resolve(f.person);
      if (!PERSON_ID_RE.test(f.person)) loose.push(f);
    }
    for (const f of loose) {
      const known = [...this.faces.values()].filter((x) => PERSON_ID_RE.test(x.person));
      f.person = this.pick(f, known) ?? newPersonId();
      await this.writeFaceFile(f.photoId);
    }
    log.info('people store opened', { faces: this.faces.size, people: this.peopleIds().size, photos: this.done.size });
  }

  // ---- on / off ----------------------------------------------------------------------------------------------

  enable(): Promise<boolean> {
    return this.lock.run(async () => {
      if (this.index) return false;
      await fs.mkdir(path.join(this.dir, FACES), { recursive: true });
      await fs.mkdir(path.join(this.dir, THUMBS), { recursive: true });
      this.index = emptyIndex();
      await this.saveIndex();
      log.info('People turned on');
      return true;
    });
  }

  /** Turns People off: every descriptor, thumbnail, name and merge is deleted (one atomic rename, then the delete). */
  disable(): Promise<boolean> {
    return this.lock.run(async () => {
      const was = this.enabled;
      this.index = undefined;
      this.faces.clear();
      this.done.clear();
      try {
        await fs.access(this.dir);
      } catch {
        return was;
      }
      const doomed = path.join(this.opts.dataDir, `${DOOMED}${randomBytes(4).toString('hex')}`);
      await fs.rename(this.dir, doomed);
      await fsyncDir(this.opts.dataDir);
      await fs.rm(doomed, { recursive: true, force: true });
      log.info('People turned off: descriptors deleted');
      return was;
    });
  }

  // ---- the queue's side ----------------------------------------------------------------------------------------

  isDone(photoId: string): boolean {
    return this.done.has(photoId);
  }

  /**
   * Stores the descriptors of one photo and clusters its faces. `stillExists` is asked under the lock, after the
   * (slow) description: a photo deleted meanwhile leaves nothing behind. Returns the face ids stored.
   */
  async addPhoto(
    photoId: string,
    described: DescribedPhoto,
    thumbs: (Buffer | undefined)[],
    stillExists: () => boolean,
  ): Promise<string[]> {
    checkPhotoId(photoId);
    return this.lock.run(async () => {
      if (!this.index || !stillExists()) return [];
      const descriptors = described.faces.map((f) => (f.descriptor ? checkDescriptor(f.descriptor) : null));
      const known: ClusterFace[] = [...this.faces.values()];
      const people = assignPhoto(descriptors, known, {
        threshold: this.threshold,
        newPerson: newPersonId,
      });
      for (let i = 0; i < descriptors.length; i++) {
        const t = thumbs[i];
        if (descriptors[i] && t) await writeFileAtomic(this.thumbFile(faceId(photoId, i)), t);
      }
      const entries: FaceEntry[] = [];
      descriptors.forEach((d, index) => {
        if (!d) return;
        entries.push({
          id: faceId(photoId, index),
          photoId,
          index,
          box: described.faces[index].box,
          descriptor: d,
          person: people[index] as string,
        });
      });
      const ff: FaceFile = {
        v: 1,
        photoId,
        width: described.width,
        height: described.height,
        faces: described.faces.map((f, index) => ({
          box: f.box,
          d: descriptors[index] ? encodeDescriptor(descriptors[index] as Descriptor) : null,
          person: people[index],
          ...(f.skipped ? { skipped: f.skipped } : {}),
        })),
      };
      await writeFileAtomic(this.faceFile(photoId), JSON.stringify(ff));
      for (const e of entries) this.faces.set(e.id, e);
      this.done.add(photoId);
      return entries.map((e) => e.id);
    });
  }

  /** A photo that cannot be described is recorded, so it is not tried again on every start. */
  async markFailed(photoId: string, error: string, stillExists: () => boolean): Promise<void> {
    checkPhotoId(photoId);
    return this.lock.run(async () => {
      if (!this.index || !stillExists()) return;
      const ff: FaceFile = { v: 1, photoId, width: 0, height: 0, faces: [], error: error.slice(0, 300) };
      await writeFileAtomic(this.faceFile(photoId), JSON.stringify(ff));
      this.done.add(photoId);
    });
  }

  /** The photo is gone (deleted, or its original replaced): its descriptors and thumbnails go too. */
  async removePhoto(photoId: string): Promise<void> {
    checkPhotoId(photoId);
    return this.lock.run(async () => {
      for (const [id, f] of this.faces) if (f.photoId === photoId) this.faces.delete(id);
      this.done.delete(photoId);
      if (!this.index) return;
      const thumbs = await fs.readdir(path.join(this.dir, THUMBS)).catch(() => [] as string[]);
      for (const n of thumbs)
        if (n.startsWith(`${photoId}-f`)) await fs.rm(path.join(this.dir, THUMBS, n), { force: true });
      await fs.rm(this.faceFile(photoId), { force: true });
      let changed = false;
      for (const k of Object.keys(this.index.rejected))
        if (k.startsWith(`${photoId}-f`)) {
          delete this.index.rejected[k];
          changed = true;
        }
      if (changed) await this.saveIndex();
    });
  }

  // ---- reading ---------------------------------------------------------------------------------------------------

  counts(): { people: number; faces: number; photos: number } {
    return { people: this.peopleIds().size, faces: this.faces.size, photos: this.done.size };
  }

  list(): PersonSummary[] {
    const by = new Map<string, FaceEntry[]>();
    for (const f of this.faces.values()) {
      const l = by.get(f.person) ?? [];
      l.push(f);
      by.set(f.person, l);
    }
    const out: PersonSummary[] = [];
    for (const [id, faces] of by) {
      const cover = faces.reduce((a, b) => (b.box[2] * b.box[3] > a.box[2] * a.box[3] ? b : a));
      out.push({
        id,
        name: this.index?.names[id] ?? null,
        faces: faces.length,
        photos: new Set(faces.map((f) => f.photoId)).size,
        cover: cover.id,
      });
    }
    return out.sort(
      (a, b) => b.faces - a.faces || (a.name ?? '\uffff').localeCompare(b.name ?? '\uffff') || a.id.localeCompare(b.id),
    );
  }

  person(id: string): PersonSummary & { faceList: FaceSummary[] } {
    const p = this.list().find((x) => x.id === checkPersonId(id));
    if (!p) throw new NotFoundError(`no person ${id}`);
    const faceList = [...this.faces.values()]
      .filter((f) => f.person === id)
      .sort((a, b) => b.photoId.localeCompare(a.photoId) || a.index - b.index)
      .map((f) => ({ id: f.id, photoId: f.photoId, box: f.box }));
    return { ...p, faceList };
  }

  /** Photo ids of a person, newest first (ids sort in capture order). */
  photosOf(id: string): string[] {
    checkPersonId(id);
    const ids = new Set<string>();
    for (const f of this.faces.values()) if (f.person === id) ids.add(f.photoId);
    if (ids.size === 0) throw new NotFoundError(`no person ${id}`);
    return [...ids].sort().reverse();
  }

  thumbPath(faceIdValue: string): string {
    if (!FACE_ID_RE.test(faceIdValue)) throw new ValidationError('invalid face id', undefined, 'invalid-id');
    if (!this.faces.has(faceIdValue)) throw new NotFoundError(`no face ${faceIdValue}`);
    return this.thumbFile(faceIdValue);
  }

  // ---- the owner's changes -----------------------------------------------------------------------------------------

  async rename(id: string, name: unknown): Promise<PersonSummary> {
    checkPersonId(id);
    const clean = checkName(name);
    return this.lock.run(async () => {
      const idx = this.requireOn();
      this.requirePerson(id);
      if (clean === null) delete idx.names[id];
      else idx.names[id] = clean;
      await this.saveIndex();
      return this.summary(id);
    });
  }

  /** Moves every face of `from` to `into` (`into` keeps its name, or takes `from`'s when it has none). */
  async merge(into: string, from: string): Promise<PersonSummary> {
    checkPersonId(into);
    checkPersonId(from);
    if (into === from) throw new ValidationError('cannot merge a person with itself');
    return this.lock.run(async () => {
      const idx = this.requireOn();
      this.requirePerson(into);
      this.requirePerson(from);
      if (!idx.names[into] && idx.names[from]) idx.names[into] = idx.names[from];
      delete idx.names[from];
      for (const [k, v] of Object.entries(idx.merged)) if (v === from) idx.merged[k] = into;
      idx.merged[from] = into;
      for (const list of Object.values(idx.rejected)) {
        const i = list.indexOf(from);
        if (i >= 0) list.splice(i, 1, ...(list.includes(into) ? [] : [into]));
      }
      await this.saveIndex();
      for (const f of this.faces.values()) if (f.person === from) f.person = into;
      return this.summary(into);
    });
  }

  /** Deletes a person: the descriptors and thumbnails of its faces go; the photos stay (and are not described again). */
  async deletePerson(id: string): Promise<{ faces: number }> {
    checkPersonId(id);
    return this.lock.run(async () => {
      const idx = this.requireOn();
      this.requirePerson(id);
      const gone = [...this.faces.values()].filter((f) => f.person === id);
      const photos = new Set(gone.map((f) => f.photoId));
      for (const f of gone) this.faces.delete(f.id);
      for (const p of photos) await this.writeFaceFile(p, new Set(gone.map((f) => f.id)));
      for (const f of gone) await fs.rm(this.thumbFile(f.id), { force: true });
      delete idx.names[id];
      for (const [k, v] of Object.entries(idx.merged)) if (v === id || k === id) delete idx.merged[k];
      for (const [k, list] of Object.entries(idx.rejected)) {
        idx.rejected[k] = list.filter((p) => p !== id);
        if (idx.rejected[k].length === 0) delete idx.rejected[k];
      }
      await this.saveIndex();
      log.info('person deleted', { person: id, faces: gone.length });
      return { faces: gone.length };
    });
  }

  /** "Not this person": the face leaves the person for good and goes to whoever else it matches (or a new person). */
  async removeFace(personId: string, faceIdValue: string): Promise<{ face: string; person: string }> {
    checkPersonId(personId);
    if (!FACE_ID_RE.test(faceIdValue)) throw new ValidationError('invalid face id', undefined, 'invalid-id');
    return this.lock.run(async () => {
      const idx = this.requireOn();
      const f = this.faces.get(faceIdValue);
      if (!f || f.person !== personId) throw new NotFoundError(`person ${personId} has no face ${faceIdValue}`);
      const rejected = new Set([...(idx.rejected[f.id] ?? []), personId]);
      idx.rejected[f.id] = [...rejected];
      await this.saveIndex();
      const others = [...this.faces.values()].filter((x) => x.photoId === f.photoId && x.id !== f.id);
      const exclude = new Set([...rejected, ...others.map((x) => x.person)]);
      const known = [...this.faces.values()].filter((x) => x.id !== f.id);
      f.person = assignPerson(f.descriptor, known, { threshold: this.threshold, exclude })?.person ?? newPersonId();
      await this.writeFaceFile(f.photoId);
      return { face: f.id, person: f.person };
    });
  }

  // ---- internals ---------------------------------------------------------------------------------------------

  private pick(f: FaceEntry, known: ClusterFace[]): string | null {
    const rejected = this.index?.rejected[f.id] ?? [];
    const siblings = [...this.faces.values()].filter((x) => x.photoId === f.photoId && x.id !== f.id);
    const exclude = new Set([...rejected, ...siblings.map((x) => x.person)]);
    return assignPerson(f.descriptor, known, { threshold: this.threshold, exclude })?.person ?? null;
  }

  private resolve(person: string): string {
    let p = person;
    for (let i = 0; i < 32 && this.index?.merged[p]; i++) p = this.index.merged[p];
    return p;
  }

  private peopleIds(): Set<string> {
    return new Set([...this.faces.values()].map((f) => f.person));
  }

  private summary(id: string): PersonSummary {
    const p = this.list().find((x) => x.id === id);
    if (!p) throw new NotFoundError(`no person ${id}`);
    return p;
  }

  private requireOn(): IndexFile {
    if (!this.index) throw new ValidationError('People is off', undefined, 'people-off');
    return this.index;
  }

  private requirePerson(id: string): void {
    for (const f of this.faces.values()) if (f.person === id) return;
    throw new NotFoundError(`no person ${id}`);
  }

  /** Rewrites one photo's face file from memory; faces in `deleted` lose their descriptor for good. */
  private async writeFaceFile(photoId: string, deleted = new Set<string>()): Promise<void> {
    const file = this.faceFile(photoId);
    let ff: FaceFile | undefined;
    try {
      ff = parseFaceFile(await fs.readFile(file, 'utf8'), photoId);
    } catch (e) {
      log.warn('face file unreadable while updating it', { photoId, error: errorMessage(e) });
    }
    if (!ff) return;
    ff.faces = ff.faces.map((f, index) => {
      const id = faceId(photoId, index);
      if (deleted.has(id)) return { box: f.box, d: null, person: null, deleted: true };
      const e = this.faces.get(id);
      return e ? { ...f, person: e.person } : f;
    });
    await writeFileAtomic(file, JSON.stringify(ff));
  }

  private async saveIndex(): Promise<void> {
    if (!this.index) return;
    await fs.mkdir(this.dir, { recursive: true });
    await writeFileAtomic(path.join(this.dir, INDEX), JSON.stringify(this.index));
  }

  private faceFile(photoId: string): string {
    return path.join(this.dir, FACES, `${photoId}.json`);
  }

  private thumbFile(faceIdValue: string): string {
    return path.join(this.dir, THUMBS, `${faceIdValue}.jpg`);
  }
}

export const faceId = (photoId: string, index: number) => `${photoId}-f${index}`;
const newPersonId = () => `person-${randomBytes(4).toString('hex')}`;
const emptyIndex = (): IndexFile => ({ v: 1, enabled: true, names: {}, merged: {}, rejected: {} });

function checkPhotoId(id: string): void {
  if (!PHOTO_ID_RE.test(id)) throw new ValidationError('invalid photo id', undefined, 'invalid-id');
}

function checkPersonId(id: string): string {
  if (typeof id !== 'string' || !PERSON_ID_RE.test(id))
    throw new ValidationError('invalid person id', undefined, 'invalid-id');
  return id;
}

/** A name: 1–60 characters, no control characters; empty or null clears it. */
function checkName(name: unknown): string | null {
  if (name === null || name === '') return null;
  if (typeof name !== 'string') throw new ValidationError('name must be a string');
  const n = name.normalize('NFC').trim();
  if (n.length === 0) return null;
  if (n.length > MAX_NAME) throw new ValidationError(`name is longer than ${MAX_NAME} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(n)) throw new ValidationError('name contains control characters');
  return n;
}

function checkDescriptor(d: ArrayLike<number>): Descriptor {
  if (d.length !== DESCRIPTOR_LENGTH)
    throw new ValidationError(`a face descriptor has ${DESCRIPTOR_LENGTH} numbers, got ${d.length}`);
  const out = Float32Array.from(d);
  for (const v of out) if (!Number.isFinite(v)) throw new ValidationError('a face descriptor holds a non-number');
  return out;
}

function encodeDescriptor(d: Descriptor): string {
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64');
}

function decodeDescriptor(s: string): Descriptor | undefined {
  const b = Buffer.from(s, 'base64');
  if (b.length !== DESCRIPTOR_LENGTH * 4) return undefined;
  const d = new Float32Array(DESCRIPTOR_LENGTH);
  new Uint8Array(d.buffer).set(b);
  for (const v of d) if (!Number.isFinite(v)) return undefined;
  return d;
}

function parseIndex(text: string): IndexFile | undefined {
  try {
    const j = JSON.parse(text) as Partial<IndexFile>;
    if (j?.v !== 1 || j.enabled !== true) return undefined;
    const obj = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
    if (!obj(j.names) || !obj(j.merged) || !obj(j.rejected)) return undefined;
    const names: Record<string, string> = {};
    for (const [k, v] of Object.entries(j.names as object))
      if (PERSON_ID_RE.test(k) && typeof v === 'string' && v.length <= MAX_NAME) names[k] = v;
    const merged: Record<string, string> = {};
    for (const [k, v] of Object.entries(j.merged as object))
      if (PERSON_ID_RE.test(k) && typeof v === 'string' && PERSON_ID_RE.test(v) && k !== v) merged[k] = v;
    const rejected: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(j.rejected as object))
      if (FACE_ID_RE.test(k) && Array.isArray(v))
        rejected[k] = v.filter((p) => typeof p === 'string' && PERSON_ID_RE.test(p));
    return { v: 1, enabled: true, names, merged, rejected };
  } catch {
    return undefined;
  }
}

function parseFaceFile(text: string, photoId: string): FaceFile | undefined {
  const j = JSON.parse(text) as FaceFile;
  if (j?.v !== 1 || j.photoId !== photoId || !Array.isArray(j.faces)) return undefined;
  for (const f of j.faces) {
    if (!Array.isArray(f.box) || f.box.length !== 4 || !f.box.every((n) => Number.isFinite(n))) return undefined;
    if (f.d !== null && (typeof f.d !== 'string' || !decodeDescriptor(f.d))) return undefined;
    if (f.person !== null && (typeof f.person !== 'string' || !PERSON_ID_RE.test(f.person))) f.person = null;
  }
  return j;
}

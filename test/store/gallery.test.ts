import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { GalleryStore } from '../../src/store/gallery.js';
import { TEMP_MARK } from '../../src/util/atomic-write.js';
import { configureLogging } from '../../src/util/logger.js';
import { tempDir } from '../hw/camera/helpers.js';

configureLogging({ level: 'silent' });
let dir: string;
afterEach(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const storage = { minFreeMB: 10, thumbnailSize: 64 };
const jpegOf = (w: number, h: number) =>
  sharp({ create: { width: w, height: h, channels: 3, background: '#2a6' } })
    .jpeg()
    .toBuffer();

async function open(extra: Partial<ConstructorParameters<typeof GalleryStore>[0]> = {}) {
  const store = new GalleryStore({ dataDir: dir, storage: () => storage, ...extra });
  await store.open();
  return store;
}

async function add(store: GalleryStore, w = 400, h = 300) {
  const p = await store.reserve();
  await fs.writeFile(p.rawPath, await jpegOf(w, h));
  return store.commit(p, {
    capturedAt: new Date('2026-01-02T03:04:05Z'),
    settings: { quality: 93 },
    lag: { strategy: 'switch', commandIssuedMs: 1, exposureDoneMs: 2, writtenMs: 3 },
  });
}

describe('GalleryStore', () => {
  it('commits photo, thumbnail and sidecar; EXIF carries the capture time; listing is newest first by sequence', async () => {
    dir = await tempDir('pinhole-store-');
    const store = await open();
    const a = await add(store, 400, 300);
    const b = await add(store, 300, 400);
    const c = await add(store);
    expect([a.seq, b.seq, c.seq]).toEqual([1, 2, 3]);
    expect(store.list().items.map((r) => r.id)).toEqual([c.id, b.id, a.id]);
    const m = await sharp(a.path).metadata();
    expect(m).toMatchObject({ format: 'jpeg', width: 400, height: 300, orientation: 1 });
    expect(m.exif?.toString('latin1')).toContain('Pinhole');
    expect(m.exif?.toString('latin1')).toMatch(/\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}/);
    const t = await sharp(b.thumbPath).metadata();
    expect(Math.max(t.width ?? 0, t.height ?? 0)).toBe(64);
    const meta = JSON.parse(await fs.readFile(path.join(path.dirname(a.path), 'meta.json'), 'utf8'));
    expect(meta).toMatchObject({
      id: a.id,
      seq: 1,
      width: 400,
      height: 300,
      settings: { quality: 93 },
      lag: { strategy: 'switch' },
      variants: {},
    });
  });

  it('pages with a cursor, and a reopened store keeps order and continues the sequence', async () => {
    dir = await tempDir('pinhole-store-');
    const store = await open();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await add(store, 64, 48)).id);
    const p1 = store.list({ limit: 2 });
    const p2 = store.list({ limit: 2, cursor: p1.nextCursor });
    const p3 = store.list({ limit: 2, cursor: p2.nextCursor });
    expect([...p1.items, ...p2.items, ...p3.items].map((r) => r.id)).toEqual([...ids].reverse());
    expect(p3.nextCursor).toBeUndefined();
    await store.delete(ids[4]);
    const again = await open();
    expect(again.list().items.map((r) => r.id)).toEqual(ids.slice(0, 4).reverse());
    // A deleted newest photo's sequence number is never reused.
    expect((await add(again, 64, 48)).seq).toBe(6);
  });

  it('rejects malformed IDs and variant names before touching the filesystem', async () => {
    dir = await tempDir('pinhole-store-');
    const store = await open();
    const a = await add(store, 64, 48);
    for (const bad of ['../etc/passwd', `${a.id}/../x`, '', 'p1', `${a.id}\0`]) {
      expect(() => store.get(bad)).toThrow(expect.objectContaining({ status: 400 }));
    }
    expect(() => store.get('p00000099-00000000')).toThrow(expect.objectContaining({ status: 404 }));
    expect(() => store.variantPath(a.id, '../../x')).toThrow(expect.objectContaining({ status: 400 }));
    await expect(store.delete('..')).rejects.toMatchObject({ status: 400 });
  });

  it('update merges sidecar keys atomically (concurrent updates are not lost); variants are written and listed', async () => {
    dir = await tempDir('pinhole-store-');
    const store = await open();
    const a = await add(store, 64, 48);
    await Promise.all([store.update(a.id, { faces: [{ x: 1 }] }), store.update(a.id, { filters: { queued: ['x'] } })]);
    const v = await jpegOf(32, 32);
    const file = await store.writeVariant(a.id, 'restored', v, { filter: 'gfpgan', strength: 0.5 });
    expect(file).toBe(store.variantPath(a.id, 'restored'));
    expect((await fs.readFile(file)).equals(v)).toBe(true);
    const reopened = await open();
    const meta = reopened.get(a.id).meta;
    expect(meta).toMatchObject({
      faces: [{ x: 1 }],
      filters: { queued: ['x'] },
      variants: { restored: { recipe: { filter: 'gfpgan', strength: 0.5 }, bytes: v.length } },
    });
    expect(Object.keys(reopened.listVariants(a.id))).toEqual(['restored']);
    await reopened.deleteVariant(a.id, 'restored');
    expect(reopened.listVariants(a.id)).toEqual({});
    await expect(fs.access(file)).rejects.toThrow();
  });

  it('refuses a camera file that is not a JPEG and leaves nothing behind', async () => {
    dir = await tempDir('pinhole-store-');
    const store = await open();
    const p = await store.reserve();
    await fs.writeFile(p.rawPath, Buffer.from('not a jpeg at all'));
    await expect(store.commit(p, { capturedAt: new Date(), settings: {} })).rejects.toThrow(/unreadable image/);
    expect(store.count).toBe(0);
    expect((await fs.readdir(store.root)).filter((n) => n.startsWith(TEMP_MARK))).toEqual([]);
  });

  // Found by the torture suite (faults: capture under PINHOLE_FAKE_CAMERA_FAULT=garbage answered 500 internal).
  it('a camera file that is not a JPEG is a camera fault (503 camera-failed), not an internal error', async () => {
    dir = await tempDir('pinhole-store-');
    const store = await open();
    const p = await store.reserve();
    await fs.writeFile(p.rawPath, Buffer.from('not a jpeg at all'));
    await expect(store.commit(p, { capturedAt: new Date(), settings: {} })).rejects.toMatchObject({
      status: 503,
      code: 'camera-failed',
    });
    expect(store.count).toBe(0);
    expect((await fs.readdir(store.root)).filter((n) => n.startsWith(TEMP_MARK))).toEqual([]);
  });

  it('below storage.minFreeMB: reserve throws StorageError 507 and nothing is written', async () => {
    dir = await tempDir('pinhole-store-');
    let freeBlocks = 1_000_000;
    const store = await open({ statfs: async () => ({ bavail: freeBlocks, bsize: 4096 }) });
    await add(store, 64, 48);
    freeBlocks = 2 * 256; // 2 MB < 10 MB
    await expect(store.reserve()).rejects.toMatchObject({
      status: 507,
      code: 'storage-full',
      message: expect.stringContaining('storage.minFreeMB'),
    });
    expect(store.count).toBe(1);
    expect(await store.health()).toMatchObject({ writable: true, freeMB: 2, minFreeMB: 10 });
  });

  it('an unwritable data dir gives a clear StorageError, not a crash', async () => {
    dir = await tempDir('pinhole-store-');
    // Root may write anywhere: a path under a regular file is unwritable for everyone (ENOTDIR).
    await fs.writeFile(path.join(dir, 'file'), 'x');
    const store = new GalleryStore({ dataDir: path.join(dir, 'file', 'data'), storage: () => storage });
    await store.open();
    await expect(store.reserve()).rejects.toMatchObject({
      status: 507,
      code: 'storage-unwritable',
      message: expect.stringContaining('not writable'),
    });
    expect((await store.health()).writable).toBe(false);
    expect(store.list().items).toEqual([]);
  });

  it('startup removes temp leftovers and never lists an incomplete folder; a lost thumbnail is rebuilt', async () => {
    dir = await tempDir('pinhole-store-');
    const store = await open();
    const a = await add(store, 64, 48);
    const b = await add(store, 64, 48);
    // Leftovers of a crash: a capture folder, a temp file in a photo folder, a half-deleted folder.
    await fs.mkdir(path.join(store.root, `${TEMP_MARK}p00000009-aaaaaaaa`));
    await fs.writeFile(path.join(store.root, `${TEMP_MARK}p00000009-aaaaaaaa`, 'photo.jpg'), 'partial');
    await fs.writeFile(path.join(path.dirname(a.path), `${TEMP_MARK}meta.json.123.abcd`), '{');
    // A photo folder without its sidecar (not made by the store) is not listed.
    await fs.mkdir(path.join(store.root, 'p00000007-bbbbbbbb'));
    await fs.copyFile(a.path, path.join(store.root, 'p00000007-bbbbbbbb', 'photo.jpg'));
    await fs.rm(b.thumbPath);
    const again = await open();
    expect(again.list().items.map((r) => r.id)).toEqual([b.id, a.id]);
    expect((await fs.readdir(again.root)).filter((n) => n.startsWith(TEMP_MARK))).toEqual([]);
    expect((await fs.readdir(path.dirname(a.path))).sort()).toEqual(['meta.json', 'photo.jpg', 'thumb.jpg']);
    expect((await sharp(b.thumbPath).metadata()).format).toBe('jpeg');
  });
});

import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { alternateRecipe, promoteAlternate } from '../../src/capture/alternates.js';
import type { BestShotMeta, FrameScore } from '../../src/capture/best-shot.js';
import { GalleryStore } from '../../src/store/gallery.js';
import { configureLogging } from '../../src/util/logger.js';
import { tempDir } from '../hw/camera/helpers.js';

configureLogging({ level: 'silent' });
let dir: string;
afterEach(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const storage = { minFreeMB: 1, thumbnailSize: 64 };
const frameJpeg = (colour: string, w = 320, h = 240) =>
  sharp({ create: { width: w, height: h, channels: 3, background: colour } })
    .jpeg()
    .toBuffer();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const thumbColour = async (file: string) => (await sharp(file).stats()).channels.map((c) => Math.round(c.mean));

async function open() {
  const store = new GalleryStore({ dataDir: dir, storage: () => storage });
  await store.open();
  return store;
}

/** A best shot of three frames: frame 2 (index 1) chosen, frames 1 and 3 stored as alternates. */
async function bestShot(store: GalleryStore) {
  const frames = [await frameJpeg('#c00'), await frameJpeg('#0c0'), await frameJpeg('#00c', 240, 320)];
  const scores: FrameScore[] = [0, 1, 2].map((frame) => ({
    frame,
    faces: 1,
    smile: 0.5,
    faceSharpness: 10,
    sharpness: 10,
    total: [0.5, 0.9, 0.7][frame],
    ...(frame === 1 ? { chosen: true } : { alternate: `frame-${frame + 1}` }),
  }));
  const meta: BestShotMeta = {
    frames: 3,
    chosen: 1,
    weights: { faces: 0.35, smile: 0.25, faceSharpness: 0.25, sharpness: 0.15 },
    scores,
  };
  const p = await store.reserve();
  await fs.writeFile(p.rawPath, frames[1]);
  const rec = await store.commit(p, { capturedAt: new Date(), settings: {} });
  await store.update(rec.id, { bestShot: meta });
  for (const s of scores.filter((x) => x.alternate))
    await store.writeVariant(rec.id, s.alternate as string, frames[s.frame], alternateRecipe(s));
  await store.writeVariant(rec.id, 'sepia', await frameJpeg('#963'), { filter: 'sepia' });
  return { id: rec.id, frames };
}

describe('promoting a best-shot alternate', () => {
  it('swaps the photo and the alternate, updates thumbnail, size and breakdown; filtered versions of the old photo go', async () => {
    dir = await tempDir('pinhole-promote-');
    const store = await open();
    const { id } = await bestShot(store);
    const oldPhoto = await fs.readFile(store.filePath(id));
    const alt3 = await fs.readFile(store.variantPath(id, 'frame-3'));
    const r = await promoteAlternate(store, id, 'frame-3');
    expect(r.removed).toEqual(['sepia']);
    expect(sha(await fs.readFile(store.filePath(id)))).toBe(sha(alt3));
    expect(sha(await fs.readFile(store.variantPath(id, 'frame-2')))).toBe(sha(oldPhoto));
    await expect(fs.access(store.variantPath(id, 'frame-3'))).rejects.toThrow();
    const meta = store.get(id).meta;
    expect(Object.keys(meta.variants).sort()).toEqual(['frame-1', 'frame-2']);
    expect(meta.variants['frame-2'].recipe).toEqual({ alternate: { frame: 1, total: 0.9 } });
    expect([meta.width, meta.height]).toEqual([240, 320]);
    const bs = meta.bestShot as BestShotMeta & { promoted: boolean };
    expect(bs).toMatchObject({ chosen: 2, promoted: true });
    expect(bs.scores.map((s) => [s.chosen ?? false, s.alternate ?? null])).toEqual([
      [false, 'frame-1'],
      [false, 'frame-2'],
      [true, null],
    ]);
    const [r0, g0, b0] = await thumbColour(store.thumbPath(id));
    expect(b0).toBeGreaterThan(r0 + 100);
    expect(b0).toBeGreaterThan(g0 + 100);
    expect(meta.promoting).toBeUndefined();
    // and back again
    await promoteAlternate(store, id, 'frame-2');
    expect(sha(await fs.readFile(store.filePath(id)))).toBe(sha(oldPhoto));
    expect((store.get(id).meta.bestShot as BestShotMeta).chosen).toBe(1);
  });

  it('refuses what is not an alternate; nothing changes', async () => {
    dir = await tempDir('pinhole-promote-');
    const store = await open();
    const { id } = await bestShot(store);
    const before = await fs.readFile(store.filePath(id));
    await expect(promoteAlternate(store, id, 'sepia')).rejects.toThrow(/filtered version, not an alternate/);
    await expect(promoteAlternate(store, id, 'frame-9')).rejects.toThrow(/no alternate/);
    expect(sha(await fs.readFile(store.filePath(id)))).toBe(sha(before));
  });

  for (const cut of ['after the marked sidecar', 'after photo.jpg was replaced'] as const) {
    it(`a power cut ${cut} is finished at the next start: no frame lost`, async () => {
      dir = await tempDir('pinhole-promote-');
      const store = await open();
      const { id, frames } = await bestShot(store);
      const folder = path.dirname(store.filePath(id));
      // the state promoteVariant leaves at that point, written by hand
      await fs.writeFile(path.join(folder, 'variants', 'frame-2.jpg'), frames[1]);
      const meta = JSON.parse(await fs.readFile(path.join(folder, 'meta.json'), 'utf8'));
      delete meta.variants['frame-3'];
      meta.variants['frame-2'] = { recipe: { alternate: { frame: 1, total: 0.9 } }, createdAt: 'x', bytes: 1 };
      meta.promoting = { from: 'frame-3' };
      await fs.writeFile(path.join(folder, 'meta.json'), JSON.stringify(meta));
      if (cut === 'after photo.jpg was replaced') await fs.writeFile(path.join(folder, 'photo.jpg'), frames[2]);
      const again = await open();
      const m = again.get(id).meta;
      expect(m.promoting).toBeUndefined();
      expect(sha(await fs.readFile(again.filePath(id)))).toBe(sha(frames[2]));
      expect(sha(await fs.readFile(again.variantPath(id, 'frame-2')))).toBe(sha(frames[1]));
      expect(sha(await fs.readFile(again.variantPath(id, 'frame-1')))).toBe(sha(frames[0]));
      await expect(fs.access(path.join(folder, 'variants', 'frame-3.jpg'))).rejects.toThrow();
      expect(m.bytes).toBe(frames[2].length);
      const [r, g, b] = await thumbColour(again.thumbPath(id));
      expect(b).toBeGreaterThan(r + 100);
      expect(b).toBeGreaterThan(g + 100);
    });
  }
});

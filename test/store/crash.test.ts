import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GalleryStore } from '../../src/store/gallery.js';
import { configureLogging } from '../../src/util/logger.js';
import { ensureBuilt, repoRoot, tempDir } from '../hw/camera/helpers.js';

let dir: string;
beforeAll(() => {
  ensureBuilt();
  configureLogging({ level: 'silent' });
});
afterEach(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('kill -9 during a gallery write', () => {
  it('never leaves a partial photo listed, whenever the writer dies', async () => {
    const writer = path.join(repoRoot, 'dist/test/fixtures/store-writer.js');
    await fs.access(writer);
    dir = await tempDir('pinhole-crash-');
    for (const killAfterMs of [350, 520, 700, 910]) {
      const child = spawn(process.execPath, [writer, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      // Wait for the first commit so the kill lands in the middle of the write loop, then a varying delay.
      await new Promise<void>((r) => {
        const t = setInterval(() => {
          if (out.includes('\n')) {
            clearInterval(t);
            r();
          }
        }, 10);
      });
      await new Promise((r) => setTimeout(r, killAfterMs % 300));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const store = new GalleryStore({ dataDir: dir, storage: () => ({ minFreeMB: 0, thumbnailSize: 96 }) });
      await store.open();
      const committed = out.trim().split('\n').filter(Boolean);
      expect(committed.length).toBeGreaterThanOrEqual(1);
      for (const id of committed) expect(store.get(id).id).toBe(id);
      const listed = store.list({ limit: 200 }).items;
      // Everything reported committed is listed; anything listed is complete and decodes.
      expect(listed.length).toBeGreaterThanOrEqual(committed.length);
      for (const r of listed) {
        expect((await sharp(r.path).metadata()).width).toBe(1600);
        expect((await sharp(r.thumbPath).metadata()).format).toBe('jpeg');
        expect(r.meta.id).toBe(r.id);
      }
      const names = await fs.readdir(store.root);
      expect(names.filter((n) => !/^p\d{8}-[0-9a-f]{8}$/.test(n) && n !== 'sequence.json')).toEqual([]);
    }
  });
});

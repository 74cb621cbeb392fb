import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/load.js';
import { EventBus } from '../../src/events.js';
import { GalleryStore } from '../../src/store/gallery.js';
import { SyncComponent } from '../../src/sync/sync-component.js';
import { configureLogging } from '../../src/util/logger.js';
import { tempDir } from '../helpers/tmp.js';

const DAY = 86_400_000;

/**
 * sync.deleteLocalAfterDays with the real rclone and a local-folder target (rclone's local backend reports md5, so the
 * check is size + hash). The component's clock is injected: photos age without waiting days.
 */
describe('sync.deleteLocalAfterDays', () => {
  const t = tempDir('pinhole-prune-');
  const comps: SyncComponent[] = [];
  configureLogging({ level: 'silent' });
  afterEach(async () => {
    for (const c of comps.splice(0)) await c.stop();
  });
  afterAll(() => t.cleanup());

  async function setup(days: number | null) {
    const dir = await fs.mkdtemp(path.join(t.dir, 'case-'));
    const dataDir = path.join(dir, 'data');
    const dest = path.join(dir, 'dest');
    await fs.mkdir(dest);
    const bus = new EventBus();
    const gallery = new GalleryStore({ dataDir, storage: () => ({ minFreeMB: 0, thumbnailSize: 64 }), bus });
    await gallery.open();
    const realNow = Date.now();
    const commit = async (capturedAt: number, shade: number) => {
      const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: shade, g: 9, b: 9 } } })
        .jpeg()
        .toBuffer();
      const p = await gallery.reserve();
      await fs.writeFile(p.rawPath, jpeg);
      return (await gallery.commit(p, { capturedAt: new Date(capturedAt), settings: {} })).id;
    };
    const old = [];
    for (let i = 0; i < 4; i++) old.push(await commit(realNow, 40 * i));
    // Younger than the cutoff even once the clock has moved on 8 days.
    const young = await commit(realNow + 7.5 * DAY, 250);
    const clock = { now: realNow };
    const cfg = defaultConfig();
    cfg.dataDir = dataDir;
    cfg.sync.rcloneConfig = path.join(dir, 'no-rclone.conf');
    cfg.sync.deleteLocalAfterDays = days;
    cfg.sync.nice = 0; // a shared test machine would starve a nice-19 rclone
    cfg.sync.targets = [{ name: 'usb', remote: dest, what: 'originals' }];
    cfg.mqtt.machineIdFile = path.join(dir, 'machine-id');
    const sync = new SyncComponent({ config: cfg, bus, gallery: () => gallery, now: () => clock.now });
    comps.push(sync);
    await sync.start();
    expect(await sync.idle(120_000)).toBe(true);
    expect(sync.status().targets[0]).toMatchObject({ done: 5, queued: 0, failed: 0 });
    return { gallery, sync, clock, dest, old, young, realNow };
  }

  it('deletes a photo only when it is old enough and its remote copy matches in size and hash', async () => {
    const { gallery, sync, clock, dest, old, young, realNow } = await setup(7);
    const [intact, sameSizeOtherBytes, missing, truncated] = old;
    // Today: every photo is younger than 7 days, nothing goes.
    expect(await sync.prune()).toEqual([]);

    const remote = (id: string) => path.join(dest, `${id}.jpg`);
    const b = await fs.readFile(remote(sameSizeOtherBytes));
    b[b.length - 3] ^= 0xff; // same size, other content: only the hash tells
    await fs.writeFile(remote(sameSizeOtherBytes), b);
    await fs.rm(remote(missing));
    await fs.truncate(remote(truncated), 100);

    clock.now = realNow + 8 * DAY;
    expect(await sync.prune()).toEqual([intact]);
    expect(() => gallery.get(intact)).toThrow();
    expect(existsSync(remote(intact))).toBe(true);
    for (const id of [sameSizeOtherBytes, missing, truncated, young])
      expect(gallery.get(id).meta.bytes).toBeGreaterThan(0);
    // Nothing more to delete on a second pass; the young one goes once it is old enough too.
    expect(await sync.prune()).toEqual([]);
    clock.now = realNow + 15 * DAY;
    expect(await sync.prune()).toEqual([young]);
    expect(
      gallery
        .list()
        .items.map((p) => p.id)
        .sort(),
    ).toEqual([sameSizeOtherBytes, missing, truncated].sort());
  }, 240_000);

  it('never deletes anything when deleteLocalAfterDays is null', async () => {
    const { gallery, sync, clock, realNow } = await setup(null);
    clock.now = realNow + 3650 * DAY;
    expect(await sync.prune()).toEqual([]);
    expect(gallery.list().items).toHaveLength(5);
  }, 240_000);
});

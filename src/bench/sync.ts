import { execFileSync, spawn } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startWebdav } from '../../scripts/real-servers.js';
import { CaptureService } from '../capture/capture-service.js';
import { defaultConfig } from '../config/load.js';
import type { PinholeConfig } from '../config/schema.js';
import { EventBus } from '../events.js';
import { cameraCommands } from '../hw/camera/commands.js';
import { RpicamCamera } from '../hw/camera/rpicam-camera.js';
import { GalleryStore } from '../store/gallery.js';
import { RcdSession } from '../sync/rcd.js';
import { cleanEnv, RcloneRunner } from '../sync/rclone.js';
import { SyncComponent } from '../sync/sync-component.js';
import { configureLogging } from '../util/logger.js';

/**
 * Sync benchmarks against a real Apache WebDAV server on loopback (ratios in one run):
 *  - transfer overhead: Pinhole syncing N photos vs one plain `rclone copy SRC DST` (default flags) of the same files;
 *  - engine: one `rclone copy` process per batch vs an `rclone rcd` doing one `operations/copyfile` per file;
 *  - shutter → durable file p50 (sim camera, full-size stills) with a sync running vs without;
 *  - memory: daemon-side RSS while syncing vs idle, rclone's own RSS, and no rclone left once the queue is empty.
 */
const r2 = (v: number) => Math.round(v * 100) / 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

function rssMB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function rclone(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('rclone', args, { stdio: ['ignore', 'ignore', 'pipe'], env: cleanEnv(process.env) });
    let err = '';
    c.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`rclone ${args[0]}: ${err.slice(-500)}`))));
  });
}

export async function run(opts: { quick: boolean }): Promise<Record<string, unknown>> {
  configureLogging({ level: 'warn', sink: (line) => process.stderr.write(`${line}\n`) });
  const n = opts.quick ? 12 : 50;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-bench-sync-'));
  const dav = await startWebdav('pinhole', 'bench-pass');
  try {
    const rc = path.join(dir, 'rclone.conf');
    const pass = execFileSync('rclone', ['obscure', 'bench-pass'], { encoding: 'utf8' }).trim();
    await fs.writeFile(
      rc,
      `[dav]\ntype = webdav\nurl = http://127.0.0.1:${dav.port}/dav\nvendor = other\nuser = pinhole\npass = ${pass}\n`,
      {
        mode: 0o600,
      },
    );
    // N photos in a real gallery (3 MP JPEGs with texture, ~1 MB: what a Pi camera's photo weighs, roughly).
    const dataDir = path.join(dir, 'data');
    const gallery = new GalleryStore({ dataDir, storage: () => ({ minFreeMB: 0, thumbnailSize: 160 }) });
    await gallery.open();
    const noise = await sharp({
      create: {
        width: 2048,
        height: 1536,
        channels: 3,
        background: { r: 0, g: 0, b: 0 },
        noise: { type: 'gaussian', mean: 128, sigma: 40 },
      },
    })
      .jpeg({ quality: 85 })
      .toBuffer();
    const ids: string[] = [];
    const src = path.join(dir, 'plain-src');
    await fs.mkdir(src);
    for (let i = 0; i < n; i++) {
      const p = await gallery.reserve();
      await fs.writeFile(p.rawPath, noise);
      const c = await gallery.commit(p, { capturedAt: new Date(), settings: {} });
      ids.push(c.id);
      await fs.copyFile(c.path, path.join(src, `${c.id}.jpg`));
    }
    const bytes = (await fs.stat(gallery.filePath(ids[0]))).size * n;
    for (const d of ['plain1', 'plain2', 'ours1', 'ours2', 'engine']) dav.mkdir(d);

    const cfgFor = (remote: string, over: (c: PinholeConfig) => void = () => {}) => {
      const c = defaultConfig();
      c.dataDir = dataDir;
      c.sync.rcloneConfig = rc;
      c.sync.batchSize = n;
      c.sync.targets = [{ name: 'nas', remote, what: 'originals' }];
      c.mqtt.machineIdFile = path.join(dir, 'machine-id');
      over(c);
      return c;
    };
    const syncOnce = async (remote: string) => {
      const bus = new EventBus();
      await fs.rm(path.join(dataDir, 'state'), { recursive: true, force: true });
      const s = new SyncComponent({ config: cfgFor(remote), bus, gallery: () => gallery });
      const t = await timed(async () => {
        await s.start(); // the queue is rebuilt from the gallery: all N photos
        await s.idle(600_000);
      });
      const st = s.status().targets[0];
      await s.stop();
      if (st.done !== n) throw new Error(`sync delivered ${st.done} of ${n}: ${st.lastError}`);
      return t;
    };
    // Interleaved, two rounds each, so drift on a shared machine hits both sides alike.
    const plain: number[] = [];
    const ours: number[] = [];
    for (const round of [1, 2]) {
      plain.push(await timed(() => rclone(['copy', src, `dav:plain${round}`, '--config', rc])));
      ours.push(await syncOnce(`dav:ours${round}`));
    }

    // Engine: one process per batch vs rcd + one copyfile per file (same files, same server).
    const runner = new RcloneRunner({ pidFile: path.join(dir, 'rcd.pid') });
    const rcdMs = await timed(async () => {
      const s = new RcdSession(runner);
      await s.start(['--config', rc], cleanEnv(process.env));
      const work = ids.map((id) => `${id}.jpg`);
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let f = work.shift(); f; f = work.shift())
            await s.call('operations/copyfile', { srcFs: src, srcRemote: f, dstFs: 'dav:engine', dstRemote: f });
        }),
      );
      await s.quit();
    });

    // Shutter lag with and without a sync running (sim camera, full-size stills, strategy signal).
    const lag = async (withSync: boolean) => {
      const bus = new EventBus();
      const cfg = cfgFor('dav:lag', (c) => {
        c.sync.bwlimit = '2M';
        c.sync.batchSize = 5;
      });
      const cam = new RpicamCamera({
        config: { ...cfg.camera, backend: 'sim' },
        commands: cameraCommands('sim'),
        runDir: path.join(dir, `run-${withSync}`),
        env: { ...process.env, PINHOLE_FAKE_CAMERA_STATE_DIR: path.join(dir, 'sim'), PINHOLE_FAKE_CAMERA_FAULT: '' },
      });
      const lagGallery = new GalleryStore({
        dataDir: path.join(dir, `lag-${withSync}`),
        storage: () => ({ minFreeMB: 0, thumbnailSize: 320 }),
        bus,
      });
      await lagGallery.open();
      const service = new CaptureService({ camera: cam, store: lagGallery, bus, config: () => cfg.camera });
      let sync: SyncComponent | undefined;
      if (withSync) {
        dav.mkdir('lag');
        await fs.rm(path.join(dataDir, 'state'), { recursive: true, force: true });
        sync = new SyncComponent({
          config: cfgFor('dav:lag', (c) => (c.sync.bwlimit = '2M')),
          bus,
          gallery: () => gallery,
        });
        await sync.start();
      }
      const out: number[] = [];
      let rcloneRss = 0;
      try {
        await cam.start();
        const shots = opts.quick ? 3 : 10;
        for (let i = 0; i < shots; i++) {
          const t0 = Date.now();
          while (cam.status().state !== 'streaming' && Date.now() - t0 < 15_000) await sleep(20);
          await sleep(300);
          const pid = sync?.status().rclonePid;
          if (pid) rcloneRss = Math.max(rcloneRss, rssMB(pid));
          const res = await service.capture({ source: 'bench' });
          out.push(res.lag.durableMs ?? Number.NaN);
        }
      } finally {
        await cam.stop();
        await sync?.stop();
      }
      return { p50: p50(out), syncWasRunning: withSync, rcloneRss };
    };
    const lagWithout = await lag(false);
    const lagWith = await lag(true);

    // Memory: this process idle, then while syncing (sampled), rclone's own RSS, and nothing left afterwards.
    await fs.rm(path.join(dataDir, 'state'), { recursive: true, force: true });
    dav.mkdir('mem');
    global.gc?.();
    await sleep(500);
    const idleRss = rssMB(process.pid);
    const bus = new EventBus();
    const s = new SyncComponent({
      config: cfgFor('dav:mem', (c) => (c.sync.batchSize = 10)),
      bus,
      gallery: () => gallery,
    });
    let peakSelf = 0;
    let peakRclone = 0;
    const pids = new Set<number>();
    const sampler = setInterval(() => {
      peakSelf = Math.max(peakSelf, rssMB(process.pid));
      const pid = s.status().rclonePid;
      if (pid) {
        pids.add(pid);
        peakRclone = Math.max(peakRclone, rssMB(pid));
      }
    }, 50);
    await s.start();
    await s.idle(600_000);
    clearInterval(sampler);
    await sleep(300);
    const leftover = [...pids].filter((pid) => rssMB(pid) > 0).length;
    const residentWhenEmpty = s.status().rclonePid !== null || leftover > 0;
    await s.stop();

    const plainMs = p50(plain);
    const oursMs = p50(ours);
    return {
      server: 'Apache 2.4 mod_dav_fs on loopback',
      photos: n,
      megabytes: r2(bytes / 1e6),
      transfer: {
        plainRcloneCopyMs: plain.map(Math.round),
        pinholeSyncMs: ours.map(Math.round),
        ratio: r2(oursMs / plainMs),
        goal: '≤ 1.1',
      },
      engine: {
        oneProcessPerBatchMs: Math.round(plainMs),
        rcdCopyfilePerFileMs: Math.round(rcdMs),
        rcdOverOneShot: r2(rcdMs / plainMs),
        chosen:
          'one rclone process per batch (direct uploads); rcd only for the length of a staged batch; none when idle',
      },
      shutter: {
        durableP50WithoutSyncMs: lagWithout.p50,
        durableP50WithSyncMs: lagWith.p50,
        ratio: r2(lagWith.p50 / lagWithout.p50),
        goal: '≤ 1.1',
      },
      memory: {
        daemonIdleMB: r2(idleRss),
        daemonWhileSyncingMB: r2(peakSelf),
        daemonRatio: r2(peakSelf / idleRss),
        rclonePeakMB: r2(Math.max(peakRclone, lagWith.rcloneRss)),
        rcloneResidentWhenQueueEmpty: residentWhenEmpty,
        goal: 'daemon ≤ 1.1 × idle (+ rclone), no rclone when the queue is empty',
      },
    };
  } finally {
    await dav.cleanup();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

import { spawnSync } from 'node:child_process';
import { promises as fs, mkdirSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { MjpegViewer, round, type ScenarioOptions, sleep, TortureDaemon, Violations, waitFor } from './harness.js';
import { decodeJpeg } from './power.js';

function freeMB(dir: string): number {
  const s = statfsSync(dir);
  return (s.bavail * s.bsize) / 1024 / 1024;
}

/** Fills the filesystem of `dir` with a ballast file until the kernel says ENOSPC (or `maxMB` is written). */
async function fill(file: string, maxMB: number): Promise<number> {
  const fh = await fs.open(file, 'w');
  const chunk = Buffer.alloc(1024 * 1024, 0x5a);
  let written = 0;
  try {
    while (written < maxMB) {
      try {
        await fh.write(chunk);
        written++;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw e;
      }
    }
    // Top up with small writes so the last megabyte is used too (only when the disk, not maxMB, stopped us).
    if (written >= maxMB) return written;
    const small = Buffer.alloc(4096, 0x5a);
    for (;;) {
      try {
        await fh.write(small);
      } catch {
        break;
      }
    }
  } finally {
    await fh.close().catch(() => {});
  }
  return written;
}

/**
 * Storage full: the data dir on a 64 MB tmpfs (mounted here when allowed, else the daemon's own quota,
 * storage.minFreeMB, just below the free space). Captures are refused with 507 storage-full, nothing half-written
 * is left or listed, the preview goes on, and everything works again once space is freed.
 */
export async function run(opts: ScenarioOptions): Promise<Record<string, unknown>> {
  const v = new Violations();
  let mounted = false;
  const d = new TortureDaemon({
    beforeCleanup: () => {
      if (mounted) spawnSync('umount', ['-l', d.dataDir]);
    },
  });
  const t0 = Date.now();
  const figures: Record<string, unknown> = {};
  const viewer: { w?: MjpegViewer } = {};
  try {
    mkdirSync(d.dataDir, { recursive: true });
    if (process.platform === 'linux' && opts.tmpfs !== false) {
      const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', d.dataDir], { encoding: 'utf8' });
      mounted = m.status === 0;
      figures.tmpfs = mounted
        ? 'mounted 64 MB'
        : `not available (${(m.stderr || m.error?.message || '').trim().slice(0, 120)}): quota only`;
    }
    await d.start();
    const w = new MjpegViewer(d.url, { keep: 2000 });
    viewer.w = w;
    await w.connect();
    await waitFor('live preview', () => w.firstLiveAfter(0) !== undefined, 15_000);

    const photoCount = async () =>
      ((await d.api<{ photos: unknown[] }>('GET', '/api/photos?limit=100')).data.photos ?? []).length;
    const tempLeft = async () =>
      (await fs.readdir(path.join(d.dataDir, 'gallery'))).filter((n) => n.startsWith('.pinhole-tmp-'));
    const capture = () =>
      d.api<{ photo?: { id: string }; error?: { code: string; message: string } }>('POST', '/api/capture', {});
    const first = await capture();
    if (first.status !== 201) throw new Error(`capture before filling: ${first.status} ${first.raw.body.toString()}`);

    // Everything refused must leave the gallery as it was, and the preview must go on.
    const refusedPhase = async (label: string) => {
      const before = await photoCount();
      const codes: Record<string, number> = {};
      let message = '';
      for (let i = 0; i < 3; i++) {
        const r = await capture();
        codes[r.status] = (codes[r.status] ?? 0) + 1;
        if (r.status !== 507 || r.data.error?.code !== 'storage-full')
          v.add(`${label}: capture → ${r.status} ${r.raw.body.toString().slice(0, 200)} (expected 507 storage-full)`);
        message = r.data.error?.message ?? '';
      }
      const after = await photoCount();
      if (after !== before) v.add(`${label}: ${after - before} photos appeared while the disk was full`);
      const left = await tempLeft();
      if (left.length) v.add(`${label}: half-written capture left behind: ${left.join(', ')}`);
      const since = Date.now();
      await waitFor(`${label}: live preview while full`, () => w.firstLiveAfter(since) !== undefined, 10_000).catch(
        (e: unknown) => v.add(String(e)),
      );
      const h = await d.req('/api/health', { auth: false });
      if (h.status !== 200) v.add(`${label}: /api/health → ${h.status}`);
      return { statuses: codes, message };
    };
    const recoveredPhase = async (label: string) => {
      let r = await capture();
      if (r.status === 409) {
        await sleep(1000);
        r = await capture();
      }
      if (r.status !== 201 || !r.data.photo) {
        v.add(`${label}: capture after freeing space → ${r.status} ${r.raw.body.toString().slice(0, 200)}`);
        return false;
      }
      const f = await d.req(`/api/photos/${r.data.photo.id}/file`);
      await decodeJpeg(f.body).catch((e: unknown) =>
        v.add(`${label}: photo after freeing space is broken: ${String(e)}`),
      );
      return true;
    };

    // 1. The daemon's quota: storage.minFreeMB just below the free space, then 8 MB of other data arrive.
    const free = freeMB(d.dataDir);
    const minFree = Math.max(1, Math.floor(free) - 4);
    const put = await d.api('PUT', '/api/config', { storage: { minFreeMB: minFree } });
    if (put.status !== 200) throw new Error(`PUT minFreeMB → ${put.status} ${put.raw.body.toString()}`);
    const ballast = path.join(d.dataDir, 'ballast.bin');
    await fill(ballast, 8);
    figures.quota = {
      freeMBBefore: round(free),
      minFreeMB: minFree,
      freeMBAfterBallast: round(freeMB(d.dataDir)),
      ...(await refusedPhase('quota')),
    };
    await fs.rm(ballast, { force: true });
    (figures.quota as Record<string, unknown>).recovered = await recoveredPhase('quota');

    // 2. Really full (tmpfs only): no quota, the filesystem itself says ENOSPC.
    if (mounted) {
      await d.api('PUT', '/api/config', { storage: { minFreeMB: 0 } });
      const mb = await fill(ballast, 128);
      figures.enospc = { ballastMB: mb, freeMB: round(freeMB(d.dataDir), 2), ...(await refusedPhase('enospc')) };
      await fs.rm(ballast, { force: true });
      (figures.enospc as Record<string, unknown>).recovered = await recoveredPhase('enospc');
    }
    // Every listed photo is complete.
    const list = await d.api<{ photos: { id: string }[] }>('GET', '/api/photos?limit=100');
    for (const p of list.data.photos) {
      const f = await d.req(`/api/photos/${p.id}/file`);
      await decodeJpeg(f.body).catch((e: unknown) => v.add(`photo ${p.id} is broken: ${String(e)}`));
    }
    figures.photos = list.data.photos.length;
    if (!d.alive()) v.add('daemon died');
    if (!v.ok)
      figures.logTail = d.output
        .split('\n')
        .filter((l) => / (WARN|ERROR) /.test(l) && !/camera process failed/.test(l))
        .slice(-8);
  } finally {
    viewer.w?.close();
    await d.cleanup();
  }
  return { ok: v.ok, violations: v.list, ...figures, seconds: round((Date.now() - t0) / 1000) };
}

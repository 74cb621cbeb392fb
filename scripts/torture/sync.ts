import { existsSync, promises as fs, readdirSync } from 'node:fs';
import path from 'node:path';
import { rng, round, type ScenarioOptions, sleep, TortureDaemon, Violations, waitFor } from './harness.js';

interface SyncStatus {
  targets: { name: string; queued: number; uploading: number; done: number; failed: number }[];
}

function walk(dir: string, rel = ''): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) out.push(...walk(path.join(dir, e.name), r));
    else out.push(r);
  }
  return out;
}

/**
 * Power cuts during uploads: photos are taken and synced to a local-folder target (uploaded under a temporary name,
 * then renamed) with a bandwidth limit so rclone is mid-transfer most of the time; the daemon is SIGKILLed at a
 * random moment and restarted. After every restart and at the end: no final name holds a partial or foreign file,
 * every confirmed photo is in the gallery, and once the queue drains every photo is at the destination exactly once.
 */
export async function run(opts: ScenarioOptions): Promise<Record<string, unknown>> {
  const cycles = Number(opts.cycles ?? (opts.quick ? 8 : 50));
  const seed = Number(opts.seed ?? Date.now() % 1_000_000);
  const r = rng(seed);
  const v = new Violations();
  const dest = path.join(await fs.mkdtemp('/tmp/pinhole-torture-sync-'), 'dest');
  // rclone at nice 0: power-cut safety is checked here, not priority, and a nice-19 rclone on a machine shared with
  // other jobs barely runs.
  const d = new TortureDaemon({
    storageYaml: `  minFreeMB: 0\nsync:\n  rcloneConfig: ./no-rclone.conf\n  nice: 0\n  bwlimit: 120k\n  transfers: 2\n  retryInitialSeconds: 1\n  retryMaxSeconds: 2\n  targets:\n    - { name: usb, remote: ${dest} }`,
  });
  const acked = new Set<string>();
  const stats = { cyclesSurvived: 0, killedWhileUploading: 0, captures: 0, partialAtFinal: 0, foreignAtFinal: 0 };
  const gallerySize = async (id: string) => (await fs.stat(path.join(d.dataDir, 'gallery', id, 'photo.jpg'))).size;
  const checkFinals = async (when: string) => {
    for (const f of walk(dest).filter((f) => !f.startsWith('.pinhole-incoming'))) {
      const id = f.replace(/\.jpg$/, '');
      if (!acked.has(id) && !existsSync(path.join(d.dataDir, 'gallery', id))) {
        stats.foreignAtFinal++;
        v.add(`${when}: ${f} at the destination is no photo of the gallery`);
        continue;
      }
      const size = (await fs.stat(path.join(dest, f))).size;
      const want = await gallerySize(id).catch(() => -1);
      if (want >= 0 && size !== want) {
        stats.partialAtFinal++;
        v.add(`${when}: ${f} is ${size} bytes at the destination, ${want} in the gallery (partial)`);
      }
    }
  };
  const status = async () =>
    (await d.api<{ targets: SyncStatus['targets']; running: boolean }>('GET', '/api/sync')).data;
  const t0 = Date.now();
  try {
    await fs.mkdir(dest, { recursive: true });
    // Generous: the machine may be saturated, and a start that is slow is not what this scenario checks.
    await d.start(90_000);
    for (let c = 0; c < cycles; c++) {
      const shots = 1 + Math.floor(r() * 2);
      for (let i = 0; i < shots; i++) {
        stats.captures++;
        const res = await d.api<{ photo: { id: string } }>('POST', '/api/capture', {});
        if (res.status === 201) acked.add(res.data.photo.id);
      }
      await sleep(100 + Math.floor(r() * 1500));
      if ((await status().catch(() => undefined))?.running) stats.killedWhileUploading++;
      await d.kill('SIGKILL');
      await checkFinals(`cycle ${c} after the cut`);
      await d.start(90_000);
      for (const id of acked)
        if (!existsSync(path.join(d.dataDir, 'gallery', id, 'photo.jpg')))
          v.add(`cycle ${c}: confirmed photo ${id} lost`);
      stats.cyclesSurvived++;
    }
    // Drain, then the final checks: everything once, complete, nothing left in the incoming folder.
    const final = await waitFor(
      'the sync queue to drain',
      async () => {
        const s = await status();
        const t = s.targets[0];
        return t.queued + t.uploading + t.failed === 0 && !s.running ? t : undefined;
      },
      Math.max(60_000, acked.size * 3000),
      250,
    );
    await checkFinals('after the drain');
    const finals = walk(dest)
      .filter((f) => !f.startsWith('.pinhole-incoming'))
      .sort();
    const gallery = readdirSync(path.join(d.dataDir, 'gallery')).filter((n) => /^p\d{8}-[0-9a-f]{8}$/.test(n));
    const want = gallery.map((id) => `${id}.jpg`).sort();
    v.check(
      JSON.stringify(finals) === JSON.stringify(want),
      `destination ${finals.length} files, gallery ${want.length} photos`,
    );
    v.check(final.done === gallery.length, `done ${final.done}, gallery ${gallery.length}`);
    // A fresh start purges what a cut upload left in the incoming folder before anything else.
    await d.kill('SIGTERM');
    await d.start(90_000);
    await waitFor(
      'the incoming folder to be empty',
      () => walk(path.join(dest, '.pinhole-incoming')).length === 0,
      30_000,
      250,
    ).catch(() => v.add(`incoming folder not emptied: ${walk(path.join(dest, '.pinhole-incoming')).join(', ')}`));
    return {
      ok: v.ok,
      seed,
      ...stats,
      photos: gallery.length,
      confirmed: acked.size,
      atDestination: finals.length,
      done: final.done,
      lost: [...acked].filter((id) => !gallery.includes(id)).length,
      seconds: round((Date.now() - t0) / 1000),
      violations: v.list,
    };
  } finally {
    await d.cleanup();
    await fs.rm(path.dirname(dest), { recursive: true, force: true });
  }
}

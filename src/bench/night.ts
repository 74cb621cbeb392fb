import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { writeBigBurst } from '../../test/fixtures/night/big.js';
import { decodeToV } from '../filters/raw-image.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The repo root (dist/src/bench → ../../..) and ../shared beside it. */
async function roots(): Promise<{ repo: string; shared: string }> {
  for (const up of ['../..', '../../..']) {
    const repo = path.resolve(here, up);
    const shared = path.resolve(repo, '..', 'shared');
    if (await fs.stat(path.join(repo, 'dist/src/cli/main.js')).catch(() => undefined)) return { repo, shared };
  }
  throw new Error('run `npm run build` first (dist/src/cli/main.js)');
}

/**
 * Night merge (issue 16): an N-frame hand-held burst of noisy JPEGs (12 MP × 8, or 2 MP × 4 with --quick) merged by
 * `pinhole night` in a child process under /usr/bin/time -v (peak RSS of the whole process), against decoding the
 * same frames alone (sharp → the `.v` files the merge reads back) in this process in the same run:
 * ms per megapixel per frame, merge / decode ratio, peak RSS.
 */
export async function run(opts: { quick: boolean }): Promise<Record<string, unknown>> {
  sharp.cache(false);
  const { repo, shared } = await roots();
  const W = opts.quick ? 1600 : 4056;
  const H = opts.quick ? 1200 : 3040;
  const N = opts.quick ? 4 : 8;
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-bench-night-'));
  try {
    const frames = Array.from({ length: N }, (_v, i) => path.join(work, `f${i}.jpg`));
    await writeBigBurst(path.join(shared, 'images/astronaut.png'), frames, { width: W, height: H });
    const mp = (W * H) / 1e6;
    const t0 = performance.now();
    for (const f of frames) {
      const v = path.join(work, 'decode.v');
      await decodeToV(f, v);
      await fs.rm(v, { force: true });
    }
    const decodeMs = performance.now() - t0;
    const out = path.join(work, 'night.jpg');
    const r = spawnSync(
      '/usr/bin/time',
      ['-v', process.execPath, path.join(repo, 'dist/src/cli/main.js'), 'night', out, ...frames, '--json'],
      { encoding: 'utf8', env: { ...process.env, PINHOLE_LOG_LEVEL: 'warn', PINHOLE_CONFIG: '' } },
    );
    if (r.status !== 0) throw new Error(`pinhole night failed: ${r.stderr}`);
    const j = JSON.parse(r.stdout) as { ms: number; rejectedTiles: number };
    const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1]);
    const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;
    return {
      width: W,
      height: H,
      frames: N,
      mergeMs: j.ms,
      msPerMegapixelPerFrame: round(j.ms / (mp * N)),
      decodeOnlyMs: Math.round(decodeMs),
      decodeMsPerMegapixelPerFrame: round(decodeMs / (mp * N)),
      mergeOverDecode: round(j.ms / decodeMs, 2),
      peakRssMB: Math.round(kb / 1024),
      rejectedTiles: j.rejectedTiles,
    };
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

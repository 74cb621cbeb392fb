/**
 * The README's night-mode picture: a synthetic hand-held burst (8 frames, high signal-dependent noise, sub-pixel
 * shifts and ≤ 1° rotation, a moving disc) made from ../shared/images/astronaut.png (public domain, see
 * ../shared/images/SOURCES.md) by the night test fixtures, merged by `pinhole night`; left half the reference frame,
 * right half the merge. `npm run build && node dist/scripts/night-doc-image.js [OUT]`.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { loadScene, makeBurst, writePng } from '../test/fixtures/night/synth.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = path.resolve(process.argv[2] ?? path.join(repo, 'web-ui/public/docs/night-before-after.jpg'));
const source = path.resolve(repo, '../shared/images/astronaut.png');
const work = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-night-doc-'));
try {
  const scene = await loadScene(source, { maxSide: 1024 });
  const burst = makeBurst(scene, { source, frames: 8, noise: 'high', seed: 16 });
  const frames: string[] = [];
  for (const [i, f] of burst.frames.entries()) {
    frames.push(path.join(work, `f${i}.png`));
    await writePng(f, frames[i]);
  }
  const merged = path.join(work, 'night.png');
  const r = spawnSync(process.execPath, [path.join(repo, 'dist/src/cli/main.js'), 'night', merged, ...frames], {
    encoding: 'utf8',
    env: { ...process.env, PINHOLE_CONFIG: '', PINHOLE_LOG_LEVEL: 'warn' },
  });
  if (r.status !== 0) throw new Error(`pinhole night failed: ${r.stderr}`);
  process.stderr.write(r.stdout);
  const { width: w = 0, height: h = 0 } = await sharp(frames[0]).metadata();
  const half = Math.floor(w / 2);
  const left = await sharp(frames[0]).extract({ left: 0, top: 0, width: half, height: h }).toBuffer();
  const right = await sharp(merged)
    .extract({ left: half, top: 0, width: w - half, height: h })
    .toBuffer();
  const divider = await sharp({ create: { width: 2, height: h, channels: 3, background: '#ffffff' } })
    .png()
    .toBuffer();
  await fs.mkdir(path.dirname(out), { recursive: true });
  await sharp({ create: { width: w, height: h, channels: 3, background: '#000000' } })
    .composite([
      { input: left, left: 0, top: 0 },
      { input: right, left: half, top: 0 },
      { input: divider, left: half - 1, top: 0 },
    ])
    .jpeg({ quality: 85, mozjpeg: true })
    .toFile(out);
  process.stderr.write(`wrote ${out} (${(await fs.stat(out)).size} bytes)\n`);
} finally {
  await fs.rm(work, { recursive: true, force: true });
}

/**
 * The README's scan-mode picture: a synthetic old print made from ../shared/images/astronaut.png (public domain, see
 * ../shared/images/SOURCES.md) by the scan test fixtures — faded towards yellow, scratched and dusty, lying at an
 * angle on a wooden table — restored by `pinhole scan` with every step; left the photo as taken, right the result.
 * `npm run build && node dist/scripts/scan-doc-image.js [OUT]`.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { addDamage, fade, loadRgb, makeScene, writePng } from '../test/fixtures/scan/synth.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = path.resolve(process.argv[2] ?? path.join(repo, 'web-ui/public/docs/scan-before-after.jpg'));
const shared = path.resolve(repo, '../shared');
const work = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-scan-doc-'));
try {
  const photo = await loadRgb(path.join(shared, 'images/astronaut.png'), 480);
  const old = addDamage(fade(photo), 16).image;
  const other = await loadRgb(path.join(shared, 'images/two_people.jpg'), 520);
  const scene = await makeScene([old], 1004, [other], { width: 1024, height: 768, fill: [0.4, 0.5] });
  const taken = path.join(work, 'taken.png');
  await writePng(scene.image, taken);
  const restored = path.join(work, 'scan.png');
  const r = spawnSync(
    process.execPath,
    [
      path.join(repo, 'dist/src/cli/main.js'),
      'scan',
      taken,
      restored,
      '--json',
      '--models',
      path.join(shared, 'models'),
    ],
    { encoding: 'utf8', env: { ...process.env, PINHOLE_CONFIG: '', PINHOLE_LOG_LEVEL: 'warn' } },
  );
  if (r.status !== 0) throw new Error(`pinhole scan failed: ${r.stderr}`);
  process.stderr.write(`${r.stdout}\n`);
  const H = 480;
  const left = await sharp(taken).resize({ height: H }).toBuffer({ resolveWithObject: true });
  const right = await sharp(restored).resize({ height: H }).toBuffer({ resolveWithObject: true });
  const gap = 8;
  const W = left.info.width + gap + right.info.width;
  await fs.mkdir(path.dirname(out), { recursive: true });
  await sharp({ create: { width: W, height: H, channels: 3, background: '#ffffff' } })
    .composite([
      { input: left.data, left: 0, top: 0 },
      { input: right.data, left: left.info.width + gap, top: 0 },
    ])
    .jpeg({ quality: 80, mozjpeg: true })
    .toFile(out);
  process.stderr.write(`wrote ${out} (${(await fs.stat(out)).size} bytes)\n`);
} finally {
  await fs.rm(work, { recursive: true, force: true });
}

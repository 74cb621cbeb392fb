import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as h from '../filters/helpers.js';
import { writeBigBurst } from '../fixtures/night/big.js';

/**
 * Issue 16 memory goal: the whole `pinhole night` process merging 8 frames of 4056×3040 (the HQ camera's 12.3 MP,
 * hand-held: shifted and turned, noisy JPEGs) peaks at ≤ 256 MB RSS. Spawns the built CLI under /usr/bin/time -v
 * (largest max RSS of the process tree), like test/filters/memory.test.ts. Slow by nature.
 */
describe('memory of pinhole night on 12 MP × 8', () => {
  const t = h.tempDir();
  const frames = Array.from({ length: 8 }, (_v, i) => path.join(t.dir, `f${i}.jpg`));
  beforeAll(async () => {
    if (!existsSync(path.join(h.repoRoot, 'dist/src/cli/main.js')))
      execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: h.repoRoot, stdio: 'pipe' });
    await writeBigBurst(h.astronaut, frames);
  }, 600_000);
  afterAll(() => t.cleanup());

  it('peaks at ≤ 256 MB and writes a full-size merge', async () => {
    const out = path.join(t.dir, 'night.jpg');
    const r = spawnSync(
      '/usr/bin/time',
      ['-v', process.execPath, path.join(h.repoRoot, 'dist/src/cli/main.js'), 'night', out, ...frames, '--json'],
      { encoding: 'utf8', env: { ...process.env, PINHOLE_LOG_LEVEL: 'warn', PINHOLE_CONFIG: '' } },
    );
    expect(r.status, r.stderr).toBe(0);
    const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1]);
    const j = JSON.parse(r.stdout) as { frames: number; rejectedTiles: number; ms: number };
    console.log(
      `pinhole night 4056x3040 x8: max RSS ${(kb / 1024).toFixed(0)} MB, ${j.ms} ms, ${j.rejectedTiles} tiles rejected`,
    );
    expect(kb).toBeGreaterThan(0);
    expect(kb / 1024).toBeLessThanOrEqual(256);
    expect(j.frames).toBe(8);
    const meta = await sharp(out).metadata();
    expect([meta.width, meta.height]).toEqual([4056, 3040]);
  }, 900_000);
});

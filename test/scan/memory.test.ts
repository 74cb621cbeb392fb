import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as h from '../filters/helpers.js';
import * as s from '../fixtures/scan/synth.js';

/**
 * Issue 16 memory goal: the whole `pinhole scan` process on a 12 MP photo (4056×3040, the HQ camera's full size: a
 * synthetic print on a table, enlarged) with every step — crop, scratches, fade, IRCNN denoise, faces through
 * Real-ESRGAN — peaks at ≤ 256 MB RSS. Spawns the built CLI under /usr/bin/time -v (the largest max RSS of the
 * process and its re-exec'd child, as the kernel keeps it), like test/night/memory.test.ts. Slow by nature.
 */
describe('memory of pinhole scan on 12 MP', () => {
  const t = h.tempDir();
  const big = path.join(t.dir, 'print-12mp.jpg');
  beforeAll(async () => {
    if (!existsSync(path.join(h.repoRoot, 'dist/src/cli/main.js')))
      execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: h.repoRoot, stdio: 'pipe' });
    const photos = [await s.loadRgb(h.astronaut, 420), await s.loadRgb(h.twoPeople, 520)];
    const sc = await s.makeScene(photos, 1002, photos);
    await sharp(sc.image.data, { raw: { width: sc.image.width, height: sc.image.height, channels: 3 } })
      .resize(4056, 3040, { kernel: 'lanczos3' })
      .jpeg({ quality: 92 })
      .toFile(big);
  }, 300_000);
  afterAll(() => t.cleanup());

  it('all steps peak at ≤ 256 MB and write the flattened print', async () => {
    const out = path.join(t.dir, 'scan.jpg');
    const r = spawnSync(
      '/usr/bin/time',
      [
        '-v',
        process.execPath,
        path.join(h.repoRoot, 'dist/src/cli/main.js'),
        'scan',
        big,
        out,
        '--json',
        '--models',
        h.modelsDir,
      ],
      { encoding: 'utf8', env: { ...process.env, PINHOLE_LOG_LEVEL: 'warn', PINHOLE_CONFIG: '' } },
    );
    expect(r.status, r.stderr).toBe(0);
    const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1]);
    const j = JSON.parse(r.stdout) as { corners: unknown; steps: Record<string, unknown>; ms: number };
    console.log(`pinhole scan 4056x3040, all steps: max RSS ${(kb / 1024).toFixed(1)} MB, ${j.ms} ms`);
    expect(kb).toBeGreaterThan(0);
    expect(kb / 1024).toBeLessThanOrEqual(256);
    // every step ran (none skipped for a missing model)
    expect(Object.keys(j.steps).sort()).toEqual(['crop', 'denoise', 'faces', 'fade', 'scratches']);
    for (const v of Object.values(j.steps)) expect(v).not.toHaveProperty('skipped');
    expect(j.corners).not.toBeNull();
    const meta = await sharp(out).metadata();
    expect(meta.width).toBeGreaterThan(1000);
  }, 900_000);
});

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { unitMallocEnv } from '../../src/util/unit-env.js';
import { repoRoot } from '../helpers/tmp.js';
import { astronaut, modelsDir, twoPeople } from './helpers.js';

beforeAll(() => {
  if (!existsSync(path.join(repoRoot, 'dist/src/analysis/analyzer.js')))
    spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, stdio: 'inherit' });
}, 120_000);

/**
 * As the daemon runs on the small-board profile (systemd's malloc settings, arena off, at most 2 sessions): the
 * face analysis models load for the photos, and once they unload after their idle time the process is back within
 * 10 MB of where it was. The baseline is taken with YuNet already loaded (libonnxruntime's pages belong to the
 * daemon whatever analysis does) and libvips warmed up.
 */
describe('analysis memory', () => {
  test('sessions load on demand, stay within the cap, and unload back to within 10 MB of idle', () => {
    const dist = (p: string) => JSON.stringify(path.join(repoRoot, 'dist/src', p));
    const script = `
      import { readFileSync } from 'node:fs';
      import sharp from 'sharp';
      import { loadFaceDetector } from ${dist('vision/face-model.js')};
      import { FaceAnalyzer, decodeForAnalysis } from ${dist('analysis/analyzer.js')};
      import { dirResolver } from ${dist('models/resolver.js')};
      sharp.cache(false);
      const mem = () => Number(/VmRSS:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
      const session = { threads: 2, optimization: 'all', memArena: false };
      const det = await loadFaceDetector({ model: 'yunet_s_dynamic', modelsDir: ${JSON.stringify(modelsDir)}, ...session });
      const files = [${JSON.stringify(astronaut)}, ${JSON.stringify(twoPeople)}];
      const faces = [];
      for (const f of files) faces.push((await det.detectImage(f, { maxSide: 640, threshold: 0.6 })).faces);
      for (let i = 0; i < 10; i++) for (const f of files) await decodeForAnalysis(f, 2048);
      gc();
      const base = mem();
      const an = new FaceAnalyzer({ resolve: dirResolver(${JSON.stringify(modelsDir)}), session, maxSessions: 2, idleMs: 300, maxSide: 2048 });
      let peak = 0;
      let maxResident = 0;
      const frame = (await decodeForAnalysis(files[1], 640)).img;
      for (let r = 0; r < 6; r++) {
        for (let k = 0; k < files.length; k++) await an.analyzeImage(files[k], faces[k], { expression: true, descriptor: true });
        await an.pose(frame);
        maxResident = Math.max(maxResident, an.status().resident);
        peak = Math.max(peak, mem() - base);
      }
      await new Promise((r) => setTimeout(r, 1000));
      gc();
      console.log(JSON.stringify({ base, peak, after: mem() - base, resident: an.status().resident, maxResident, loads: an.loads }));
      await an.close();
      await det.release();
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 240_000,
      env: { ...process.env, ...unitMallocEnv() },
    });
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
    console.log(
      `analysis memory: base ${m.base.toFixed(0)} MB, peak +${m.peak.toFixed(1)} MB, after unload ${m.after.toFixed(1)} MB`,
    );
    expect(m.maxResident).toBe(2);
    expect(m.resident).toBe(0);
    // expression + descriptor, then pose evicting one of them: three models, each reloaded as the cap demands
    expect(m.loads).toBeGreaterThanOrEqual(3);
    expect(m.peak).toBeLessThan(80);
    expect(m.after).toBeLessThan(10);
  }, 300_000);
});

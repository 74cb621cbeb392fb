import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { appRoot } from '../config/locate.js';
import { decodeToV } from '../filters/raw-image.js';
import { loadCv } from '../scan/cv.js';
import { detectPrint } from '../scan/quad.js';

/**
 * `npm run bench` section `scan`: corner accuracy on the full 100 synthetic prints (20 with --quick), the cost of
 * loading opencv-js (time and RSS, in a fresh process), and a 12 MP scan through the CLI in its own process: wall
 * time per megapixel, relative to decoding the same JPEG alone (measured in the same run), and peak RSS of the whole
 * process (/usr/bin/time's maximum resident set size: node, sharp, onnxruntime and the WASM heap together).
 */
type Synth = typeof import('../../test/fixtures/scan/synth.js');

export async function run(opts: { quick: boolean }): Promise<Record<string, unknown>> {
  const root = appRoot();
  const shared = path.resolve(root, '../shared');
  const s = (await import(pathToFileURL(path.join(root, 'dist/test/fixtures/scan/synth.js')).href)) as Synth;
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-bench-scan-'));
  try {
    const photos = [
      await s.loadRgb(path.join(shared, 'images/astronaut.png'), 420),
      await s.loadRgb(path.join(shared, 'images/two_people.jpg'), 520),
    ];
    const bgs = [
      await s.loadRgb(path.join(shared, 'images/astronaut.png')),
      await s.loadRgb(path.join(shared, 'images/two_people.jpg')),
    ];
    const cv = await loadCv();
    const cases = opts.quick ? 20 : 100;
    const errors: number[] = [];
    let detectMs = 0;
    for (let i = 0; i < cases; i++) {
      const sc = await s.makeScene(photos, 1000 + i, bgs);
      const t0 = performance.now();
      const d = detectPrint(cv, sc.image);
      detectMs += performance.now() - t0;
      errors.push(d ? s.cornerError(d.corners, sc.corners, sc.image.width, sc.image.height) : 1);
    }
    const within = errors.filter((e) => e <= 0.01).length;
    const corners = {
      cases,
      within1pct: within,
      rate: within / cases,
      failures: errors.flatMap((e, i) => (e > 0.01 ? [{ seed: 1000 + i, errorPct: Math.round(e * 1e4) / 100 }] : [])),
      detectMsPerCase: Math.round(detectMs / cases),
    };
    const cvLoad = JSON.parse(
      (
        await timed(process.execPath, [
          '--input-type=module',
          '-e',
          `import { loadCv } from ${JSON.stringify(pathToFileURL(path.join(root, 'dist/src/scan/cv.js')).href)};
           const r0 = process.memoryUsage().rss; const t = performance.now(); await loadCv();
           console.log(JSON.stringify({ ms: Math.round(performance.now() - t), rssBeforeMB: Math.round(r0 / 1048576), rssAfterMB: Math.round(process.memoryUsage().rss / 1048576) }));`,
        ])
      ).stdout,
    );
    // 12 MP (4056×3040, the HQ camera's full size): a synthetic scene enlarged, saved as JPEG.
    const sc = await s.makeScene(photos, 1002, bgs);
    const big = path.join(work, 'big.jpg');
    await sharp(sc.image.data, { raw: { width: sc.image.width, height: sc.image.height, channels: 3 } })
      .resize(4056, 3040, { kernel: 'lanczos3' })
      .jpeg({ quality: 92 })
      .toFile(big);
    const mp = (4056 * 3040) / 1e6;
    const d0 = performance.now();
    await decodeToV(big, path.join(work, 'decoded.v'));
    const decodeMs = performance.now() - d0;
    await fs.rm(path.join(work, 'decoded.v'));
    const cli = path.join(root, 'dist/src/cli/main.js');
    const runs: Record<string, unknown> = {};
    const stepSets = opts.quick
      ? ['crop,scratches,fade']
      : ['crop,scratches,fade', 'crop,scratches,fade,denoise,faces'];
    for (const steps of stepSets) {
      const out = path.join(work, 'out.jpg');
      const r = await timed('/usr/bin/time', [
        '-f',
        'maxrss_kb=%M',
        process.execPath,
        cli,
        'scan',
        big,
        out,
        '--steps',
        steps,
        '--json',
        '--models',
        path.join(shared, 'models'),
      ]);
      const j = JSON.parse(r.stdout || '{}');
      const rss = Number(/maxrss_kb=(\d+)/.exec(r.stderr)?.[1] ?? 0);
      runs[steps] = {
        code: r.code,
        ms: j.ms,
        msPerMP: Math.round(j.ms / mp),
        relativeToDecode: Math.round((j.ms / decodeMs) * 10) / 10,
        peakRssMB: Math.round(rss / 1024),
        outSize: j.steps?.crop ? [j.steps.crop.width, j.steps.crop.height] : undefined,
      };
    }
    return {
      corners,
      opencvLoad: cvLoad,
      scan12mp: { megapixels: Math.round(mp * 10) / 10, decodeMs: Math.round(decodeMs), runs },
    };
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

function timed(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b) => {
      stdout += b;
    });
    p.stderr.on('data', (b) => {
      stderr += b;
    });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

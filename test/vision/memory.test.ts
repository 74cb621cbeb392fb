import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { unitMallocEnv } from '../../src/util/unit-env.js';
import { cliPath, repoRoot, sharedDir, tempDir } from '../helpers/tmp.js';

const models = path.join(sharedDir, 'models');
const images = path.join(sharedDir, 'images');

beforeAll(() => {
  if (!existsSync(cliPath)) spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, stdio: 'inherit' });
}, 120_000);

describe('memory', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => {
    t = tempDir('pinhole-detect-mem-');
  });
  afterEach(() => t.cleanup());

  test('pinhole detect on 10 camera-size (8 MP) photos stays under 200 MB peak RSS', async () => {
    const files: string[] = [];
    for (let i = 0; i < 10; i++) {
      const f = path.join(t.dir, `photo${i}.jpg`);
      await sharp(path.join(images, i % 2 ? 'astronaut.png' : 'two_people.jpg'))
        .resize(3280, 2464, { fit: 'fill' })
        .modulate({ brightness: 0.8 + i * 0.04 })
        .jpeg({ quality: 90 })
        .toFile(f);
      files.push(f);
    }
    const config = path.join(t.dir, 'config.yaml');
    writeFileSync(config, `models:\n  dir: ${models}\n`);
    // The child reports its own peak RSS as it exits. VmHWM, not getrusage: Linux carries the forking parent's
    // high-water mark (this vitest worker's) into a child's ru_maxrss across exec.
    const hookSrc = `import { readFileSync } from 'node:fs';
      process.on('exit', () => process.stderr.write('maxrss_kb=' + /VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1] + '\\n'));`;
    const hook = `data:text/javascript,${encodeURIComponent(hookSrc)}`;
    const r = spawnSync(
      process.execPath,
      ['--import', hook, cliPath, 'detect', '--json', '--config', config, ...files],
      { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(10);
    const kb = Number(/maxrss_kb=(\d+)/.exec(r.stderr)?.[1]);
    expect(kb).toBeGreaterThan(10_000);
    expect(kb / 1024).toBeLessThan(200);
  }, 120_000);

  // As the daemon runs under systemd: MALLOC_MMAP_THRESHOLD_ set, so vision.memArena false takes effect (see onnx.ts),
  // and no --expose-gc: the detector bounds the dead output copies itself (src/util/young-garbage.ts), so samples are
  // taken without forcing a collection. Measured here: total RSS grows ~23 MB, of which ~19 MB are libonnxruntime's
  // code pages (file-backed, clean, shared with the filter sessions); before the detector bounded its garbage it
  // was ~45 MB.
  test('loading the detector and running it on preview frames: RSS grows by ≤ 40 MB', () => {
    const script = `
      import { readFileSync } from 'node:fs';
      import sharp from 'sharp';
      import { loadFaceDetector } from ${JSON.stringify(path.join(repoRoot, 'dist/src/vision/face-model.js'))};
      sharp.cache(false);
      const mem = () => {
        const s = readFileSync('/proc/self/status', 'utf8');
        const kb = (k) => Number.parseInt(s.slice(s.indexOf(k + ':') + k.length + 1), 10);
        return { total: kb('VmRSS') / 1024, anon: kb('RssAnon') / 1024 };
      };
      const frame = await sharp(${JSON.stringify(path.join(images, 'two_people.jpg'))}).resize(640, 480, { fit: 'fill' }).jpeg().toBuffer();
      // the daemon decodes and resizes JPEGs with sharp anyway (thumbnails, gallery): warm libvips up first so its
      // thread pool is not counted as detector memory
      for (let i = 0; i < 20; i++) await sharp(frame).resize({ width: 640, height: 640, fit: 'inside' }).removeAlpha().toColourspace('srgb').raw().toBuffer();
      const before = mem();
      const det = await loadFaceDetector({ model: 'yunet_s_dynamic', modelsDir: ${JSON.stringify(models)}, threads: 2, optimization: 'all', memArena: false, inputSize: { width: 640, height: 480 } });
      const samples = [];
      for (let i = 1; i <= 150; i++) {
        await det.detectImage(frame, { maxSide: 640, threshold: 0.6 });
        if (i % 30 === 0) {
          const m = mem();
          samples.push({ total: m.total - before.total, anon: m.anon - before.anon });
        }
      }
      console.log(JSON.stringify({ samples }));
    `;
    const env = { ...process.env, ...unitMallocEnv() };
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: repoRoot,
      env,
      encoding: 'utf8',
      // A saturated machine (stress-ng beside the suite) took over 170 s for the 150 detections; the bound is on
      // memory, not time. (With one intra-op thread instead of the daemon's two the anonymous growth came out at
      // 15 MB on an idle machine: the test keeps the daemon's setting.)
      timeout: 400_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const { samples } = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
      samples: { total: number; anon: number }[];
    };
    expect(samples).toHaveLength(5);
    // steady state: the median of five samples (single samples swing by a few MB with glibc's heap); the anonymous
    // part can come out below the baseline, as the detector's collections also free garbage from before it loaded
    const median = (k: 'total' | 'anon') => samples.map((x) => x[k]).sort((a, b) => a - b)[2];
    const msg = `growth samples (MB): ${samples.map((x) => `${x.total.toFixed(1)}/${x.anon.toFixed(1)}`).join(' ')} (total/anon)`;
    console.log(`detector memory ${msg}`);
    // the session's code and weights must show: a measurement of nothing would pass the bounds below
    expect(median('total'), msg).toBeGreaterThan(5);
    expect(median('total'), msg).toBeLessThanOrEqual(40);
    expect(median('anon'), msg).toBeLessThanOrEqual(12);
  }, 420_000);
});

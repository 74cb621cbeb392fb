import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { descriptorDistance } from '../../src/analysis/descriptor.js';
import { runCliSync } from '../helpers/daemon.js';
import { cliPath, repoRoot, tempDir } from '../helpers/tmp.js';
import { astronaut, modelsDir, twoPeople } from './helpers.js';

beforeAll(() => {
  if (!existsSync(cliPath)) spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, stdio: 'inherit' });
}, 120_000);

interface FaceLine {
  image: string;
  width: number;
  height: number;
  faces: {
    box: number[];
    score: number;
    landmarks: number[][];
    smile: number;
    expression: Record<string, number>;
    descriptor: number[];
  }[];
}

describe('pinhole faces / bench faces', () => {
  const t = tempDir('pinhole-faces-cli-');
  const config = path.join(t.dir, 'config.yaml');
  const data = path.join(t.dir, 'data');
  beforeAll(() => writeFileSync(config, `dataDir: ${data}\nmodels:\n  dir: ${modelsDir}\nvision:\n  threads: 1\n`));
  afterAll(() => t.cleanup());

  test('--json: the contract, one line per image, original pixels, descriptors always; bad files reported', async () => {
    const blank = path.join(t.dir, 'blank.png');
    await sharp({ create: { width: 300, height: 200, channels: 3, background: '#808080' } })
      .png()
      .toFile(blank);
    const bad = path.join(t.dir, 'bad.jpg');
    writeFileSync(bad, 'not a jpeg');
    const before = readdirSync(t.dir).sort();
    const r = runCliSync(['faces', '--json', '--config', config, twoPeople, bad, astronaut, blank], {
      timeoutMs: 120_000,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/pinhole faces: .*bad\.jpg: not a readable image/);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as FaceLine);
    expect(lines.map((l) => l.image)).toEqual([twoPeople, astronaut, blank]);
    for (const l of lines) expect(Object.keys(l)).toEqual(['image', 'width', 'height', 'faces']);
    const [two, astro, empty] = lines;
    expect([two.width, two.height]).toEqual([1126, 661]);
    expect(empty.faces).toEqual([]);
    expect(astro.faces).toHaveLength(1);
    expect(two.faces).toHaveLength(2);
    for (const f of [...two.faces, ...astro.faces]) {
      expect(Object.keys(f)).toEqual(['box', 'score', 'landmarks', 'smile', 'expression', 'descriptor']);
      expect(Object.keys(f.expression)).toEqual(['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']);
      expect(f.smile).toBe(f.expression.happy);
      expect(Object.values(f.expression).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
      expect(f.descriptor).toHaveLength(128);
      expect(f.landmarks).toHaveLength(5);
    }
    expect(astro.faces[0].smile).toBeGreaterThan(0.9);
    expect(descriptorDistance(two.faces[0].descriptor, two.faces[1].descriptor)).toBeGreaterThan(0.6);
    // boxes in original pixels: the same as `pinhole detect` gives
    const det = JSON.parse(runCliSync(['detect', '--json', '--config', config, twoPeople]).stdout) as FaceLine;
    expect(two.faces.map((f) => f.box)).toEqual(det.faces.map((f) => f.box));
    // a file tool: stores nothing
    expect(existsSync(data)).toBe(false);
    expect(readdirSync(t.dir).sort()).toEqual(before);
  }, 180_000);

  test('--max-side and the readable table', () => {
    const small = runCliSync(['faces', '--json', '--max-side', '320', '--config', config, astronaut]);
    expect(small.code, small.stderr).toBe(0);
    const l = JSON.parse(small.stdout) as FaceLine;
    expect([l.width, l.height]).toEqual([512, 512]);
    expect(l.faces[0].smile).toBeGreaterThan(0.9);
    const table = runCliSync(['faces', '--config', config, astronaut]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(
      /astronaut\.png {2}512x512 {2}1 face\n {2}#1 {2}score 0\.9\d+ {2}box .* {2}smile 1\.00 {2}happy {2}descriptor ok/,
    );
    expect(runCliSync(['faces', '--max-side', 'x', '--config', config, astronaut]).code).toBe(2);
    expect(runCliSync(['faces', '--config', config]).code).toBe(2);
  }, 120_000);

  test('bench faces --json: per step median_ms and inference_median_ms, like bench detect', () => {
    const r = runCliSync(
      ['bench', 'faces', '--json', '--threads', '1', '--runs', '2', '--config', config, astronaut, twoPeople],
      { timeoutMs: 240_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(Object.keys(res)).toEqual([
      'threads',
      'images',
      'faces',
      'expression',
      'descriptor',
      'mask',
      'pose',
      'mask_upscale',
    ]);
    expect(res).toMatchObject({ threads: 1, images: 2, faces: 3 });
    for (const k of ['expression', 'descriptor', 'mask', 'pose']) {
      expect(Object.keys(res[k])).toEqual(['n', 'median_ms', 'p90_ms', 'inference_median_ms']);
      expect(res[k].median_ms).toBeGreaterThan(0);
      expect(res[k].inference_median_ms).toBeGreaterThan(0);
    }
    expect(res.expression.n).toBe(6); // 3 faces × 2 runs
    expect(res.mask.n).toBe(4); // 2 frames × 2 runs
    expect(res.mask_upscale.megapixels).toBeGreaterThan(0.2);
  }, 300_000);
});

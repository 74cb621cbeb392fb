import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { runCliSync } from '../helpers/daemon.js';
import { cliPath, repoRoot, sharedDir, tempDir } from '../helpers/tmp.js';

const models = path.join(sharedDir, 'models');
const images = path.join(sharedDir, 'images');

beforeAll(() => {
  // `npm test` builds first; build here only when run on its own from a clean tree
  if (!existsSync(cliPath)) spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, stdio: 'inherit' });
}, 120_000);

describe('pinhole models / detect / bench detect', () => {
  let t: ReturnType<typeof tempDir>;
  let config: string;
  beforeEach(() => {
    t = tempDir('pinhole-detect-cli-');
    config = path.join(t.dir, 'config.yaml');
    writeFileSync(config, `models:\n  dir: ${models}\nvision:\n  threads: 1\n`);
  });
  afterEach(() => t.cleanup());

  test('models install --from copies and verifies; verify and list report; a corrupt file is caught', () => {
    const dir = path.join(t.dir, 'm');
    const r = runCliSync(['models', 'install', '--from', models, '--dir', dir, '--config', config]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // the seed models are not in ../shared/models' top level: they count as installed from Pinhole's own bundle
    expect(r.stdout).toContain('13 of 13 models installed and verified');
    expect(r.stdout).toMatch(/fer_mini_xception: bundled with Pinhole/);
    expect(readdirSync(dir).sort()).toEqual(
      readdirSync(models)
        .filter((f) => f.endsWith('.onnx'))
        .sort(),
    );
    expect(runCliSync(['models', 'verify', '--dir', dir, '--config', config]).code).toBe(0);
    const list = JSON.parse(runCliSync(['models', 'list', '--json', '--dir', dir, '--config', config]).stdout) as {
      models: { name: string; license: string; state: string }[];
    };
    expect(list.models).toHaveLength(13);
    expect(list.models.every((m) => m.state === 'present' && m.license)).toBe(true);

    const f = path.join(dir, 'yunet_s_dynamic.onnx');
    const bytes = readFileSync(f);
    bytes[100] ^= 1;
    writeFileSync(f, bytes);
    const v = runCliSync(['models', 'verify', '--dir', dir, '--json', '--config', config]);
    expect(v.code).toBe(1);
    const status = JSON.parse(v.stdout) as { models: { name: string; state: string; reason?: string }[] };
    expect(status.models.find((m) => m.name === 'yunet_s_dynamic')).toMatchObject({
      state: 'corrupt',
      reason: expect.stringMatching(/sha256/),
    });
    // the installer repairs it
    expect(runCliSync(['models', 'install', '--from', models, '--dir', dir, '--config', config]).code).toBe(0);
    expect(runCliSync(['models', 'verify', '--dir', dir, '--config', config]).code).toBe(0);
  }, 180_000);

  test('detect --json: one line per image in original pixels; bad files are errors, the others still answered', () => {
    const notImage = path.join(t.dir, 'notes.jpg');
    writeFileSync(notImage, 'this is not a jpeg');
    const r = runCliSync([
      'detect',
      '--json',
      '--config',
      config,
      path.join(images, 'two_people.jpg'),
      notImage,
      path.join(t.dir, 'absent.png'),
      path.join(images, 'astronaut.png'),
    ]);
    expect(r.code).toBe(1);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(Object.keys(lines[0])).toEqual(['image', 'width', 'height', 'faces', 'ms']);
    expect(lines[0]).toMatchObject({ image: path.join(images, 'two_people.jpg'), width: 1126, height: 661 });
    expect(lines[0].faces).toHaveLength(2);
    expect(Object.keys(lines[0].faces[0])).toEqual(['box', 'score', 'landmarks']);
    expect(lines[0].faces[0].landmarks).toHaveLength(5);
    expect(lines[1]).toMatchObject({ width: 512, height: 512 });
    expect(lines[1].faces[0].score).toBeGreaterThan(0.9);
    expect(r.stderr).toMatch(/notes\.jpg: not a readable image/);
    expect(r.stderr).toMatch(/absent\.png/);
  });

  test('detect flags: --model by name or path, --threshold, --max-side; a readable table without --json', () => {
    const img = path.join(images, 'two_people.jpg');
    const high = runCliSync(['detect', '--json', '--threshold', '0.99', '--config', config, img]);
    expect(JSON.parse(high.stdout).faces).toEqual([]);
    const fixed = runCliSync([
      'detect',
      '--json',
      '--model',
      path.join(models, 'yunet_s_320_320.onnx'),
      '--max-side',
      '320',
      '--threads',
      '2',
      '--config',
      config,
      img,
    ]);
    expect(fixed.code).toBe(0);
    expect(JSON.parse(fixed.stdout)).toMatchObject({ width: 1126, height: 661 });
    expect(JSON.parse(fixed.stdout).faces).toHaveLength(2);
    const table = runCliSync(['detect', '--model', 'yunet_n_dynamic', '--config', config, img]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/two_people\.jpg {2}1126x661 {2}2 faces/);
    expect(table.stdout).toMatch(/#2 {2}score 0\.\d{3} {2}box x=\d+ y=\d+ w=\d+ h=\d+/);
    expect(runCliSync(['detect', '--threshold', 'abc', '--config', config, img]).code).toBe(2);
  }, 120_000);

  test('detect with a missing model exits 3 with the reason', () => {
    const empty = path.join(t.dir, 'empty');
    mkdirSync(empty);
    writeFileSync(config, `models:\n  dir: ${empty}\n`);
    const r = runCliSync(['detect', '--config', config, path.join(images, 'astronaut.png')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/yunet_s_dynamic missing.*pinhole models install/);
  });

  test('bench detect --json prints exactly the contract keys', () => {
    const r = runCliSync([
      'bench',
      'detect',
      '--size',
      '320x240',
      '--threads',
      '1',
      '--runs',
      '3',
      '--json',
      '--config',
      config,
      path.join(images, 'astronaut.png'),
      path.join(images, 'two_people.jpg'),
    ]);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(Object.keys(res)).toEqual(['size', 'threads', 'n', 'median_ms', 'p90_ms', 'inference_median_ms']);
    expect(res).toMatchObject({ size: '320x240', threads: 1, n: 6 });
    for (const k of ['median_ms', 'p90_ms', 'inference_median_ms']) expect(res[k]).toBeGreaterThan(0);
    expect(res.p90_ms).toBeGreaterThanOrEqual(res.median_ms);
    expect(
      runCliSync(['bench', 'detect', '--size', 'big', '--json', '--config', config, path.join(images, 'astronaut.png')])
        .code,
    ).toBe(2);
  });
});

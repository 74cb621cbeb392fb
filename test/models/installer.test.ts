import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { httpsDownload, installModels } from '../../src/models/installer.js';
import {
  allModelStatus,
  bundledPath,
  loadManifest,
  type Manifest,
  modelStatus,
  resolveModel,
  sha256File,
} from '../../src/models/manifest.js';
import { isTempName } from '../../src/util/atomic-write.js';
import { shared } from '../vision/helpers.js';

const sharedModels = path.join(shared, 'models');

describe('sha256File', () => {
  test('equals the hash of the whole file at every chunk boundary: empty, 1 MiB exactly, and one byte over', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pinhole-sha-'));
    try {
      for (const size of [0, 1 << 20, (1 << 20) + 1, 3_000_001]) {
        const data = Buffer.alloc(size);
        for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 10)) & 0xff;
        const file = path.join(dir, `f${size}`);
        await writeFile(file, data);
        expect(await sha256File(file), `${size} bytes`).toBe(createHash('sha256').update(data).digest('hex'));
      }
      await expect(sha256File(path.join(dir, 'missing'))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('models/manifest.json', () => {
  test('lists every model in ../shared/models with matching size and sha256', async () => {
    const m = await loadManifest();
    const files = (await readdir(sharedModels)).filter((f) => f.endsWith('.onnx')).sort();
    const downloadable = m.models.filter((e) => !e.bundled);
    expect(downloadable.map((e) => e.file).sort()).toEqual(files);
    for (const e of downloadable) {
      expect(await sha256File(path.join(sharedModels, e.file))).toBe(e.sha256);
      expect(e.url).toMatch(/^https:\/\//);
      expect(e.license.length).toBeGreaterThan(2);
    }
  });

  test('the seed models are bundled: the copies under models/seed are the ../shared/models/seed files', async () => {
    const m = await loadManifest();
    const seed = (await readdir(path.join(sharedModels, 'seed'))).filter((f) => f.endsWith('.onnx')).sort();
    const bundled = m.models.filter((e) => e.bundled);
    expect(bundled.map((e) => e.file).sort()).toEqual(seed);
    for (const e of bundled) {
      expect(e.url).toBeUndefined();
      expect(e.bundled).toBe(`seed/${e.file}`);
      const own = bundledPath(e) as string;
      expect(await sha256File(own)).toBe(e.sha256);
      expect(await sha256File(path.join(sharedModels, 'seed', e.file))).toBe(e.sha256);
      expect(e.license.length).toBeGreaterThan(2);
      expect(e.attribution).toMatch(/Pinhole/);
    }
  });

  test('resolveModel: names and aliases map into the models folder, paths are used as given', async () => {
    expect(await resolveModel('yunet_s_dynamic', '/m')).toMatchObject({
      path: '/m/yunet_s_dynamic.onnx',
      entry: { name: 'yunet_s_dynamic' },
    });
    expect((await resolveModel('yunet_s_640_640', '/m')).path).toBe('/m/face_detection_yunet_2023mar.onnx');
    const p = await resolveModel('./x/yunet_s_320_320.onnx', '/m');
    expect(p.path).toBe(path.resolve('x/yunet_s_320_320.onnx'));
    expect(p.entry?.name).toBe('yunet_s_320_320');
    await expect(resolveModel('nope', '/m')).rejects.toThrow(/unknown model "nope"/);
  });
});

describe('installModels', () => {
  let tmp: string;
  let manifest: Manifest;
  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'pinhole-models-'));
    manifest = await loadManifest();
  });
  afterEach(() => rm(tmp, { recursive: true, force: true }));

  test('copies from a folder by sha256 whatever the file names, then is idempotent', async () => {
    const from = path.join(tmp, 'from');
    await mkdir(from);
    const yunet = manifest.models.filter((m) => m.kind === 'face-detection');
    // renamed copies plus a decoy with a right size but wrong content
    for (const [i, e] of yunet.entries())
      await copyFile(path.join(sharedModels, e.file), path.join(from, `renamed-${i}.bin`));
    await writeFile(path.join(from, 'decoy.onnx'), Buffer.alloc(yunet[0].size, 1));
    const dir = path.join(tmp, 'models');
    const res = await installModels({ dir, manifest, from, names: yunet.map((e) => e.name) });
    expect(res.map((r) => r.action)).toEqual(yunet.map(() => 'installed'));
    for (const s of await allModelStatus(dir, { verify: true })) {
      // the bundled seed models are usable from where Pinhole ships them
      expect(s.state).toBe(yunet.some((e) => e.name === s.name) || s.source === 'bundled' ? 'verified' : 'missing');
    }
    expect((await readdir(dir)).filter(isTempName)).toEqual([]);
    const again = await installModels({ dir, manifest, from, names: yunet.map((e) => e.name) });
    expect(again.map((r) => r.action)).toEqual(yunet.map(() => 'unchanged'));
  });

  test('bundled models: used in place (success, nothing copied), copied only from a DIR that holds them', async () => {
    const bundled = manifest.models.filter((m) => m.bundled);
    expect(bundled.map((m) => m.name).sort()).toEqual([
      'dlib_resnet_faceapi',
      'fer_mini_xception',
      'movenet_lightning',
      'selfie_seg',
      'selfie_seg_landscape',
    ]);
    const dir = path.join(tmp, 'models');
    // --from a folder with none of them (../shared/models keeps them in seed/): all "bundled", nothing failed
    const res = await installModels({ dir, manifest, from: sharedModels });
    for (const r of res)
      expect(r.action, r.name).toBe(bundled.some((b) => b.name === r.name) ? 'bundled' : 'installed');
    expect((await readdir(dir)).filter((f) => bundled.some((b) => b.file === f))).toEqual([]);
    // no --from: nothing is downloaded for them
    const asked: string[] = [];
    const dl = await installModels({
      dir,
      manifest,
      names: bundled.map((b) => b.name),
      download: async (url) => {
        asked.push(url);
        throw new Error('no network');
      },
    });
    expect(dl.map((r) => r.action)).toEqual(bundled.map(() => 'bundled'));
    expect(asked).toEqual([]);
    // a DIR that holds one (renamed): installed as a copy of its own
    const from = path.join(tmp, 'from');
    await mkdir(from);
    await copyFile(path.join(sharedModels, 'seed', 'fer_mini_xception.onnx'), path.join(from, 'x.bin'));
    const one = await installModels({ dir, manifest, from, names: ['fer_mini_xception'] });
    expect(one[0]).toMatchObject({ action: 'installed', source: path.join(from, 'x.bin') });
    const st = await modelStatus(bundled.find((b) => b.name === 'fer_mini_xception')!, dir, { verify: true });
    expect(st).toMatchObject({
      state: 'verified',
      source: 'installed',
      path: path.join(dir, 'fer_mini_xception.onnx'),
    });
  });

  test('a damaged copy of a bundled model in models.dir is reported, then repaired from the bundle', async () => {
    const entry = manifest.models.find((m) => m.name === 'selfie_seg')!;
    const dir = path.join(tmp, 'models');
    await mkdir(dir);
    await writeFile(path.join(dir, entry.file), Buffer.alloc(entry.size, 3));
    expect(await modelStatus(entry, dir, { verify: true })).toMatchObject({
      state: 'corrupt',
      reason: expect.stringMatching(/sha256/),
    });
    const res = await installModels({
      dir,
      manifest,
      from: path.join(tmp, 'nowhere-empty'),
      names: ['selfie_seg'],
    }).catch((e: Error) => e);
    // an unreadable --from folder is an error of the command, not of the model
    expect(res).toBeInstanceOf(Error);
    const fixed = await installModels({ dir, manifest, names: ['selfie_seg'] });
    expect(fixed[0]).toMatchObject({ action: 'installed', source: bundledPath(entry) });
    expect((await modelStatus(entry, dir, { verify: true })).state).toBe('verified');
  });

  test('a folder without the file: that model fails with the reason, the others install', async () => {
    const from = path.join(tmp, 'from');
    await mkdir(from);
    await copyFile(path.join(sharedModels, 'yunet_s_dynamic.onnx'), path.join(from, 'a.onnx'));
    const res = await installModels({
      dir: path.join(tmp, 'm'),
      manifest,
      from,
      names: ['yunet_s_dynamic', 'yunet_n_dynamic'],
    });
    expect(res[0].action).toBe('installed');
    expect(res[1]).toMatchObject({
      action: 'failed',
      error: expect.stringMatching(/no file with sha256 104ee26c71d5/),
    });
  });

  test('download: verified bytes are committed; a wrong hash or short body is refused and leaves nothing', async () => {
    const entry = manifest.models.find((m) => m.name === 'yunet_s_320_320')!;
    const good = await readFile(path.join(sharedModels, entry.file));
    const dir = path.join(tmp, 'm');
    const ok = await installModels({
      dir,
      manifest,
      names: [entry.name],
      download: async () => Readable.from([good.subarray(0, 1000), good.subarray(1000)]),
    });
    expect(ok[0]).toMatchObject({ action: 'installed', source: entry.url });
    expect((await modelStatus(entry, dir, { verify: true })).state).toBe('verified');

    const dir2 = path.join(tmp, 'm2');
    const tampered = Buffer.from(good);
    tampered[500] ^= 0xff;
    const bad = await installModels({
      dir: dir2,
      manifest,
      names: [entry.name],
      download: async () => Readable.from([tampered]),
    });
    expect(bad[0]).toMatchObject({ action: 'failed', error: expect.stringMatching(/sha256 mismatch/) });
    const short = await installModels({
      dir: dir2,
      manifest,
      names: [entry.name],
      download: async () => Readable.from([good.subarray(0, 100)]),
    });
    expect(short[0].error).toMatch(/got 100 bytes/);
    expect(await readdir(dir2)).toEqual([]);
  });

  test('httpsDownload refuses anything but https', async () => {
    await expect(httpsDownload('http://example.invalid/x.onnx')).rejects.toThrow(/non-https/);
    await expect(httpsDownload('not a url')).rejects.toThrow(/bad URL/);
  });
});

describe('modelStatus', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'pinhole-mstat-'));
  });
  afterEach(() => rm(tmp, { recursive: true, force: true }));

  test('missing, wrong size, wrong hash, verified', async () => {
    const entry = (await loadManifest()).models.find((m) => m.name === 'yunet_s_dynamic')!;
    expect(await modelStatus(entry, tmp)).toMatchObject({
      state: 'missing',
      reason: expect.stringMatching(/not installed/),
    });
    await writeFile(path.join(tmp, entry.file), 'short');
    expect(await modelStatus(entry, tmp)).toMatchObject({
      state: 'corrupt',
      reason: expect.stringMatching(/5 bytes, expected 237823/),
    });
    const bytes = await readFile(path.join(sharedModels, entry.file));
    bytes[1234] ^= 1;
    await writeFile(path.join(tmp, entry.file), bytes);
    expect((await modelStatus(entry, tmp)).state).toBe('present');
    expect(await modelStatus(entry, tmp, { verify: true })).toMatchObject({
      state: 'corrupt',
      reason: expect.stringMatching(/sha256/),
    });
    await copyFile(path.join(sharedModels, entry.file), path.join(tmp, entry.file));
    expect((await modelStatus(entry, tmp, { verify: true })).state).toBe('verified');
  });
});

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dirResolver, FilterModels } from '../../src/filters/models.js';
import { runPipeline } from '../../src/filters/pipeline.js';
import { FilterRegistry, validateRecipes } from '../../src/filters/registry.js';
import { isTempName } from '../../src/util/atomic-write.js';
import * as h from './helpers.js';

describe('filters: bad input', () => {
  let t: ReturnType<typeof h.tempDir>;
  let deps: ReturnType<typeof h.makeDeps>;
  beforeEach(() => {
    t = h.tempDir();
    deps = h.makeDeps(t.dir);
  });
  afterEach(async () => {
    await deps.models.releaseAll();
    t.cleanup();
  });

  it('refuses a corrupt input with a clear error and writes nothing', async () => {
    const bad = path.join(t.dir, 'bad.jpg');
    const good = await fs.readFile(h.twoPeople);
    await fs.writeFile(bad, good.subarray(0, 200));
    const out = path.join(t.dir, 'out.jpg');
    await expect(runPipeline(deps, deps.registry.resolve('sepia'), bad, out)).rejects.toMatchObject({
      code: 'unreadable',
    });
    await expect(fs.access(out)).rejects.toThrow();
    expect((await fs.readdir(t.dir)).filter(isTempName)).toEqual([]);
  });

  it('refuses an empty file and an image above maxInputMegapixels', async () => {
    const empty = path.join(t.dir, 'empty.jpg');
    await fs.writeFile(empty, '');
    await expect(
      runPipeline(deps, deps.registry.resolve('sepia'), empty, path.join(t.dir, 'o.jpg')),
    ).rejects.toMatchObject({ code: 'unreadable' });
    const limited = { ...deps, limits: { ...deps.limits, maxInputMegapixels: 0.2 } };
    await expect(
      runPipeline(limited, deps.registry.resolve('sepia'), h.astronaut, path.join(t.dir, 'o.jpg')),
    ).rejects.toThrow(/0\.3 MP\), above the limit of 0\.2 MP \(filters\.maxInputMegapixels\)/);
  });

  it('never overwrites the input', async () => {
    const copy = path.join(t.dir, 'a.png');
    await fs.copyFile(h.astronaut, copy);
    await expect(runPipeline(deps, deps.registry.resolve('sepia'), copy, copy)).rejects.toMatchObject({
      code: 'same-file',
    });
  });

  it('unknown filters, bad params and bad recipes are clear errors', () => {
    expect(() => deps.registry.resolve('blurry')).toThrow(/unknown filter or recipe "blurry"/);
    expect(() => deps.registry.resolve('denoise', { strength: 'max' })).toThrow(
      /strength=max is not one of normal\|strong/,
    );
    expect(() => deps.registry.resolve('vignette', { amount: '3' })).toThrow(/outside 0\.\.1/);
    expect(() => deps.registry.resolve('sepia', { colour: 'x' })).toThrow(/no parameter "colour"/);
    const reg = new FilterRegistry();
    expect(validateRecipes({ night: [{ denoise: { strength: 'huge' } }, 'lowlight', 'sparkle'] }, reg)).toEqual([
      'filters.recipes.night[0]: denoise: parameter strength=huge is not one of normal|strong',
      'filters.recipes.night[2]: unknown filter "sparkle"',
    ]);
    expect(() => new FilterRegistry(undefined, { sepia: ['film'] })).toThrow(/cannot have the name of a filter/);
    const ok = new FilterRegistry(undefined, { night: [{ denoise: { strength: 'strong' } }, 'lowlight'] });
    expect(ok.resolve('night').map((s) => [s.filter.name, s.params])).toEqual([
      ['denoise', { strength: 'strong' }],
      ['lowlight', { target: 0.46, local: 0 }],
    ]);
  });

  it('cancellation mid-filter stops the job and leaves no output or temp files', async () => {
    const ac = new AbortController();
    const out = path.join(t.dir, 'cancel.jpg');
    const p = runPipeline(deps, deps.registry.resolve('denoise'), h.twoPeople, out, {
      signal: ac.signal,
      onProgress: (f) => {
        if (f > 0.3) ac.abort(new Error('stop now'));
      },
    });
    await expect(p).rejects.toThrow('stop now');
    await expect(fs.access(out)).rejects.toThrow();
    expect((await fs.readdir(t.dir)).filter(isTempName)).toEqual([]);
  });

  it('a missing model or one with a wrong hash makes only its filter unavailable', async () => {
    const models = path.join(t.dir, 'models');
    await fs.mkdir(models);
    // IRCNN M present and correct, IRCNN L corrupt, Real-ESRGAN missing.
    await fs.symlink(path.join(h.modelsDir, 'IRCNN_Mx1_fp16.onnx'), path.join(models, 'IRCNN_Mx1_fp16.onnx'));
    const wrong = Buffer.from(await fs.readFile(path.join(h.modelsDir, 'IRCNN_Lx1_fp16.onnx')));
    wrong[wrong.length - 1] ^= 0xff;
    await fs.writeFile(path.join(models, 'IRCNN_Lx1_fp16.onnx'), wrong);
    const d = { ...deps, models: new FilterModels(dirResolver(models), h.sessionOpts, 0) };
    const info = await d.registry.info(d.models, undefined);
    const byName = Object.fromEntries(info.map((i) => [i.name, i]));
    expect(byName.upscale.available).toBe(false);
    expect(byName.upscale.problems.join()).toMatch(/RealESR_Gx4_fp16.*not installed/);
    expect(byName.denoise.available).toBe(false);
    expect(byName.denoise.problems.join()).toMatch(/IRCNN_Lx1_fp16.*sha256/);
    expect(byName.sepia.available).toBe(true);
    await expect(
      runPipeline(d, d.registry.resolve('upscale'), h.astronaut, path.join(t.dir, 'u.png')),
    ).rejects.toMatchObject({ status: 503 });
    await expect(
      runPipeline(d, d.registry.resolve('denoise', { strength: 'strong' }), h.astronaut, path.join(t.dir, 's.png')),
    ).rejects.toThrow(/sha256/);
    const small = path.join(t.dir, 'small.png');
    await h.writeRaw(await h.crop(h.astronaut, 0, 0, 64, 64), small);
    await runPipeline(d, d.registry.resolve('denoise'), small, path.join(t.dir, 'n.png'));
    await runPipeline(d, d.registry.resolve('film'), small, path.join(t.dir, 'f.png'));
    expect((await h.readRaw(path.join(t.dir, 'n.png'))).width).toBe(64);
    await d.models.releaseAll();
  });
});

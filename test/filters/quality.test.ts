import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/filters/pipeline.js';
import { FilterRegistry } from '../../src/filters/registry.js';
import * as h from './helpers.js';

// Quality goals of issue 6 on small crops of the shared photos, deterministic noise seeds.
describe('filter quality', () => {
  const t = h.tempDir();
  const deps = h.makeDeps(t.dir);
  afterAll(async () => {
    await deps.models.releaseAll();
    t.cleanup();
  });

  describe('denoise at σ=25', () => {
    let clean: h.Raw;
    let noisyPsnr: number;
    const noisyFile = path.join(t.dir, 'noisy.png');
    beforeAll(async () => {
      clean = await h.crop(h.astronaut, 128, 64, 256, 256);
      const noisy = h.addNoise(clean, 25, 42);
      noisyPsnr = h.psnr(clean, noisy);
      await h.writeRaw(noisy, noisyFile);
    });

    it('gains ≥ 5 dB at the default strength', async () => {
      const out = path.join(t.dir, 'd-default.png');
      await runPipeline(deps, deps.registry.resolve('denoise'), noisyFile, out);
      const gain = h.psnr(clean, await h.readRaw(out)) - noisyPsnr;
      console.log(`denoise default: noisy ${noisyPsnr.toFixed(2)} dB, gain ${gain.toFixed(2)} dB`);
      expect(gain).toBeGreaterThanOrEqual(5);
    });

    it('gains ≥ 8 dB at the strongest setting', async () => {
      const out = path.join(t.dir, 'd-strong.png');
      await runPipeline(deps, deps.registry.resolve('denoise', { strength: 'strong' }), noisyFile, out);
      const gain = h.psnr(clean, await h.readRaw(out)) - noisyPsnr;
      console.log(`denoise strong: gain ${gain.toFixed(2)} dB`);
      expect(gain).toBeGreaterThanOrEqual(8);
    });
  });

  it('upscale ×4 matches the size and is sharper than bicubic', async () => {
    const hi = await h.crop(h.twoPeople, 150, 40, 256, 256);
    const hiFile = path.join(t.dir, 'hi.png');
    await h.writeRaw(hi, hiFile);
    const lowFile = path.join(t.dir, 'low.png');
    await sharp(hiFile).resize(64, 64, { kernel: 'cubic' }).png().toFile(lowFile);
    const out = path.join(t.dir, 'up.png');
    await runPipeline(deps, deps.registry.resolve('upscale'), lowFile, out);
    const up = await h.readRaw(out);
    expect([up.width, up.height]).toEqual([256, 256]);
    const bicubic = await h.readRaw(
      await sharp(lowFile)
        .resize(256, 256, { kernel: 'cubic' })
        .png()
        .toFile(path.join(t.dir, 'bic.png'))
        .then(() => path.join(t.dir, 'bic.png')),
    );
    const ge = h.gradientEnergy(up);
    const gb = h.gradientEnergy(bicubic);
    console.log(`upscale gradient energy ${ge.toFixed(1)} vs bicubic ${gb.toFixed(1)} (ratio ${(ge / gb).toFixed(2)})`);
    expect(ge).toBeGreaterThan(gb * 1.1);
  });

  it('refuses an upscale whose output exceeds filters.maxOutputMegapixels', async () => {
    const small = { ...deps, limits: { ...deps.limits, maxOutputMegapixels: 0.5 } };
    await expect(
      runPipeline(small, deps.registry.resolve('upscale'), h.astronaut, path.join(t.dir, 'big.png')),
    ).rejects.toThrow(/maxOutputMegapixels/);
  });

  for (const [name, file] of [
    ['astronaut', h.astronaut],
    ['two_people', h.twoPeople],
  ] as const) {
    it(`lowlight on ${name} darkened as 0.6·x^2.2: brighter, <1% clipped, ≥3 dB gain, beats plain gamma`, async () => {
      const orig = await h.readRaw(file);
      const dark = h.mapPixels(orig, (x) => 0.6 * x ** 2.2);
      const darkFile = path.join(t.dir, `dark-${name}.png`);
      await h.writeRaw(dark, darkFile);
      const out = path.join(t.dir, `ll-${name}.png`);
      await runPipeline(deps, deps.registry.resolve('lowlight'), darkFile, out);
      const lit = await h.readRaw(out);
      const gamma = h.mapPixels(dark, (x) => x ** (1 / 2.2));
      let clipped = 0;
      for (let i = 0; i < lit.data.length; i += 3)
        if (lit.data[i] === 255 || lit.data[i + 1] === 255 || lit.data[i + 2] === 255) clipped++;
      const clippedFrac = clipped / (lit.data.length / 3);
      const pDark = h.psnr(orig, dark);
      const pLit = h.psnr(orig, lit);
      const pGamma = h.psnr(orig, gamma);
      console.log(
        `lowlight ${name}: dark ${pDark.toFixed(2)} dB, lowlight ${pLit.toFixed(2)} dB, gamma ${pGamma.toFixed(2)} dB, clipped ${(clippedFrac * 100).toFixed(2)}%`,
      );
      expect(h.mean(lit)).toBeGreaterThan(h.mean(dark) * 1.3);
      expect(clippedFrac).toBeLessThan(0.01);
      expect(pLit - pDark).toBeGreaterThanOrEqual(3);
      expect(pLit).toBeGreaterThan(pGamma);
    });
  }

  it('tiled output equals untiled output (PSNR ≥ 40 dB)', async () => {
    const src = path.join(t.dir, 'tile-src.png');
    await h.writeRaw(h.addNoise(await h.crop(h.astronaut, 100, 100, 300, 220), 15, 7), src);
    const untiled = h.makeDeps(t.dir, { models: deps.models, limits: { ...deps.limits, tileSize: 1024 } });
    const tiled = h.makeDeps(t.dir, { models: deps.models, limits: { ...deps.limits, tileSize: 64 } });
    const steps = new FilterRegistry().resolve('denoise');
    await runPipeline(untiled, steps, src, path.join(t.dir, 'u.png'));
    await runPipeline(tiled, steps, src, path.join(t.dir, 't.png'));
    const p = h.psnr(await h.readRaw(path.join(t.dir, 'u.png')), await h.readRaw(path.join(t.dir, 't.png')));
    console.log(`tiled vs untiled denoise: ${p.toFixed(2)} dB`);
    expect(p).toBeGreaterThanOrEqual(40);
  });
});

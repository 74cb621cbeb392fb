import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dirResolver } from '../../src/filters/models.js';
import { runPipeline } from '../../src/filters/pipeline.js';
import { YuNetFaceFinder } from '../../src/filters/yunet-finder.js';
import * as h from './helpers.js';

/** Mean absolute difference of two images inside / outside a rectangle. */
function diffInOut(a: h.Raw, b: h.Raw, box: [number, number, number, number]): { inside: number; outside: number } {
  let si = 0;
  let ni = 0;
  let so = 0;
  let no = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const i = (y * a.width + x) * 3;
      const d =
        Math.abs(a.data[i] - b.data[i]) +
        Math.abs(a.data[i + 1] - b.data[i + 1]) +
        Math.abs(a.data[i + 2] - b.data[i + 2]);
      const inside = x >= box[0] && x < box[0] + box[2] && y >= box[1] && y < box[1] + box[3];
      if (inside) {
        si += d;
        ni++;
      } else {
        so += d;
        no++;
      }
    }
  }
  return { inside: si / Math.max(1, ni), outside: so / Math.max(1, no) };
}

describe('face-aware filters', () => {
  const t = h.tempDir();
  afterAll(() => t.cleanup());
  const face: [number, number, number, number] = [200, 100, 120, 140];

  it('privacy blurs and pixelates only the faces a FaceFinder reports', async () => {
    const faces = new h.FakeFaceFinder([{ box: face }]);
    const deps = h.makeDeps(t.dir, { faces });
    const orig = await h.readRaw(h.astronaut);
    for (const mode of ['blur', 'pixelate']) {
      const out = path.join(t.dir, `p-${mode}.png`);
      await runPipeline(deps, deps.registry.resolve('privacy', { mode }), h.astronaut, out);
      const d = diffInOut(orig, await h.readRaw(out), face);
      expect(d.inside).toBeGreaterThan(15);
      // Outside the face (+25 % margin) nothing changes (PNG is lossless).
      const margin: [number, number, number, number] = [face[0] - 30, face[1] - 35, face[2] + 60, face[3] + 70];
      expect(diffInOut(orig, await h.readRaw(out), margin).outside).toBe(0);
    }
    expect(faces.calls).toBe(2);
  });

  it('portrait with blur 0 restores inside a feathered face mask and leaves the background alone', async () => {
    const clean = await h.readRaw(h.astronaut);
    const noisyFile = path.join(t.dir, 'noisy.png');
    const noisy = h.addNoise(clean, 20, 3);
    await h.writeRaw(noisy, noisyFile);
    const deps = h.makeDeps(t.dir, { faces: new h.FakeFaceFinder([{ box: face }]) });
    const out = path.join(t.dir, 'portrait.png');
    await runPipeline(deps, deps.registry.resolve('portrait', { blur: 0 }), noisyFile, out);
    const res = await h.readRaw(out);
    const core: [number, number, number, number] = [face[0] + 30, face[1] + 35, face[2] - 60, face[3] - 70];
    const before = diffInOut(clean, noisy, core).inside;
    const after = diffInOut(clean, res, core).inside;
    expect(after).toBeLessThan(before * 0.6);
    const margin: [number, number, number, number] = [face[0] - 36, face[1] - 42, face[2] + 72, face[3] + 84];
    expect(diffInOut(noisy, res, margin).outside).toBe(0);
    await deps.models.releaseAll();
  });

  it('privacy finds the two faces of two_people.jpg with the real YuNet', async () => {
    const finder = new YuNetFaceFinder(
      () => dirResolver(h.modelsDir)('yunet_s_dynamic'),
      h.sessionOpts,
      { maxSide: 640, threshold: 0.6 },
      0,
    );
    const faces = await finder.find(h.twoPeople);
    expect(faces).toHaveLength(2);
    const deps = h.makeDeps(t.dir, { faces: finder });
    const out = path.join(t.dir, 'two.png');
    await runPipeline(deps, deps.registry.resolve('privacy', { mode: 'pixelate' }), h.twoPeople, out);
    const orig = await h.readRaw(h.twoPeople);
    const res = await h.readRaw(out);
    for (const f of faces) {
      const box = f.box.map(Math.round) as [number, number, number, number];
      expect(diffInOut(orig, res, box).inside).toBeGreaterThan(10);
    }
    await finder.release();
  });

  it('without a face detector the face filters are unavailable, others still work', async () => {
    const deps = h.makeDeps(t.dir);
    await expect(
      runPipeline(deps, deps.registry.resolve('privacy'), h.astronaut, path.join(t.dir, 'x.png')),
    ).rejects.toThrow(/face detection is off/);
    await runPipeline(deps, deps.registry.resolve('vignette'), h.astronaut, path.join(t.dir, 'v.png'));
  });

  it('grain is deterministic per photo and differs between photos', async () => {
    const deps = h.makeDeps(t.dir);
    const run = async (src: string, out: string) => {
      await runPipeline(deps, deps.registry.resolve('grain'), src, path.join(t.dir, out));
      return h.readRaw(path.join(t.dir, out));
    };
    const a1 = await run(h.astronaut, 'g1.png');
    const a2 = await run(h.astronaut, 'g2.png');
    expect(a1.data.equals(a2.data)).toBe(true);
    const orig = await h.readRaw(h.astronaut);
    expect(h.psnr(orig, a1)).toBeLessThan(40);
    const other = path.join(t.dir, 'other.png');
    await h.writeRaw(await h.crop(h.twoPeople, 0, 0, 512, 512), other);
    const b = await run(other, 'g3.png');
    // Same grain pattern on a different photo would make the grain difference images identical.
    const ob = await h.readRaw(other);
    let same = 0;
    for (let i = 0; i < b.data.length; i += 3) if (b.data[i] - ob.data[i] === a1.data[i] - orig.data[i]) same++;
    expect(same / (b.data.length / 3)).toBeLessThan(0.5);
  });
});

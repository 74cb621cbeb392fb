import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as h from '../filters/helpers.js';
import * as s from '../fixtures/night/synth.js';
import { runCliSync } from '../helpers/daemon.js';

/**
 * Issue 16's bad input for `pinhole night`, through the CLI as the checks call it: refused with the reason (and
 * nothing written), or merged with the fallback said on stderr. The 12 MP burst is test/night/memory.test.ts.
 */
sharp.cache(false);

describe('pinhole night on bad input', { timeout: 180_000 }, () => {
  const t = h.tempDir();
  const f = (name: string) => path.join(t.dir, name);
  const night = (out: string, frames: string[], extra: string[] = []) =>
    runCliSync(['night', out, ...frames, '--json', ...extra], { timeoutMs: 120_000 });
  let scene: s.Raw;
  const burst = async (name: string, spec: Partial<s.BurstSpec>, n = 4) => {
    const b = s.makeBurst(scene, { source: h.astronaut, frames: n, noise: 'mid', seed: 7, ...spec });
    const files: string[] = [];
    for (let i = 0; i < n; i++) {
      files.push(f(`${name}-${i}.png`));
      await s.writePng(b.frames[i], files[i]);
    }
    return files;
  };

  beforeAll(async () => {
    scene = await s.loadScene(h.astronaut, { maxSide: 320 });
  }, 180_000);
  afterAll(() => t.cleanup());

  it('frames of different sizes: refused, naming the frame and both sizes; OUT not written', async () => {
    const files = await burst('size', {});
    await sharp(files[2]).resize(200, 150, { fit: 'fill' }).toFile(f('small.png'));
    const r = night(f('out-size.png'), [files[0], files[1], f('small.png')]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/frame 3 \(small\.png\) is 200x150 but the reference is \d+x\d+/);
    expect(existsSync(f('out-size.png'))).toBe(false);
  }, 180_000);

  it('a frame of another exposure: refused with how many EV apart', async () => {
    const files = await burst('ev', { exposureGain: 2 });
    const r = night(f('out-ev.png'), files);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/frame 2 \(ev-1\.png\) is \d\.\d\d EV brighter than the reference/);
    expect(existsSync(f('out-ev.png'))).toBe(false);
  }, 180_000);

  it('everything moves: the reference frame alone, said on stderr', async () => {
    const files = await burst('moves', { everythingMoves: true, moving: false });
    const r = night(f('out-moves.png'), files);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/no other frame lines up with the reference.*the result is the reference frame alone/);
    const j = JSON.parse(r.stdout) as { frames: number; rejectedTiles: number; shifts: number[][] };
    expect(j.frames).toBe(4);
    // the output is the reference frame (PNG in, PNG out: bit for bit)
    const [a, b] = await Promise.all([s.readRgb(files[0]), s.readRgb(f('out-moves.png'))]);
    expect(b.data.equals(a.data)).toBe(true);
  }, 180_000);

  it('1×1 frames: merged into a 1×1 image', async () => {
    const one = [0, 1, 2].map((i) => f(`one-${i}.png`));
    for (const [i, o] of one.entries())
      await sharp({ create: { width: 1, height: 1, channels: 3, background: { r: 100 + i, g: 90, b: 80 } } })
        .png()
        .toFile(o);
    const r = night(f('out-one.png'), one);
    expect(r.code, r.stderr).toBe(0);
    const m = await sharp(f('out-one.png')).metadata();
    expect([m.width, m.height]).toEqual([1, 1]);
    expect((JSON.parse(r.stdout) as { shifts: unknown[] }).shifts).toHaveLength(3);
  }, 180_000);

  it('a truncated JPEG frame: refused naming the file, OUT not written, the frames left alone', async () => {
    const files = await burst('trunc', {});
    const jpegs = await Promise.all(
      files.map(async (p, i) => {
        const o = f(`trunc-${i}.jpg`);
        await sharp(p).jpeg({ quality: 92 }).toFile(o);
        return o;
      }),
    );
    const whole = await fs.readFile(jpegs[1]);
    await fs.writeFile(jpegs[1], whole.subarray(0, Math.floor(whole.length / 2)));
    const before = await fs.readFile(jpegs[1]);
    const r = night(f('out-trunc.jpg'), jpegs);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/trunc-1\.jpg/);
    expect(existsSync(f('out-trunc.jpg'))).toBe(false);
    expect((await fs.readFile(jpegs[1])).equals(before)).toBe(true);
    // no decoded temp files left beside OUT
    expect((await fs.readdir(t.dir)).filter((x) => x.includes('night-'))).toEqual([]);
  }, 180_000);

  it('OUT that is one of the frames, or of an unknown type: refused before anything is read', async () => {
    const files = await burst('same', {}, 2);
    const r1 = night(files[1], files);
    expect(r1.code).not.toBe(0);
    expect(r1.stderr).toMatch(/refusing to overwrite a frame of the burst/);
    const r2 = night(f('out.gif'), files);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toMatch(/unsupported output type \.gif/);
  }, 180_000);
});

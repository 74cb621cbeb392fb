import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/util/prng.js';
import * as h from '../filters/helpers.js';
import * as s from '../fixtures/scan/synth.js';
import { runCliSync } from '../helpers/daemon.js';

/** `pinhole scan` as the checks call it, and the bad input the issue names. */
const t = h.tempDir();
let photos: s.Raw[];
let backgrounds: s.Raw[];

beforeAll(async () => {
  photos = [await s.loadRgb(h.astronaut, 420), await s.loadRgb(h.twoPeople, 520)];
  backgrounds = [await s.loadRgb(h.astronaut), await s.loadRgb(h.twoPeople)];
}, 120_000);
afterAll(() => t.cleanup());

const scan = (args: string[]) => runCliSync(['scan', ...args, '--models', h.modelsDir], { timeoutMs: 600_000 });

describe('pinhole scan', () => {
  it('--json prints exactly {out, corners, steps, ms}; corners are the paper edge and the crop has its aspect', async () => {
    // a physically projected print (the aspect is only recoverable from a real camera's view)
    const rnd = mulberry32(4242);
    const print = s.makePrint(photos[1], 0.04, [236, 226, 200]);
    const bg = await s.background('wood', 960, 720, rnd, photos[0]);
    const quad = s.cameraQuad(rnd, 960, 720, print.width / print.height);
    const sc = { image: s.renderScene(bg, print, quad, rnd), corners: quad, print };
    const inFile = path.join(t.dir, 'scene.png');
    const out = path.join(t.dir, 'flat.png');
    await s.writePng(sc.image, inFile);
    const r = scan([inFile, out, '--steps', 'crop,fade', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j)).toEqual(['out', 'corners', 'steps', 'ms']);
    expect(j.out).toBe(out);
    expect(Object.keys(j.steps)).toEqual(['crop', 'fade']);
    expect(j.corners).toHaveLength(4);
    expect(s.cornerError(j.corners, sc.corners, sc.image.width, sc.image.height)).toBeLessThanOrEqual(0.01);
    const m = await sharp(out).metadata();
    const aspect = sc.print.width / sc.print.height;
    expect(Math.abs((m.width ?? 0) / (m.height ?? 1) / aspect - 1)).toBeLessThan(0.03);
    expect(typeof j.ms).toBe('number');
  }, 600_000);

  it('no print in view: the whole frame, corners null, and it says so', async () => {
    const bg = await s.background('stone', 640, 480, mulberry32(9), photos[0]);
    const inFile = path.join(t.dir, 'floor.png');
    const out = path.join(t.dir, 'floor-out.jpg');
    await s.writePng(bg, inFile);
    const r = scan([inFile, out, '--steps', 'crop', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.corners).toBeNull();
    expect(j.steps.crop.reason).toMatch(/no print found/);
    expect(r.stderr).toMatch(/no print found in view: the whole frame is used/);
    const m = await sharp(out).metadata();
    expect([m.width, m.height, m.format]).toEqual([640, 480, 'jpeg']);
  }, 600_000);

  it('a print filling the frame (edges within a few % of the frame border) is found', async () => {
    const sc = await s.makeScene(photos, 2002, backgrounds, { fill: [0.8, 0.85] });
    const print = sc.image;
    const inFile = path.join(t.dir, 'filling.png');
    const out = path.join(t.dir, 'filling-out.png');
    await s.writePng(print, inFile);
    const r = scan([inFile, out, '--steps', 'crop', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.corners).not.toBeNull();
    expect(s.cornerError(j.corners, sc.corners, print.width, print.height)).toBeLessThanOrEqual(0.01);
  }, 600_000);

  it('a 1×1 image: every classical step runs, OUT is 1×1, no print found', async () => {
    const inFile = path.join(t.dir, 'dot.png');
    const out = path.join(t.dir, 'dot-out.png');
    await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } })
      .png()
      .toFile(inFile);
    const r = scan([inFile, out, '--steps', 'crop,scratches,fade', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).corners).toBeNull();
    const m = await sharp(out).metadata();
    expect([m.width, m.height]).toEqual([1, 1]);
  }, 600_000);

  it('a truncated JPEG is refused with its name, and nothing is written', async () => {
    const full = await sharp(h.astronaut).jpeg().toBuffer();
    const inFile = path.join(t.dir, 'cut.jpg');
    const out = path.join(t.dir, 'cut-out.png');
    await fs.writeFile(inFile, full.subarray(0, full.length >> 1));
    const r = scan([inFile, out, '--json']);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/cut\.jpg/);
    expect(existsSync(out)).toBe(false);
    expect((await fs.readdir(t.dir)).filter((f) => f.includes('scan-'))).toEqual([]);
  }, 600_000);

  it('--steps with an unknown step is a usage error naming it', () => {
    const r = scan(['a.png', 'b.png', '--steps', 'crop,sharpen']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown scan step sharpen/);
  });
});

import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CameraComponent } from '../../src/capture/camera-component.js';
import { validateConfigText } from '../../src/config/validate.js';
import { EventBus } from '../../src/events.js';
import { readExifSegments } from '../../src/store/exif.js';
import { entryText, find, TAG } from '../../src/util/exif-tiff.js';
import { configureLogging } from '../../src/util/logger.js';
import { embedFaceRegions } from '../../src/vision/xmp.js';
import { ensureBuilt, tempDir, waitFor } from '../hw/camera/helpers.js';

let dir: string | undefined;
let comp: CameraComponent | undefined;
beforeAll(() => {
  ensureBuilt();
  configureLogging({ level: 'silent' });
});
afterEach(async () => {
  await comp?.stop();
  comp = undefined;
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** The daemon's clock source, deliberately far from the camera's (the fake writes its own clock into EXIF). */
const DAEMON_NOW = new Date(2031, 4, 6, 7, 8, 9);

async function component(camera: string, storage = 'storage: { minFreeMB: 1 }') {
  dir = await tempDir('pinhole-exif-');
  const r = validateConfigText(
    [
      `dataDir: ${JSON.stringify(path.join(dir, 'data'))}`,
      storage,
      'camera:',
      '  backend: sim',
      '  preview: { width: 320, height: 240, fps: 10 }',
      '  still: { width: 640, height: 480 }',
      '  backoff: { initialMs: 50, maxMs: 300 }',
      ...camera.split('\n').map((l) => `  ${l}`),
    ].join('\n'),
  );
  expect(r.errors).toEqual([]);
  const env = { ...process.env, PINHOLE_FAKE_CAMERA_SEED: '1234', PINHOLE_FAKE_CAMERA_SCENE: 'static' };
  delete env.PINHOLE_FAKE_CAMERA_FAULT;
  comp = new CameraComponent({
    config: r.config as NonNullable<typeof r.config>,
    bus: new EventBus(),
    env,
    version: '9.8.7',
    now: () => DAEMON_NOW,
    idleArmDelayMs: 300,
  });
  await comp.start();
  await waitFor(() => comp?.cameraStatus().state === 'streaming', 20_000, 'streaming');
  return comp;
}

/** The contract: exactly one Exif segment, the camera's Make and IFD1 thumbnail, Pinhole's Software, our clock. */
async function expectPinholeExif(file: string): Promise<void> {
  const all = readExifSegments(await fs.readFile(file));
  expect(all).toHaveLength(1);
  const x = all[0];
  expect(entryText(find(x.ifd0, TAG.Make))).toBe('Raspberry Pi');
  expect(entryText(find(x.ifd0, TAG.Model))).toBe('imx477');
  expect(entryText(find(x.ifd0, TAG.Software))).toBe('Pinhole 9.8.7');
  expect(entryText(find(x.exif, TAG.DateTimeOriginal))).toBe('2031:05:06 07:08:09');
  expect(find(x.exif, TAG.ExposureTime)).toBeDefined();
  expect(x.thumbnail).toBeDefined();
  expect(await sharp(x.thumbnail as Buffer).metadata()).toMatchObject({ format: 'jpeg', width: 320, height: 240 });
}

describe('photos from the sim camera carry the camera EXIF merged with Pinhole’s (issue 13 item 2, contract)', () => {
  it('switch, signal (armed) and burst captures; XMP face regions stay next to the EXIF', async () => {
    const c = await component('capture: { strategy: signal }');
    c.captures.addBeforeCommitHook(async (jpeg) => {
      await fs.writeFile(
        jpeg,
        embedFaceRegions(await fs.readFile(jpeg), [{ box: [10, 10, 50, 60], score: 0.9, landmarks: [] }], 640, 480),
      );
    });
    await waitFor(() => c.cameraStatus().mode === 'armed', 20_000, 'armed');
    const armed = await c.captures.capture({ source: 'test' });
    expect(armed.lag.strategy).toBe('signal');
    await expectPinholeExif(armed.path);
    expect((await fs.readFile(armed.path)).includes(Buffer.from('mwg-rs:RegionList'))).toBe(true);
    // A viewer: the capture takes the switch path.
    const off = c.frames.subscribe(() => {});
    await waitFor(
      () => c.cameraStatus().mode === 'preview' && c.cameraStatus().state === 'streaming',
      20_000,
      'preview',
    );
    const sw = await c.captures.capture({ source: 'test' });
    off();
    expect(sw.lag.strategy).toBe('switch');
    await expectPinholeExif(sw.path);
    const burst = await c.captures.captureBurst({ source: 'test', frames: 2, keep: true });
    expect(burst.photos).toHaveLength(2);
    for (const p of burst.photos ?? []) await expectPinholeExif(p.path);
    await fs.rm(burst.dir, { recursive: true, force: true });
  }, 120_000);
});

describe('bursts (captureBurst)', () => {
  it('N full-resolution frames with identical exposure, noisy and shaken like a hand-held camera, with timing', async () => {
    const c = await component('capture: { strategy: signal }');
    await waitFor(() => c.cameraStatus().mode === 'armed', 20_000, 'armed');
    const r = await c.captures.captureBurst({ source: 'test', frames: 4 });
    expect(r.interrupted).toBe(false);
    expect(r.dir.startsWith(path.join(dir as string, 'data', 'tmp', 'bursts'))).toBe(true);
    expect(r.frames.map((f) => f.index)).toEqual([0, 1, 2, 3]);
    const pixels: Buffer[] = [];
    for (const f of r.frames) {
      expect(path.dirname(f.path)).toBe(r.dir);
      const img = sharp(f.path);
      expect(await img.metadata()).toMatchObject({ format: 'jpeg', width: 640, height: 480 });
      pixels.push(await img.greyscale().raw().toBuffer());
      // Timing per frame, in order.
      expect(f.lag.commandIssuedMs).toBeLessThanOrEqual(f.lag.exposureDoneMs);
      expect(f.lag.exposureDoneMs).toBeLessThanOrEqual(f.lag.writtenMs);
    }
    for (let i = 1; i < r.frames.length; i++)
      expect(r.frames[i].lag.commandIssuedMs).toBeGreaterThanOrEqual(r.frames[i - 1].lag.writtenMs);
    // Frame 0 is metered; every later frame is locked to its exposure, gain and colour gains.
    const c0 = r.frames[0].controls;
    expect(c0).toBeDefined();
    expect(r.locked).toMatchObject({ shutterUs: c0?.exposureUs, gain: c0?.analogueGain, awbGains: c0?.colourGains });
    for (const f of r.frames.slice(1)) {
      expect(f.controls?.exposureUs).toBe(c0?.exposureUs);
      expect(f.controls?.analogueGain).toBe(c0?.analogueGain);
      expect(f.controls?.colourGains).toEqual(c0?.colourGains);
    }
    // Same exposure, different noise and a small shake: frames differ, but not by much on average.
    const meanAbsDiff = (a: Buffer, b: Buffer) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;
    const mean = (a: Buffer) => a.reduce((s, v) => s + v, 0) / a.length;
    for (let i = 1; i < pixels.length; i++) {
      expect(meanAbsDiff(pixels[0], pixels[i])).toBeGreaterThan(0.3);
      expect(Math.abs(mean(pixels[0]) - mean(pixels[i]))).toBeLessThan(3);
    }
    await fs.rm(r.dir, { recursive: true, force: true });
  }, 120_000);

  it('a single shot during a burst ends it after the current frame and goes first; busy policy and storage hold', async () => {
    const c = await component('capture: { strategy: signal, queueLimit: 3 }');
    await waitFor(() => c.cameraStatus().mode === 'armed', 20_000, 'armed');
    const burst = c.captures.captureBurst({ source: 'test', frames: 12 });
    await waitFor(async () => (await fs.readdir(c.burstDir).catch(() => [])).length > 0, 20_000, 'burst started');
    // Let a frame or two land, then press the shutter.
    await waitFor(
      async () => {
        const [d] = await fs.readdir(c.burstDir);
        return d ? (await fs.readdir(path.join(c.burstDir, d))).length >= 2 : false;
      },
      60_000,
      'two frames',
    );
    const single = c.captures.capture({ source: 'shutter' });
    const [b, s] = await Promise.all([burst, single]);
    expect(b.interrupted).toBe(true);
    expect(b.frames.length).toBeGreaterThanOrEqual(2);
    expect(b.frames.length).toBeLessThan(12);
    expect(s.id).toMatch(/^p\d{8}-/);
    await fs.rm(b.dir, { recursive: true, force: true });
  }, 120_000);

  it('refused with 507 when the frames would not fit above storage.minFreeMB', async () => {
    const c = await component('capture: { strategy: switch }', 'storage: { minFreeMB: 1000000 }');
    await expect(c.captures.captureBurst({ frames: 3 })).rejects.toMatchObject({ status: 507 });
    expect(await fs.readdir(c.burstDir).catch(() => [])).toEqual([]);
  }, 60_000);
});

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { defaultConfig } from '../../src/config/load.js';
import type { PinholeConfig } from '../../src/config/schema.js';
import { EventBus } from '../../src/events.js';
import { type FacesEvent, type FrameSource, LiveFaces } from '../../src/vision/live-faces.js';
import { YuNetDetector } from '../../src/vision/yunet.js';
import { imagePath, modelPath, SESSION } from './helpers.js';

/** A frame hub we push to by hand. */
class FakeFrames implements FrameSource {
  private readonly subs = new Set<(jpeg: Buffer) => void>();
  subscribe(cb: (jpeg: Buffer) => void): () => void {
    this.subs.add(cb);
    return () => this.subs.delete(cb);
  }
  push(jpeg: Buffer): void {
    for (const s of this.subs) s(jpeg);
  }
  get subscribers(): number {
    return this.subs.size;
  }
}

function config(over: (c: PinholeConfig) => void = () => {}): PinholeConfig {
  const c = defaultConfig();
  c.vision.threads = 1;
  c.vision.faces.fps = 4;
  over(c);
  return c;
}

describe('LiveFaces', () => {
  let frame: Buffer;
  let shared: YuNetDetector;
  let live: LiveFaces | undefined;
  let tmp: string | undefined;
  beforeAll(async () => {
    frame = await sharp(imagePath('two_people.jpg')).resize(640, 376).jpeg({ quality: 80 }).toBuffer();
    shared = await YuNetDetector.load(modelPath('yunet_s_dynamic.onnx'), SESSION);
  });
  afterAll(() => shared.release());
  afterEach(async () => {
    await live?.stop();
    live = undefined;
    if (tmp) await rm(tmp, { recursive: true, force: true });
    tmp = undefined;
  });

  /** The real detector behind a wrapper that records how many detections overlap. */
  function counting() {
    const c = { active: 0, maxActive: 0, calls: 0 };
    const det = Object.create(shared) as YuNetDetector;
    // live frames take the frame path (decode at detection size); count it
    det.detectFrame = async (input, opts) => {
      c.calls++;
      c.active++;
      c.maxActive = Math.max(c.maxActive, c.active);
      try {
        return await shared.detectFrame(input, opts);
      } finally {
        c.active--;
      }
    };
    det.release = async () => {};
    return { c, load: async () => det };
  }

  /** Started LiveFaces over the counting detector, with a settable clock and its face events recorded. */
  async function startCounting(over: (c: PinholeConfig) => void = () => {}) {
    const bus = new EventBus();
    const frames = new FakeFrames();
    const clock = { now: 0 };
    const { c, load } = counting();
    const events: FacesEvent[] = [];
    bus.on('faces', (e) => {
      events.push(e);
    });
    const l = new LiveFaces({ config: config(over), bus, frames, loadDetector: load, now: () => clock.now });
    live = l;
    await l.start();
    return { live: l, frames, clock, c, events };
  }

  test('emits faces for preview frames, one in flight at most, rate-limited by vision.faces.fps', async () => {
    const { live, frames, clock, c, events } = await startCounting();
    expect(live.status()).toMatchObject({ state: 'running', enabled: true });
    // a burst while the first is running: all dropped, never queued
    for (let i = 0; i < 10; i++) frames.push(frame);
    await live.idle();
    expect(c.calls).toBe(1);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ width: 640, height: 376 });
    expect(events[0].faces).toHaveLength(2);
    // 100 ms later (< 250 ms at 4 fps): dropped; 260 ms later: processed
    clock.now = 100;
    frames.push(frame);
    await live.idle();
    expect(c.calls).toBe(1);
    clock.now = 260;
    frames.push(frame);
    frames.push(frame);
    await live.idle();
    expect(c.calls).toBe(2);
    expect(c.maxActive).toBe(1);
    expect(live.status()).toMatchObject({ processed: 2, dropped: 11, failed: 0 });
  });

  test('at 15 preview fps and vision.faces.fps 4, four detections a second, and no burst after a stall', async () => {
    const { frames, clock, c } = await startCounting();
    // 10 s of preview frames every 1/15 s: "250 ms after the last start" would wait for every 4th frame (3.75/s)
    for (let i = 0; i < 150; i++) {
      clock.now = (i * 1000) / 15;
      frames.push(frame);
      await live?.idle();
    }
    expect(c.calls).toBeGreaterThanOrEqual(39);
    expect(c.calls).toBeLessThanOrEqual(41);
    // 3 s without frames, then 1 s of them: the cadence starts afresh, it does not catch up on missed slots
    const before = c.calls;
    for (let i = 0; i < 15; i++) {
      clock.now = 13_000 + (i * 1000) / 15;
      frames.push(frame);
      await live?.idle();
    }
    expect(c.calls - before).toBeGreaterThanOrEqual(4);
    expect(c.calls - before).toBeLessThanOrEqual(5);
  });

  test('the preview losing frames lowers the detection rate, status says so, and it recovers', async () => {
    // the camera was asked for 15 fps; frames arrive every 100 ms (10 fps) for 4 s, then at 15 fps again
    const { live, frames, clock, c } = await startCounting((cfg) => {
      cfg.camera.preview.fps = 15;
      cfg.vision.faces.fps = 4;
    });
    const run = async (from: number, to: number, every: number) => {
      for (let t = from; t < to; t += every) {
        clock.now = t;
        frames.push(frame);
        await live.idle();
      }
    };
    await run(0, 2050, 100);
    const atFull = c.calls;
    // 4 fps over the first window (one detection every 250 ms, on the next frame at 100 ms spacing: 300 ms)
    expect(atFull).toBeGreaterThanOrEqual(6);
    expect(live.status().rate).toMatchObject({
      targetFps: 4,
      fps: 2,
      reduced: true,
      reason: expect.stringMatching(/preview delivered 10\.\d of 15 fps/),
    });
    await run(2100, 4150, 100);
    // another short window: halved again
    expect(live.status().rate).toMatchObject({ fps: 1, reduced: true });
    const slowed = c.calls - atFull;
    expect(slowed).toBeLessThan(atFull);
    // the preview is healthy again: after three good windows the rate steps up by a quarter of the target each time
    await run(4200, 10_300, 1000 / 15);
    expect(live.status().rate.fps).toBeGreaterThan(1);
    await run(10_300, 30_000, 1000 / 15);
    expect(live.status().rate).toMatchObject({ fps: 4, reduced: false });
    expect(live.status().rate.reason).toBeUndefined();
  });

  test('toggle-faces turns live detection off (clearing boxes) and on again', async () => {
    const { live, frames, clock, c, events } = await startCounting();
    expect(await live.controlMethods()['toggle-faces']({})).toEqual({ enabled: false });
    expect(events).toEqual([{ width: 0, height: 0, faces: [], at: 0 }]);
    expect(live.status().state).toBe('disabled');
    frames.push(frame);
    await live.idle();
    expect(c.calls).toBe(0);
    expect(await live.controlMethods()['toggle-faces']({ enabled: true })).toEqual({ enabled: true });
    clock.now = 1000;
    frames.push(frame);
    await live.idle();
    expect(c.calls).toBe(1);
    expect(events.at(-1)?.faces).toHaveLength(2);
  });

  test('a bad frame is counted and the next one still works', async () => {
    const { live, frames, clock } = await startCounting();
    frames.push(frame.subarray(0, 100));
    await live.idle();
    clock.now = 1000;
    frames.push(frame);
    await live.idle();
    expect(live.status()).toMatchObject({ processed: 1, failed: 1 });
  });

  test('missing or corrupt model: face detection unavailable with the reason, nothing else breaks', async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'pinhole-live-'));
    const bus = new EventBus();
    const frames = new FakeFrames();
    live = new LiveFaces({ config: config((c) => (c.models.dir = tmp as string)), bus, frames });
    await live.start();
    expect(live.status()).toMatchObject({
      state: 'unavailable',
      reason: expect.stringMatching(/yunet_s_dynamic.*missing.*pinhole models install/),
    });
    frames.push(frame);
    await live.idle();
    expect(await live.detectPhoto(frame)).toBeUndefined();
    await expect(live.controlMethods()['toggle-faces']({})).rejects.toThrow(/unavailable/);
    await live.stop();

    const bytes = await readFile(modelPath('yunet_s_dynamic.onnx'));
    bytes[5000] ^= 0xff;
    await (await import('node:fs/promises')).writeFile(path.join(tmp, 'yunet_s_dynamic.onnx'), bytes);
    live = new LiveFaces({ config: config((c) => (c.models.dir = tmp as string)), bus, frames });
    await live.start();
    expect(live.status()).toMatchObject({ state: 'unavailable', reason: expect.stringMatching(/corrupt.*sha256/) });
  });

  test('loads the real model from models.dir and detects captured photos; stop unsubscribes', async () => {
    const bus = new EventBus();
    const frames = new FakeFrames();
    live = new LiveFaces({ config: config((c) => (c.models.dir = path.dirname(modelPath('x')))), bus, frames });
    await live.start();
    expect(live.status().state).toBe('running');
    expect(frames.subscribers).toBe(1);
    const r = await live.detectPhoto(imagePath('two_people.jpg'));
    expect(r).toMatchObject({ width: 1126, height: 661 });
    expect(r?.faces).toHaveLength(2);
    await live.stop();
    expect(frames.subscribers).toBe(0);
    expect(live.status().state).toBe('stopped');
    live = undefined;
  });
});

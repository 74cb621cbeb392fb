import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/load.js';
import { EventBus } from '../../src/events.js';
import { configureLogging } from '../../src/util/logger.js';
import type { Face } from '../../src/vision/face.js';
import { type FacesEvent, type FrameSource, LiveFaces } from '../../src/vision/live-faces.js';
import type { FaceDetector } from '../../src/vision/thread/threaded-detector.js';
import { waitUntil } from '../helpers/tmp.js';

configureLogging({ level: 'silent' });

/**
 * The extra step on live frames the smile shutter sets (LiveFaces.setAnalysis): it runs after detection, its fields
 * reach the `faces` event, and it makes frames analysed even while live boxes are off.
 */
class Frames implements FrameSource {
  cb?: (jpeg: Buffer, frame?: { at?: number }) => void;
  subscribe(cb: (jpeg: Buffer, frame?: { at?: number }) => void) {
    this.cb = cb;
    return () => {
      this.cb = undefined;
    };
  }
}

const face: Face = {
  box: [10, 10, 50, 50],
  score: 0.9,
  landmarks: [
    [20, 25],
    [40, 25],
    [30, 35],
    [22, 45],
    [38, 45],
  ],
};

describe('LiveFaces with an analysis step', () => {
  let live: LiveFaces | undefined;
  afterEach(async () => {
    await live?.stop();
    live = undefined;
  });

  async function start(enabled: boolean) {
    const cfg = defaultConfig();
    cfg.vision.faces.enabled = enabled;
    cfg.vision.faces.fps = 1000;
    const bus = new EventBus();
    const frames = new Frames();
    const events: FacesEvent[] = [];
    bus.on('faces', (e) => {
      events.push(e);
    });
    const result = { width: 64, height: 48, faces: [face] };
    const detector: FaceDetector = {
      detectFrame: async () => ({ ...result, decodeMs: 1, detectMs: 1 }),
      detectImage: async () => result,
      release: async () => {},
    };
    live = new LiveFaces({ config: cfg, bus, frames, loadDetector: async () => detector });
    await live.start();
    return { frames, events, live };
  }

  it('adds its fields to the faces of the event, with the frame’s arrival time', async () => {
    const { frames, events, live: l } = await start(true);
    const seen: Buffer[] = [];
    l.setAnalysis(async (jpeg, r) => {
      seen.push(jpeg);
      return r.faces.map((f) => ({ ...f, smile: 0.93 }));
    });
    frames.cb?.(Buffer.from('frame-1'), { at: 1234.5 });
    await waitUntil(() => events.length === 1);
    expect(events[0]).toMatchObject({ analysed: true, frameAt: 1234.5, faces: [{ smile: 0.93, score: 0.9 }] });
    expect(seen.map(String)).toEqual(['frame-1']);
    l.setAnalysis(undefined);
    await l.idle();
    await new Promise((r) => setTimeout(r, 5));
    frames.cb?.(Buffer.from('frame-2'), { at: 2000 });
    await waitUntil(() => events.length === 2);
    expect(events[1].analysed).toBeUndefined();
    expect(events[1].faces[0]).not.toHaveProperty('smile');
  });

  it('analyses frames while live boxes are off, and clears the boxes when the step goes', async () => {
    const { frames, events, live: l } = await start(false);
    frames.cb?.(Buffer.from('ignored'));
    await new Promise((r) => setTimeout(r, 20));
    expect(events).toHaveLength(0);
    l.setAnalysis(async (_j, r) => r.faces);
    frames.cb?.(Buffer.from('analysed'));
    await waitUntil(() => events.length === 1);
    expect(events[0].analysed).toBe(true);
    l.setAnalysis(undefined);
    expect(events.at(-1)).toMatchObject({ faces: [], width: 0 });
  });

  it('refuses the step when detection is unavailable', async () => {
    const cfg = defaultConfig();
    live = new LiveFaces({
      config: cfg,
      bus: new EventBus(),
      frames: new Frames(),
      loadDetector: async () => {
        throw new Error('model missing');
      },
    });
    await live.start();
    expect(() => live?.setAnalysis(async (_j, r) => r.faces)).toThrow(/face detection unavailable: model missing/);
  });
});

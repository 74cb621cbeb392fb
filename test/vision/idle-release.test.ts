import { describe, expect, it } from 'vitest';
import { IdleReleasingDetector } from '../../src/vision/thread/idle-release.js';
import type { FaceDetector } from '../../src/vision/thread/threaded-detector.js';
import { waitUntil } from '../helpers/tmp.js';

/** A detector that counts its loads and releases (the thread's stand-in: the wrapper only sees this interface). */
function counting() {
  const c = { loads: 0, releases: 0 };
  const make = async (): Promise<FaceDetector> => {
    c.loads++;
    const n = c.loads;
    return {
      detectImage: async () => ({ width: n, height: 1, faces: [] }),
      detectFrame: async () => ({ width: n, height: 1, faces: [], decodeMs: 0, detectMs: 0 }),
      release: async () => {
        c.releases++;
      },
    };
  };
  return { c, make };
}

describe('IdleReleasingDetector', () => {
  it('releases the loaded detector after idleMs unused and loads a new one for the next call', async () => {
    const { c, make } = counting();
    const d = new IdleReleasingDetector(make, 50, await make());
    expect(d.resident).toBe(true);
    await waitUntil(() => c.releases === 1, 5000, 10);
    expect(d.resident).toBe(false);
    const r = await d.detectImage('x.jpg', { maxSide: 480, threshold: 0.6 });
    expect(r.width).toBe(2); // the second detector answered
    expect(c.loads).toBe(2);
    expect(d.reloads).toBe(1);
    await waitUntil(() => c.releases === 2, 5000, 10);
    await d.release();
    expect(c.releases).toBe(2);
    await expect(d.detectFrame(Buffer.alloc(0), { maxSide: 480, threshold: 0.6 })).rejects.toThrow(/released/);
  });

  it('stays loaded while calls keep coming, and for good with idleMs 0', async () => {
    const { c, make } = counting();
    const busy = new IdleReleasingDetector(make, 200, await make());
    for (let i = 0; i < 10; i++) {
      await busy.detectFrame(Buffer.alloc(0), { maxSide: 480, threshold: 0.6 });
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(c.releases).toBe(0);
    expect(c.loads).toBe(1);
    await busy.release();
    expect(c.releases).toBe(1);

    const kept = new IdleReleasingDetector(make, 0, await make());
    await new Promise((r) => setTimeout(r, 100));
    expect(kept.resident).toBe(true);
    await kept.release();
  });

  it('a failed reload fails that call only; the next call tries again', async () => {
    let fail = true;
    const { c, make } = counting();
    const d = new IdleReleasingDetector(async () => {
      if (fail) throw new Error('model corrupt');
      return make();
    }, 0);
    await expect(d.detectImage('x.jpg', { maxSide: 480, threshold: 0.6 })).rejects.toThrow('model corrupt');
    expect(d.resident).toBe(false);
    fail = false;
    await d.detectImage('x.jpg', { maxSide: 480, threshold: 0.6 });
    expect(c.loads).toBe(1);
    await d.release();
  });
});

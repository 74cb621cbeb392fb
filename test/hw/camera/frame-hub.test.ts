import { describe, expect, it } from 'vitest';
import { FrameHub } from '../../../src/hw/camera/frame-hub.js';
import type { Frame } from '../../../src/hw/camera/types.js';

describe('FrameHub', () => {
  it('hands the very same Buffer to every consumer', () => {
    const hub = new FrameHub();
    const got: Buffer[][] = [[], [], []];
    for (const arr of got) hub.subscribe((f) => void arr.push(f.data));
    const data = Buffer.from([0xff, 0xd8, 1, 2, 0xff, 0xd9]);
    hub.publish(data);
    for (const arr of got) expect(arr[0]).toBe(data);
    expect(hub.latest()?.data).toBe(data);
  });

  it('a slow consumer gets only the latest frame when it is ready again, never a growing queue', async () => {
    const hub = new FrameHub();
    let release: () => void = () => {};
    const slow: number[] = [];
    const fast: number[] = [];
    hub.subscribe((f: Frame) => {
      slow.push(f.seq);
      return new Promise<void>((r) => {
        release = r;
      });
    });
    hub.subscribe((f) => void fast.push(f.seq));
    for (let i = 0; i < 100; i++) hub.publish(Buffer.from([i]));
    expect(fast).toHaveLength(100);
    expect(slow).toEqual([1]);
    release();
    await new Promise((r) => setImmediate(r));
    expect(slow).toEqual([1, 100]);
    expect(hub.stats().dropped).toBe(98);
  });

  it('a throwing consumer does not stop the others; unsubscribe stops delivery and reports the count', () => {
    const hub = new FrameHub();
    const counts: number[] = [];
    hub.onSubscribers((n) => counts.push(n));
    const off = hub.subscribe(() => {
      throw new Error('boom');
    });
    let n = 0;
    const off2 = hub.subscribe(() => {
      n++;
    });
    hub.publish(Buffer.from([1]));
    off2();
    hub.publish(Buffer.from([2]));
    off();
    expect(n).toBe(1);
    expect(counts).toEqual([1, 2, 1, 0]);
  });
});

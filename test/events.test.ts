import { describe, expect, it } from 'vitest';
import { EventBus } from '../src/events.js';
import { configureLogging } from '../src/util/logger.js';

declare module '../src/events.js' {
  interface PinholeEvents {
    'test.ping': { n: number };
  }
}

describe('EventBus', () => {
  it('a throwing or rejecting listener is logged and the others still run', async () => {
    const logged: string[] = [];
    configureLogging({ sink: (l) => logged.push(l) });
    const bus = new EventBus();
    const got: number[] = [];
    bus.on('test.ping', () => {
      throw new Error('sync boom');
    });
    bus.on('test.ping', async () => {
      throw new Error('async boom');
    });
    bus.on('test.ping', ({ n }) => {
      got.push(n);
    });
    bus.emit('test.ping', { n: 1 });
    await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([1]);
    expect(logged.filter((l) => l.includes('listener failed'))).toHaveLength(2);
    configureLogging({ sink: (l) => process.stdout.write(`${l}\n`) });
  });

  it('off, once and waitFor', async () => {
    const bus = new EventBus();
    const seen: number[] = [];
    const off = bus.on('test.ping', ({ n }) => {
      seen.push(n);
    });
    bus.once('test.ping', ({ n }) => {
      seen.push(n * 10);
    });
    bus.emit('test.ping', { n: 1 });
    off();
    bus.emit('test.ping', { n: 2 });
    expect(seen).toEqual([1, 10]);
    expect(bus.listenerCount('test.ping')).toBe(0);
    const p = bus.waitFor('test.ping', 1000, (e) => e.n === 3);
    bus.emit('test.ping', { n: 2 });
    bus.emit('test.ping', { n: 3 });
    await expect(p).resolves.toEqual({ n: 3 });
    await expect(bus.waitFor('test.ping', 20)).rejects.toThrow(/timed out/);
  });
});

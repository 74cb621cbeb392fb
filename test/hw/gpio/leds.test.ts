import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LedConfig } from '../../../src/config/sections/gpio.js';
import type { Level } from '../../../src/hw/gpio/backend.js';
import { systemClock } from '../../../src/hw/gpio/clock.js';
import { LedController } from '../../../src/hw/gpio/leds.js';

function leds(configs: LedConfig[]) {
  const levels = new Map<string, Level[]>();
  const entries = configs.map((config) => {
    levels.set(config.name, []);
    return { config, line: { write: (l: Level) => levels.get(config.name)?.push(l), close: async () => {} } };
  });
  const last = (name: string) => levels.get(name)?.at(-1);
  return { c: new LedController(entries, systemClock), levels, last };
}

const three: LedConfig[] = [
  { name: 'r', pin: 16, role: 'ready', activeLow: false },
  { name: 'c', pin: 20, role: 'capture', activeLow: false },
  { name: 'e', pin: 21, role: 'error', activeLow: true },
];

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('LED states', () => {
  it('ready: the ready LED steady on, the others off (active-low inverted)', async () => {
    const { c, last, levels } = leds(three);
    c.setState('ready');
    expect([last('r'), last('c'), last('e')]).toEqual([1, 0, 1]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(levels.get('r')).toEqual([1]);
    expect(c.status().leds.map((l) => l.pattern)).toEqual(['on', 'off', 'off']);
  });

  it('capturing blinks the capture LED at 250 ms; busy blinks it slowly; error blinks the error LED fast', async () => {
    const { c, levels } = leds(three);
    c.setState('capturing');
    await vi.advanceTimersByTimeAsync(1000);
    expect(levels.get('c')).toEqual([1, 0, 1, 0, 1]);
    levels.set('c', []);
    c.setState('busy');
    await vi.advanceTimersByTimeAsync(1200);
    expect(levels.get('c')).toEqual([1, 0, 1]); // lit at once, then toggles every 600 ms
    expect(c.status().leds[1]).toMatchObject({ pattern: 'blink-slow' });
    levels.set('e', []);
    c.setState('error');
    await vi.advanceTimersByTimeAsync(500);
    // error LED is active-low: lit = 0. Initial write lit, then 5 toggles in 500 ms.
    expect(levels.get('e')).toEqual([0, 1, 0, 1, 0, 1]);
    expect(c.status().state).toBe('error');
  });

  it('changing state stops the previous blink', async () => {
    const { c, levels } = leds(three);
    c.setState('capturing');
    c.setState('ready');
    levels.set('c', []);
    await vi.advanceTimersByTimeAsync(2000);
    expect(levels.get('c')).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('with one LED every state is shown on it by pattern', async () => {
    const { c, levels } = leds([{ name: 'only', pin: 16, role: 'ready', activeLow: false }]);
    c.setState('error');
    await vi.advanceTimersByTimeAsync(300);
    expect(levels.get('only')).toEqual([1, 0, 1, 0]);
    expect(c.status().leds[0]).toMatchObject({ pattern: 'blink-fast' });
  });

  it('off (shutdown) turns everything off and leaves no timer', async () => {
    const { c, last } = leds(three);
    c.setState('capturing');
    c.dispose();
    expect([last('r'), last('c'), last('e')]).toEqual([0, 0, 1]);
    expect(vi.getTimerCount()).toBe(0);
    expect(c.status().leds.every((l) => !l.lit)).toBe(true);
  });
});

describe('camera state → LED state', async () => {
  const { ledStateForCamera } = await import('../../../src/hw/gpio/led-state.js');
  it('maps every camera state', () => {
    expect(ledStateForCamera('streaming')).toBe('ready');
    expect(ledStateForCamera('capturing')).toBe('capturing');
    expect(ledStateForCamera('busy')).toBe('busy');
    expect(ledStateForCamera('starting')).toBe('busy');
    expect(ledStateForCamera('crashed')).toBe('error');
    expect(ledStateForCamera('absent')).toBe('error');
    expect(ledStateForCamera('stopped')).toBe('off');
  });
});

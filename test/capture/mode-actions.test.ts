import { describe, expect, it } from 'vitest';
import { ButtonActions } from '../../src/config/sections/gpio.js';
import { type ButtonActionHandlers, dispatchAction } from '../../src/hw/gpio/actions.js';
import type { Logger } from '../../src/util/logger.js';

/** The capture modes as button actions: `smile-shutter`, `gesture-shutter`, `best-shot`. */
describe('capture-mode button actions', () => {
  const logged: string[] = [];
  const log = {
    info: (m: string) => logged.push(`info ${m}`),
    warn: (m: string, f?: Record<string, unknown>) => logged.push(`warn ${m} ${String(f?.error ?? '')}`),
    debug: () => {},
    error: () => {},
  } as unknown as Logger;
  const base: ButtonActionHandlers = {
    shutter: async () => {},
    burst: async () => {},
    timer: async () => {},
    nextFilter: async () => {},
    toggleFaces: async () => {},
    shutdown: async () => {},
  };

  it('are accepted by the config schema', () => {
    expect(ButtonActions).toEqual(expect.arrayContaining(['smile-shutter', 'gesture-shutter', 'best-shot']));
  });

  it('call their handlers', () => {
    const calls: string[] = [];
    const handlers: ButtonActionHandlers = {
      ...base,
      smileShutter: async () => calls.push('smile'),
      gestureShutter: async () => calls.push('gesture'),
      bestShot: async () => calls.push('best'),
    };
    const ctx = { handlers, timerSeconds: 3, burstCount: 3, allowPoweroff: false, log };
    dispatchAction('smile-shutter', ctx, 'a');
    dispatchAction('gesture-shutter', ctx, 'b');
    dispatchAction('best-shot', ctx, 'c');
    expect(calls).toEqual(['smile', 'gesture', 'best']);
  });

  it('a handler set without them, or a handler that fails, is logged, never thrown into the GPIO layer', async () => {
    logged.length = 0;
    const ctx = { handlers: base, timerSeconds: 3, burstCount: 3, allowPoweroff: false, log };
    expect(() => dispatchAction('smile-shutter', ctx, 'a')).not.toThrow();
    const failing = { ...base, bestShot: async () => Promise.reject(new Error('no camera')) };
    dispatchAction('best-shot', { ...ctx, handlers: failing }, 'b');
    await new Promise((r) => setTimeout(r, 10));
    expect(logged).toContain('warn button action failed the smile-shutter action is not available here');
    expect(logged).toContain('warn button action failed no camera');
  });
});

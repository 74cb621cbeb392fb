import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { defaultConfig } from '../../../src/config/load.js';
import type { PinholeConfig } from '../../../src/config/schema.js';
import { EventBus } from '../../../src/events.js';
import { dispatchAction, validateGpioConfig } from '../../../src/hw/gpio/actions.js';
import { GpioComponent } from '../../../src/hw/gpio/gpio-component.js';
import { configureLogging, createLogger } from '../../../src/util/logger.js';
import { button, recordingHandlers } from './helpers.js';

function config(edit: (c: PinholeConfig) => void = () => {}): PinholeConfig {
  const c = defaultConfig();
  c.gpio.modelPath = path.join('/nonexistent', 'model'); // this machine is not a Pi either way
  edit(c);
  return c;
}

const logLines: string[] = [];
let running: GpioComponent[] = [];
async function startGpio(cfg: PinholeConfig, handlers = recordingHandlers(), bus?: EventBus) {
  const gpio = new GpioComponent({ config: cfg, handlers, bus, env: { PINHOLE_DEV: '1' } });
  running.push(gpio);
  await gpio.start();
  return { gpio, handlers };
}
type Status = {
  backend: string;
  reason: string;
  error: string | null;
  problems: string[];
  buttons: { name: string; presses: number; error: string | null }[];
  leds: { state: string; leds: { name: string; pattern: string; lit: boolean }[] };
  lastAction: { button: string; gesture: string; action: string } | null;
};

beforeEach(() => {
  vi.useFakeTimers();
  logLines.length = 0;
  configureLogging({ sink: (l) => logLines.push(l) });
});
afterEach(async () => {
  for (const g of running) await g.stop();
  running = [];
  vi.useRealTimers();
  configureLogging({ sink: (l) => process.stdout.write(`${l}\n`) });
});

/** Runs a sim press to completion under fake timers. */
async function press(gpio: GpioComponent, name: string, holdMs?: number) {
  const p = gpio.simPress({ name, ...(holdMs === undefined ? {} : { holdMs }) });
  await vi.advanceTimersByTimeAsync((holdMs ?? 80) + 1);
  return p;
}

describe('auto on a development machine', () => {
  it('picks sim under PINHOLE_DEV=1 with the development buttons and LEDs, says why, and shows ready', async () => {
    const { gpio } = await startGpio(config());
    const s = gpio.status() as Status;
    expect(s.backend).toBe('sim');
    expect(s.reason).toMatch(/PINHOLE_DEV=1/);
    expect(s.buttons.map((b) => b.name)).toEqual(['shutter', 'power']);
    expect(s.leds.state).toBe('ready');
    expect(s.leds.leds.find((l) => l.name === 'ready')).toMatchObject({ pattern: 'on', lit: true });
    expect(gpio.simBackend?.outputLevel(16)).toBe(1);
  });

  it('`sim press shutter` takes a photo; `--hold 1500` triggers the long-press action (burst of gpio.burstCount)', async () => {
    const { gpio, handlers } = await startGpio(config((c) => (c.gpio.burstCount = 4)));
    const short = await press(gpio, 'shutter');
    expect(short).toEqual({ name: 'shutter', holdMs: 80, gestures: [{ gesture: 'short', action: 'shutter' }] });
    await vi.advanceTimersByTimeAsync(100);
    const long = await press(gpio, 'shutter', 1500);
    expect(long.gestures).toEqual([{ gesture: 'long', action: 'burst' }]);
    expect(handlers.calls).toEqual(['shutter', 'burst:4']);
  });

  it('a long press on the sim power button only logs: it never powers off this machine', async () => {
    const { gpio, handlers } = await startGpio(config());
    const r = await press(gpio, 'power', 1200);
    expect(r.gestures).toEqual([{ gesture: 'long', action: 'shutdown' }]);
    expect(handlers.calls).toEqual([]);
    expect(logLines.join('\n')).toMatch(/shutdown requested by button; not powering off/);
  });
});

describe('buttons from config on the sim backend', () => {
  const simCfg = (buttons: ButtonConfig[]) =>
    config((c) => {
      c.gpio.backend = 'sim';
      c.gpio.buttons = buttons;
      c.gpio.timerSeconds = 7;
    });

  it('fires the shutter on the press edge when no long/double action is set', async () => {
    const { gpio, handlers } = await startGpio(simCfg([button({ name: 'shutter', pin: 26 })]));
    gpio.simBackend?.setLevel(26, 0);
    expect(handlers.calls).toEqual(['shutter']); // synchronously, before any release
    await vi.advanceTimersByTimeAsync(3000);
    gpio.simBackend?.setLevel(26, 1);
    expect(handlers.calls).toEqual(['shutter']); // held 3 s: no repeat
  });

  it('maps every action to its handler with its config value', async () => {
    const { gpio, handlers } = await startGpio(
      simCfg([
        button({ name: 'a', pin: 5, action: 'timer', doublePressAction: 'toggle-faces', longPressAction: 'shutdown' }),
        button({ name: 'b', pin: 6, action: 'next-filter', activeLow: false, pull: 'down' }),
      ]),
    );
    await press(gpio, 'a');
    await vi.advanceTimersByTimeAsync(400); // double window closes: single
    const p1 = gpio.simPress({ name: 'a', holdMs: 50 });
    await vi.advanceTimersByTimeAsync(120);
    await p1;
    const p2 = gpio.simPress({ name: 'a', holdMs: 50 });
    await vi.advanceTimersByTimeAsync(60);
    await p2;
    await press(gpio, 'b');
    await vi.advanceTimersByTimeAsync(500);
    expect(handlers.calls).toEqual(['timer:7', 'toggle-faces', 'next-filter']);
  });

  it('a press during a capture calls shutter again (the capture service applies the busy policy)', async () => {
    const handlers = recordingHandlers();
    handlers.shutter = () => {
      handlers.calls.push('shutter');
      return new Promise(() => {}); // a capture that never ends
    };
    const { gpio } = await startGpio(simCfg([button({ name: 'shutter', pin: 26 })]), handlers);
    await press(gpio, 'shutter');
    await vi.advanceTimersByTimeAsync(100);
    await press(gpio, 'shutter');
    expect(handlers.calls).toEqual(['shutter', 'shutter']);
  });

  it('handler errors (rejections and throws) are logged, never thrown into the GPIO layer', async () => {
    const handlers = recordingHandlers();
    let n = 0;
    handlers.shutter = () => {
      n++;
      if (n === 1) return Promise.reject(new Error('camera busy'));
      throw new Error('sync boom');
    };
    const { gpio } = await startGpio(simCfg([button({ name: 'shutter', pin: 26 })]), handlers);
    await expect(press(gpio, 'shutter')).resolves.toMatchObject({ gestures: [{ action: 'shutter' }] });
    await vi.advanceTimersByTimeAsync(100);
    await expect(press(gpio, 'shutter')).resolves.toBeTruthy();
    expect(n).toBe(2);
    const log = logLines.join('\n');
    expect(log).toMatch(/button action failed .*camera busy/);
    expect(log).toMatch(/button action failed .*sync boom/);
  });

  it('emits gpio.button on the bus and records the last action in status', async () => {
    const bus = new EventBus();
    const seen: unknown[] = [];
    bus.on('gpio.button', (e) => void seen.push(e));
    const { gpio } = await startGpio(simCfg([button({ name: 'shutter', pin: 26 })]), recordingHandlers(), bus);
    await press(gpio, 'shutter');
    expect(seen).toEqual([{ name: 'shutter', gesture: 'short', action: 'shutter' }]);
    expect((gpio.status() as Status).lastAction).toMatchObject({
      button: 'shutter',
      gesture: 'short',
      action: 'shutter',
    });
  });

  it('refuses shutdown as a short or double action: that button is not opened, the reason is in status', async () => {
    const { gpio, handlers } = await startGpio(
      simCfg([button({ name: 'bad', pin: 5, action: 'shutdown' }), button({ name: 'ok', pin: 6 })]),
    );
    const s = gpio.status() as Status;
    expect(s.problems).toEqual(['gpio.buttons.0.action: shutdown is allowed only as longPressAction']);
    expect(s.buttons[0].error).toMatch(/only as longPressAction/);
    await expect(gpio.simPress({ name: 'bad' })).rejects.toMatchObject({ status: 409, code: 'button-unavailable' });
    await press(gpio, 'ok');
    expect(handlers.calls).toEqual(['shutter']);
  });

  it('reconfigure applies timer/burst changes live and restarts for anything else', async () => {
    const cfg = simCfg([button({ name: 't', pin: 5, action: 'timer' })]);
    const { gpio, handlers } = await startGpio(cfg);
    const next = structuredClone(cfg);
    next.gpio.timerSeconds = 10;
    expect(await gpio.reconfigure(next, cfg)).toBe('applied');
    await press(gpio, 't');
    expect(handlers.calls).toEqual(['timer:10']);
    const moved = structuredClone(next);
    moved.gpio.buttons[0].pin = 6;
    expect(await gpio.reconfigure(moved, next)).toBe('restart');
  });
});

describe('sim press errors', () => {
  it('unknown button → 404 listing the buttons; bad holdMs → 400', async () => {
    const { gpio } = await startGpio(config());
    await expect(gpio.simPress({ name: 'nope' })).rejects.toMatchObject({
      status: 404,
      message: expect.stringMatching(/buttons: shutter, power/),
    });
    await expect(gpio.simPress({ name: 'shutter', holdMs: -1 })).rejects.toMatchObject({ status: 400 });
    await expect(gpio.simPress({ name: 'shutter', holdMs: 'long' })).rejects.toMatchObject({ status: 400 });
    await expect(gpio.simPress({})).rejects.toMatchObject({ status: 400 });
  });

  it('a backend other than sim → 409 saying which one runs', async () => {
    const gpio = new GpioComponent({ config: config(), handlers: recordingHandlers(), env: {} });
    running.push(gpio);
    await gpio.start();
    expect((gpio.status() as Status).backend).toBe('none');
    await expect(gpio.controlMethods()['sim.press']({ name: 'shutter' })).rejects.toMatchObject({
      status: 409,
      code: 'not-sim',
      message: expect.stringMatching(/"none"/),
    });
  });
});

describe('a backend that fails to start', () => {
  it('leaves the component running without buttons, with the reason in status', async () => {
    const cfg = config((c) => {
      c.gpio.backend = 'gpiod';
      c.gpio.buttons = [button({ name: 'shutter', pin: 26 })];
    });
    const gpio = new GpioComponent({
      config: cfg,
      handlers: recordingHandlers(),
      deps: { gpiod: { tools: { gpiomon: '/nonexistent/gpiomon' } } },
    });
    running.push(gpio);
    await expect(gpio.start()).resolves.toBeUndefined();
    const s = gpio.status() as Status;
    expect(s.backend).toBe('none');
    expect(s.error).toMatch(/gpiomon not found/);
    expect(logLines.join('\n')).toMatch(/GPIO backend failed to start; running without buttons/);
  });
});

describe('LED state through the component', () => {
  it('setLedState drives the LEDs and is visible in status; stop turns them off', async () => {
    const bus = new EventBus();
    const states: string[] = [];
    bus.on('gpio.leds', (e) => void states.push(e.state));
    const { gpio } = await startGpio(config(), recordingHandlers(), bus);
    gpio.setLedState('capturing');
    await vi.advanceTimersByTimeAsync(250);
    expect(gpio.simBackend?.outputLevel(20)).toBe(0); // blinked off after 250 ms
    expect((gpio.status() as Status).leds.leds.find((l) => l.name === 'capture')?.pattern).toBe('blink');
    gpio.setLedState('error');
    expect(states).toEqual(['ready', 'capturing', 'error']);
    expect(() => gpio.setLedState('party' as never)).toThrow(/unknown LED state/);
    const sim = gpio.simBackend;
    const spy = vi.spyOn(sim!, 'close');
    await gpio.stop();
    running = [];
    expect(spy).toHaveBeenCalled();
    expect(gpio.ledState).toBe('off');
  });
});

describe('actions', () => {
  const log = createLogger('test');
  it('shutdown reaches the handler only when power-off is allowed (a real Pi backend)', async () => {
    const handlers = recordingHandlers();
    dispatchAction('shutdown', { handlers, timerSeconds: 3, burstCount: 3, allowPoweroff: false, log }, 'power');
    expect(handlers.calls).toEqual([]);
    dispatchAction('shutdown', { handlers, timerSeconds: 3, burstCount: 3, allowPoweroff: true, log }, 'power');
    expect(handlers.calls).toEqual(['shutdown']);
  });

  it('validates names and pins across buttons and LEDs', () => {
    const cfg = defaultConfig().gpio;
    cfg.buttons = [button({ name: 'a', pin: 5 }), button({ name: 'a', pin: 6, doublePressAction: 'shutdown' })];
    cfg.leds = [{ name: 'l', pin: 5, role: 'ready', activeLow: false }];
    expect(validateGpioConfig(cfg)).toEqual([
      'gpio.buttons.1.name: "a" is also used by gpio.buttons.0',
      'gpio.buttons.1.doublePressAction: shutdown is allowed only as longPressAction',
      'gpio.leds.0.pin: BCM 5 is also used by gpio.buttons.0',
    ]);
  });
});

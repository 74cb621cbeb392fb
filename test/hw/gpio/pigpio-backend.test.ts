import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { defaultConfig } from '../../../src/config/load.js';
import { GpioComponent } from '../../../src/hw/gpio/gpio-component.js';
import { parsePiModel } from '../../../src/hw/gpio/pi-model.js';
import { PigpioBackend } from '../../../src/hw/gpio/pigpio-backend.js';
import { button, recordingHandlers, tempDir } from './helpers.js';

// pigpio is mocked at the module boundary: the real addon needs the C library and root.
const pig = vi.hoisted(() => {
  const state = { loaded: 0, initializeError: undefined as Error | undefined, terminated: 0 };
  type AlertCb = (level: 0 | 1, tick: number) => void;
  class FakeGpio {
    static INPUT = 0;
    static OUTPUT = 1;
    static PUD_OFF = 0;
    static PUD_DOWN = 1;
    static PUD_UP = 2;
    static instances: FakeGpio[] = [];
    alerts: AlertCb[] = [];
    glitch?: number;
    writes: number[] = [];
    alertDisabled = false;
    constructor(
      readonly gpio: number,
      readonly options: { mode: number; pullUpDown?: number; alert?: boolean },
    ) {
      FakeGpio.instances.push(this);
    }
    on(_e: 'alert', cb: AlertCb) {
      this.alerts.push(cb);
      return this;
    }
    removeAllListeners() {
      this.alerts = [];
      return this;
    }
    disableAlert() {
      this.alertDisabled = true;
      return this;
    }
    glitchFilter(us: number) {
      this.glitch = us;
      return this;
    }
    digitalWrite(v: 0 | 1) {
      this.writes.push(v);
      return this;
    }
  }
  return { state, FakeGpio };
});
vi.mock('pigpio', () => {
  pig.state.loaded++;
  return {
    Gpio: pig.FakeGpio,
    initialize: () => {
      if (pig.state.initializeError) throw pig.state.initializeError;
    },
    terminate: () => {
      pig.state.terminated++;
    },
  };
});

const pi4 = parsePiModel('Raspberry Pi 4 Model B Rev 1.5\0');
const pi5 = parsePiModel('Raspberry Pi 5 Model B Rev 1.0\0');
let dir: string;
let pidFile: string;
beforeEach(async () => {
  dir = await tempDir();
  pidFile = path.join(dir, 'pigpio.pid');
  pig.FakeGpio.instances = [];
  pig.state.initializeError = undefined;
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('pigpio refusals', () => {
  it('refuses the Pi 5 without loading the addon', async () => {
    await expect(PigpioBackend.create({ model: pi5, pidFile, getuid: () => 0 })).rejects.toThrow(/Pi 5.*gpiod/);
    expect(pig.state.loaded).toBe(0);
  });

  it('refuses a machine that is not a Pi', async () => {
    await expect(PigpioBackend.create({ model: parsePiModel(null), pidFile, getuid: () => 0 })).rejects.toThrow(
      /needs a Raspberry Pi/,
    );
  });

  it('needs root', async () => {
    await expect(PigpioBackend.create({ model: pi4, pidFile, getuid: () => 1000 })).rejects.toThrow(/needs root/);
  });

  it('refuses while pigpiod holds the pid file', async () => {
    await fs.writeFile(pidFile, `${process.pid}\n`); // a live process
    await expect(PigpioBackend.create({ model: pi4, pidFile, getuid: () => 0 })).rejects.toThrow(
      new RegExp(`pigpiod \\(pid ${process.pid}\\) holds .*systemctl disable --now pigpiod`),
    );
  });

  it('maps the C library lock failure to the same advice', async () => {
    pig.state.initializeError = new Error("initInitialise: Can't lock /var/run/pigpio.pid");
    await expect(PigpioBackend.create({ model: pi4, pidFile, getuid: () => 0 })).rejects.toMatchObject({
      code: 'pigpio-locked',
    });
  });
});

describe('pigpio on a Pi 4 as root', () => {
  it('ignores a stale pid file, sets pull and glitch filter, reports alerts and writes outputs', async () => {
    await fs.writeFile(pidFile, '999999999\n'); // no such process
    const backend = await PigpioBackend.create({ model: pi4, pidFile, getuid: () => 0 });
    expect(pig.state.loaded).toBe(1);
    const levels: number[] = [];
    await backend.openInput(17, { pull: 'up', glitchFilterUs: 2000, onEdge: (l) => levels.push(l) });
    const led = await backend.openOutput(16, 0);
    const [input, output] = pig.FakeGpio.instances;
    expect(input.gpio).toBe(17); // pigpio takes BCM numbers directly
    expect(input.options).toEqual({ mode: 0, pullUpDown: 2, alert: true });
    expect(input.glitch).toBe(2000);
    for (const a of input.alerts) a(0, 123);
    for (const a of input.alerts) a(1, 456);
    expect(levels).toEqual([0, 1]);
    led.write(1);
    expect(output.options.mode).toBe(1);
    expect(output.writes).toEqual([0, 1]);
    await backend.close();
    expect(input.alertDisabled).toBe(true);
    expect(pig.state.terminated).toBe(1);
  });
});

describe('GpioComponent on pigpio', () => {
  it('leaves spikes to pigpio glitchFilter: status says so and an alert reaches the button at once', async () => {
    await fs.writeFile(path.join(dir, 'model'), 'Raspberry Pi 4 Model B Rev 1.5\0');
    const cfg = defaultConfig();
    cfg.gpio.backend = 'pigpio';
    cfg.gpio.modelPath = path.join(dir, 'model');
    cfg.gpio.buttons = [button({ name: 'shutter', pin: 26 })];
    const handlers = recordingHandlers();
    const gpio = new GpioComponent({ config: cfg, handlers, deps: { getuid: () => 0, pigpioPidFile: pidFile } });
    await gpio.start();
    try {
      expect((gpio.status() as { filter: unknown }).filter).toEqual({
        kind: 'pigpio',
        us: 2000,
        detail: 'pigpio glitchFilter(2000)',
      });
      const input = pig.FakeGpio.instances.find((g) => g.gpio === 26);
      expect(input?.glitch).toBe(2000);
      for (const a of input?.alerts ?? []) a(0, 1);
      expect(handlers.calls).toEqual(['shutter']); // no second filter in software: no added latency
    } finally {
      await gpio.stop();
    }
  });
});

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { defaultConfig } from '../../../src/config/load.js';
import { GpioComponent } from '../../../src/hw/gpio/gpio-component.js';
import { OnoffBackend } from '../../../src/hw/gpio/onoff-backend.js';
import { findPiGpioChip } from '../../../src/hw/gpio/sysfs.js';
import { configureLogging } from '../../../src/util/logger.js';
import { button as buttonConfig, fakeSysfs, recordingHandlers, tempDir, waitFor } from './helpers.js';

// onoff is mocked at the module boundary only: it would write to the real /sys/class/gpio.
const onoff = vi.hoisted(() => {
  type Cb = (err: Error | null, value: 0 | 1) => void;
  class FakeGpio {
    static accessible = true;
    static instances: FakeGpio[] = [];
    watchers: Cb[] = [];
    writes: number[] = [];
    unexported = false;
    constructor(
      readonly gpio: number,
      readonly direction: string,
      readonly edge?: string,
      readonly options?: unknown,
    ) {
      FakeGpio.instances.push(this);
    }
    watch(cb: Cb) {
      this.watchers.push(cb);
    }
    unwatchAll() {
      this.watchers = [];
    }
    writeSync(v: 0 | 1) {
      this.writes.push(v);
    }
    unexport() {
      this.unexported = true;
    }
  }
  return { FakeGpio };
});
vi.mock('onoff', () => ({ Gpio: onoff.FakeGpio }));

const trees = {
  // Kernels before 6.6 (Pi 3 / Zero 2 W): the controller at 0.
  base0: [
    { name: 'gpiochip0', label: 'pinctrl-bcm2835', base: 0, ngpio: 54 },
    { name: 'gpiochip504', label: 'raspberrypi-exp-gpio', base: 504, ngpio: 8 },
  ],
  // Kernel 6.6 on a Pi 4: the controller moved to 512.
  base512: [
    { name: 'gpiochip512', label: 'pinctrl-bcm2711', base: 512, ngpio: 58 },
    { name: 'gpiochip570', label: 'raspberrypi-exp-gpio', base: 570, ngpio: 8 },
  ],
  // Pi 5 on Bookworm: other chips come first; RP1 is at 571.
  base571: [
    { name: 'gpiochip512', label: 'gpio-brcmstb@107d508500', base: 512, ngpio: 32 },
    { name: 'gpiochip544', label: 'gpio-brcmstb@107d508520', base: 544, ngpio: 4 },
    { name: 'gpiochip548', label: 'gpio-brcmstb@107d517c00', base: 548, ngpio: 17 },
    { name: 'gpiochip565', label: 'gpio-brcmstb@107d517c20', base: 565, ngpio: 6 },
    { name: 'gpiochip571', label: 'pinctrl-rp1', base: 571, ngpio: 54 },
  ],
};

const roots: string[] = [];
beforeEach(() => {
  onoff.FakeGpio.instances = [];
  onoff.FakeGpio.accessible = true;
});
afterEach(async () => {
  for (const r of roots.splice(0)) await fs.rm(r, { recursive: true, force: true });
});
const tree = async (chips: (typeof trees)[keyof typeof trees]) => {
  const root = await fakeSysfs(chips);
  roots.push(root);
  return root;
};

describe('sysfs numbering', () => {
  for (const [name, chips, button, led] of [
    ['base 0', trees.base0, 17, 16],
    ['base 512', trees.base512, 529, 528],
    ['base 571 (Pi 5)', trees.base571, 588, 587],
  ] as const) {
    it(`${name}: BCM 17 → ${button}, BCM 16 → ${led}`, async () => {
      const backend = await OnoffBackend.create({ sysfsRoot: await tree(chips) });
      await backend.openInput(17, { pull: 'up', glitchFilterUs: 0, onEdge: () => {} });
      await backend.openOutput(16, 0);
      expect(onoff.FakeGpio.instances.map((g) => [g.gpio, g.direction, g.edge])).toEqual([
        [button, 'in', 'both'],
        [led, 'low', undefined],
      ]);
      await backend.close();
      expect(onoff.FakeGpio.instances.every((g) => g.unexported)).toBe(true);
    });
  }

  it('no Pi controller in the tree is a clear error listing what was found', async () => {
    const root = await tree([{ name: 'gpiochip0', label: 'some-expander', base: 0, ngpio: 8 }]);
    await expect(findPiGpioChip(root)).rejects.toThrow(/no Raspberry Pi GPIO controller.*gpiochip0=some-expander/);
  });

  it('a missing sysfs root is a clear error', async () => {
    const dir = await tempDir();
    roots.push(dir);
    await expect(findPiGpioChip(`${dir}/absent`)).rejects.toThrow(/cannot read .*sysfs GPIO enabled/);
  });

  it('sysfs that is not writable is refused with advice', async () => {
    onoff.FakeGpio.accessible = false;
    await expect(OnoffBackend.create({ sysfsRoot: await tree(trees.base512) })).rejects.toThrow(/gpio group/);
  });
});

describe('GpioComponent on onoff', () => {
  it('a watched edge on the sysfs line becomes a shutter call; LEDs are written through the same numbering', async () => {
    const cfg = defaultConfig();
    cfg.gpio.backend = 'onoff';
    cfg.gpio.sysfsRoot = await tree(trees.base571);
    cfg.gpio.buttons = [buttonConfig({ name: 'shutter', pin: 26 })];
    cfg.gpio.leds = [{ name: 'ready', pin: 16, role: 'ready', activeLow: false }];
    const handlers = recordingHandlers();
    const gpio = new GpioComponent({ config: cfg, handlers });
    await gpio.start();
    const button = onoff.FakeGpio.instances.find((g) => g.gpio === 571 + 26);
    const led = onoff.FakeGpio.instances.find((g) => g.gpio === 571 + 16);
    expect(button?.direction).toBe('in');
    expect(led?.writes.at(-1)).toBe(1); // ready: steady on
    for (const w of button?.watchers ?? []) w(null, 0); // active low: 0 = pressed
    // No spike filter in sysfs: the component's software filter passes the press once stable (2 ms default).
    expect((gpio.status() as { filter: { kind: string } }).filter.kind).toBe('software');
    await waitFor(() => handlers.calls.length > 0, 5000, 'shutter');
    expect(handlers.calls).toEqual(['shutter']);
    await gpio.stop();
    expect(led?.writes.at(-1)).toBe(0);
    expect(led?.unexported).toBe(true);
  });
});

describe('pull resistors onoff cannot set (issue 13, item 10)', () => {
  const logLines: string[] = [];
  beforeEach(() => {
    logLines.length = 0;
    configureLogging({ sink: (l) => logLines.push(l) });
  });
  afterEach(() => configureLogging({ sink: (l) => process.stdout.write(`${l}\n`) }));

  async function startOnoff(buttons: ReturnType<typeof buttonConfig>[], configTxt?: string) {
    const cfg = defaultConfig();
    cfg.gpio.backend = 'onoff';
    cfg.gpio.sysfsRoot = await tree(trees.base512);
    cfg.gpio.buttons = buttons;
    const boot = await tempDir();
    roots.push(boot);
    const file = path.join(boot, 'config.txt');
    if (configTxt !== undefined) await fs.writeFile(file, configTxt);
    const gpio = new GpioComponent({
      config: cfg,
      handlers: recordingHandlers(),
      deps: { bootConfigPaths: [file] },
    });
    await gpio.start();
    return gpio;
  }
  type Status = { warnings: string[] };

  it('a button to ground on BCM 26 (pulled down at boot) is a WARN at start naming the pin and the fix, and a status warning', async () => {
    const gpio = await startOnoff([
      buttonConfig({ name: 'shutter', pin: 26 }),
      buttonConfig({ name: 'power', pin: 3 }), // BCM 0-8 are pulled up at boot: fine
    ]);
    const warns = logLines.filter((l) => / WARN /.test(l));
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatch(
      /button "shutter" on BCM 26 .*never fires.*Add `gpio=26=ip,pu` to .*config\.txt and reboot/,
    );
    expect(warns[0]).toMatch(/configTxt="gpio=26=ip,pu"/);
    const s = gpio.status() as Status;
    expect(s.warnings).toHaveLength(1);
    expect(s.warnings[0]).toContain('gpio=26=ip,pu');
    await gpio.stop();
  });

  it('no warning once config.txt sets the pull (later lines win, ranges count)', async () => {
    const gpio = await startOnoff(
      [
        buttonConfig({ name: 'shutter', pin: 26 }),
        buttonConfig({ name: 'b', pin: 19, pull: 'down', activeLow: false }),
      ],
      '# buttons\ngpio=26=ip,pd\ngpio=20-27=ip,pu # shutter\n',
    );
    expect(logLines.filter((l) => / WARN /.test(l))).toEqual([]);
    expect((gpio.status() as Status).warnings).toEqual([]);
    await gpio.stop();
  });
});

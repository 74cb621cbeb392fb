import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Level } from '../../../src/hw/gpio/backend.js';
import { GpiodBackend } from '../../../src/hw/gpio/gpiod-backend.js';
import { configureLogging } from '../../../src/util/logger.js';
import { fakeSysfs, fakeTools, fixturesDir, tempDir, waitFor } from './helpers.js';

let dir: string;
let backend: GpiodBackend | undefined;
const savedEnv = { ...process.env };

beforeAll(async () => {
  // git keeps the executable bit, but a copied checkout may not.
  for (const f of ['gpiomon', 'gpioset', 'gpiodetect', 'fake-gpiod.cjs'])
    await fs.chmod(path.join(fixturesDir, f), 0o755);
});
beforeEach(async () => {
  dir = await tempDir();
  process.env.FAKE_GPIO_DIR = dir;
});
afterEach(async () => {
  await backend?.close();
  backend = undefined;
  process.env = { ...savedEnv };
  await fs.rm(dir, { recursive: true, force: true });
});

// The grace period only proves the child did not die at once; under load node may not have run the fake yet.
const readArgv = async (pin: number) =>
  JSON.parse(
    await waitFor(
      () => fs.readFile(path.join(dir, `gpiomon-${pin}.argv`), 'utf8').catch(() => ''),
      10_000,
      'gpiomon argv',
    ),
  ) as string[];
const pushEvent = (pin: number, line: string) => fs.appendFile(path.join(dir, `gpiomon-${pin}.events`), `${line}\n`);
const setLog = async () =>
  (await fs.readFile(path.join(dir, 'gpioset.log'), 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);

for (const version of [1, 2] as const) {
  describe(`libgpiod v${version}`, () => {
    beforeEach(() => {
      process.env.FAKE_GPIOD_VERSION = String(version);
    });

    it('detects the version and the Pi chip by label, and monitors a button with the right syntax', async () => {
      process.env.FAKE_GPIODETECT =
        'gpiochip0 [gpio-brcmstb@107d508500] (32 lines)\ngpiochip4 [pinctrl-rp1] (54 lines)\n';
      backend = await GpiodBackend.create({ tools: fakeTools, graceMs: 150, killAfterMs: 10_000 });
      expect(backend.version).toBe(version);
      expect(backend.chip).toBe('gpiochip4');
      const edges: { level: Level; ts?: number }[] = [];
      await backend.openInput(26, {
        pull: 'up',
        glitchFilterUs: 2000,
        onEdge: (level, ts) => edges.push({ level, ts }),
      });
      const argv = await readArgv(26);
      if (version === 1) expect(argv).toEqual(['-b', '-B', 'pull-up', '-F', '%e %o %s %n', 'gpiochip4', '26']);
      else
        expect(argv).toEqual([
          '-c',
          'gpiochip4',
          '-b',
          'pull-up',
          '-e',
          'both',
          '-F',
          '%E %o %S',
          '-p',
          '2000us',
          '26',
        ]);
      await pushEvent(26, 'falling 100.000000001');
      await pushEvent(26, 'rising 100.050000000');
      await waitFor(() => edges.length === 2, 5000, 'two edges');
      // v2 asked the kernel to debounce (-p 2000us): each edge is reported once stable, 2 ms after it happened.
      const delay = version === 2 ? 2 : 0;
      expect(edges).toEqual([
        { level: 0, ts: expect.closeTo(100000.000001 + delay, 6) },
        { level: 1, ts: expect.closeTo(100050 + delay, 6) },
      ]);
    });

    it('holds an LED with gpioset and swaps the process on a change', async () => {
      backend = await GpiodBackend.create({ tools: fakeTools, graceMs: 150, killAfterMs: 10_000 });
      expect(backend.chip).toBe('gpiochip0');
      const led = await backend.openOutput(16, 0);
      await waitFor(async () => (await setLog()).length === 1, 5000, 'gpioset start');
      led.write(1);
      led.write(0);
      led.write(1); // coalesced: only the latest level matters
      await waitFor(async () => (await setLog()).at(-1) === '16=1', 5000, 'gpioset 16=1');
      await led.close();
      const log = await setLog();
      expect(log[0]).toBe('16=0');
      expect(log.at(-1)).toBe('release 16');
      // Every start but the first follows a release: two processes never fight over the line.
      for (let i = 1; i < log.length; i++)
        if (!log[i].startsWith('release')) expect(log[i - 1]).toMatch(/^release 16$/);
    });
  });
}

describe('gpiod failures and supervision', () => {
  it('a monitor that fails at once rejects with its stderr and what it means', async () => {
    process.env.FAKE_GPIO_BUSY = '17';
    backend = await GpiodBackend.create({ tools: fakeTools, graceMs: 5000 });
    await expect(backend.openInput(17, { pull: 'up', glitchFilterUs: 0, onEdge: () => {} })).rejects.toThrow(
      /GPIO 17: .*unable to request lines on chip \/dev\/gpiochip0: Device or resource busy.*another program holds this line/,
    );
  });

  it('a missing gpiomon is a clear error', async () => {
    await expect(GpiodBackend.create({ tools: { ...fakeTools, gpiomon: path.join(dir, 'nope') } })).rejects.toThrow(
      /not found.*apt install gpiod/,
    );
  });

  it('restarts a monitor that dies, without losing later events', async () => {
    process.env.FAKE_GPIOMON_EXIT_AFTER = '1';
    backend = await GpiodBackend.create({ tools: fakeTools, graceMs: 150, backoffMs: [50] });
    const levels: Level[] = [];
    await backend.openInput(17, { pull: 'up', glitchFilterUs: 0, onEdge: (l) => levels.push(l) });
    await pushEvent(17, 'falling');
    await waitFor(() => levels.length === 1, 5000, 'first edge');
    await waitFor(() => (backend?.describe().monitorRestarts as number) >= 1, 5000, 'restart');
    await pushEvent(17, 'rising');
    await waitFor(() => levels.length === 2, 5000, 'edge after restart');
    expect(levels).toEqual([0, 1]);
    expect(String(backend.describe().lastMonitorError)).toMatch(/exited \(code 1\)/);
  });
});

describe('LEDs through gpioset (issue 13, item 9)', () => {
  const logLines: string[] = [];
  beforeEach(() => {
    logLines.length = 0;
    configureLogging({ level: 'debug', sink: (l) => logLines.push(l) });
  });
  afterEach(() => configureLogging({ level: 'info', sink: (l) => process.stdout.write(`${l}\n`) }));
  const warnings = () => logLines.filter((l) => / WARN /.test(l));

  for (const version of [1, 2] as const) {
    it(`v${version}: stopping gpioset for each LED change is routine, never a WARN`, async () => {
      process.env.FAKE_GPIOD_VERSION = String(version);
      backend = await GpiodBackend.create({ tools: fakeTools, graceMs: 150, killAfterMs: 10_000 });
      const led = await backend.openOutput(16, 0);
      await waitFor(async () => (await setLog()).at(-1) === '16=0', 5000, 'gpioset 16=0');
      for (const level of [1, 0, 1, 0] as const) {
        led.write(level);
        await waitFor(async () => (await setLog()).at(-1) === `16=${level}`, 5000, `gpioset 16=${level}`);
      }
      await led.close();
      expect(warnings()).toEqual([]);
      expect((await setLog()).filter((l) => l === 'release 16')).toHaveLength(5);
      // 1.6.3 exits 0 on SIGTERM, 2.2.1 dies of it: both are the stop we asked for.
      expect(logLines.filter((l) => /gpioset stopped/.test(l)).length).toBeGreaterThanOrEqual(4);
      expect(logLines.join('\n')).toMatch(
        version === 1 ? /gpioset stopped .*code=0/ : /gpioset stopped .*signal=SIGTERM/,
      );
    });
  }

  it('a gpioset that fails by itself warns once, with its stderr, however often the LED blinks', async () => {
    process.env.FAKE_GPIOD_VERSION = '1';
    process.env.FAKE_GPIO_BUSY = '21';
    backend = await GpiodBackend.create({ tools: fakeTools, graceMs: 150, killAfterMs: 10_000 });
    const led = await backend.openOutput(21, 0);
    for (const level of [1, 0, 1, 0, 1] as const) {
      led.write(level);
      await waitFor(() => logLines.some((l) => /LED line not held|LED write failed again/.test(l)), 5000, 'failure');
      await new Promise((r) => setTimeout(r, 100));
    }
    await led.close();
    const w = warnings();
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(
      /LED line not held pin=21 error=.*error setting the GPIO line values: Device or resource busy.*another program holds this line/,
    );
  });
});

describe('finding the chip: by label, never guessed (issue 13, item 9)', () => {
  for (const version of [1, 2] as const) {
    it(`v${version}: no Pi controller among the chips is an error naming what was found`, async () => {
      process.env.FAKE_GPIOD_VERSION = String(version);
      process.env.FAKE_GPIODETECT = 'gpiochip0 [some-expander] (8 lines)\ngpiochip1 [gpio-mockup-A] (4 lines)\n';
      await expect(GpiodBackend.create({ tools: fakeTools })).rejects.toThrow(
        /no Raspberry Pi GPIO controller \(pinctrl-bcm2835, pinctrl-bcm2711, pinctrl-rp1\).*found: gpiochip0 \[some-expander\], gpiochip1 \[gpio-mockup-A\].*does not guess/,
      );
    });
  }

  it('Pi 5 after raspberrypi/linux #6144: RP1 is gpiochip0, the SoC chips move to 10 and up', async () => {
    process.env.FAKE_GPIODETECT =
      'gpiochip0 [pinctrl-rp1] (54 lines)\ngpiochip10 [gpio-brcmstb@107d508500] (32 lines)\ngpiochip11 [gpio-brcmstb@107d508520] (4 lines)\n';
    backend = await GpiodBackend.create({ tools: fakeTools });
    expect(backend.describe()).toMatchObject({ chip: 'gpiochip0', chipLabel: 'pinctrl-rp1', libgpiod: '2.2.1' });
  });

  it('1.6.3 gpiodetect lists nothing when one chip is unreadable: the label comes from sysfs', async () => {
    process.env.FAKE_GPIOD_VERSION = '1';
    process.env.FAKE_GPIO_EACCES = 'gpiochip1';
    const sysfs = await fakeSysfs([
      { name: 'gpiochip512', label: 'pinctrl-bcm2711', base: 512, ngpio: 58 },
      { name: 'gpiochip570', label: 'raspberrypi-exp-gpio', base: 570, ngpio: 8 },
    ]);
    // The class device and the character device share the pin controller's platform device as parent.
    await fs.mkdir(path.join(sysfs, 'gpiochip512', 'device', 'gpiochip0'), { recursive: true });
    await fs.mkdir(path.join(sysfs, 'gpiochip570', 'device', 'gpiochip1'), { recursive: true });
    try {
      backend = await GpiodBackend.create({ tools: fakeTools, sysfsRoot: sysfs });
      expect(backend.describe()).toMatchObject({ chip: 'gpiochip0', chipLabel: 'pinctrl-bcm2711', libgpiod: '1.6.3' });
      const noSysfs = GpiodBackend.create({ tools: fakeTools, sysfsRoot: path.join(dir, 'absent') });
      await expect(noSysfs).rejects.toThrow(
        /gpiodetect.* failed \(exit 1\): .*unable to access GPIO chips: Permission denied; .*absent is not readable/,
      );
    } finally {
      await fs.rm(sysfs, { recursive: true, force: true });
    }
  });
});

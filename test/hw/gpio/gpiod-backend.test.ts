import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Level } from '../../../src/hw/gpio/backend.js';
import { GpiodBackend } from '../../../src/hw/gpio/gpiod-backend.js';
import { fakeTools, fixturesDir, tempDir, waitFor } from './helpers.js';

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
      backend = await GpiodBackend.create({ tools: fakeTools, graceMs: 150 });
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
      expect(edges).toEqual([
        { level: 0, ts: 100000.000001 },
        { level: 1, ts: 100050 },
      ]);
    });

    it('holds an LED with gpioset and swaps the process on a change', async () => {
      backend = await GpiodBackend.create({ tools: fakeTools, graceMs: 150 });
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
  it('a monitor that fails at once rejects with its stderr', async () => {
    process.env.FAKE_GPIOMON_FAIL = 'error requesting GPIO lines: Device or resource busy';
    backend = await GpiodBackend.create({ tools: fakeTools, graceMs: 5000 });
    await expect(backend.openInput(17, { pull: 'up', glitchFilterUs: 0, onEdge: () => {} })).rejects.toThrow(
      /GPIO 17: .*Device or resource busy/,
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

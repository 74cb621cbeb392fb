import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/config/load.js';
import { GpioComponent } from '../../../src/hw/gpio/gpio-component.js';
import { button, fakeTools, fixturesDir, recordingHandlers, tempDir, waitFor } from './helpers.js';

// Issue 13, item 9: a spike on the shutter wire must not take a photo, whichever libgpiod the Pi has. 1.6.3's
// gpiomon cannot filter, so the component does it from the event timestamps; 2.2.1 asks the kernel (-p).

let dir: string;
let gpio: GpioComponent | undefined;
const savedEnv = { ...process.env };
beforeAll(async () => {
  for (const f of ['gpiomon', 'gpioset', 'gpiodetect', 'fake-gpiod.cjs'])
    await fs.chmod(path.join(fixturesDir, f), 0o755);
});
beforeEach(async () => {
  dir = await tempDir();
  process.env.FAKE_GPIO_DIR = dir;
});
afterEach(async () => {
  await gpio?.stop();
  gpio = undefined;
  process.env = { ...savedEnv };
  await fs.rm(dir, { recursive: true, force: true });
});

// 50 ms: far longer than the 0.5 ms spike, and long enough that a loaded test machine delivers both of its edges
// within it.
const FILTER_US = 50_000;

async function start(version: 1 | 2) {
  process.env.FAKE_GPIOD_VERSION = String(version);
  const cfg = defaultConfig();
  cfg.gpio.backend = 'gpiod';
  cfg.gpio.modelPath = path.join(dir, 'no-model');
  cfg.gpio.glitchFilterUs = FILTER_US;
  cfg.gpio.buttons = [button({ name: 'shutter', pin: 26 })];
  const handlers = recordingHandlers();
  gpio = new GpioComponent({
    config: cfg,
    handlers,
    deps: { gpiod: { tools: fakeTools, graceMs: 150, killAfterMs: 10_000 } },
  });
  await gpio.start();
  return { gpio, handlers };
}

/** Appends edges for the fake gpiomon in one write and waits until it has read them all. */
async function edges(lines: string[]) {
  const file = path.join(dir, 'gpiomon-26.events');
  const before = (await fs.readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
  await fs.appendFile(file, `${lines.join('\n')}\n`);
  const pos = path.join(dir, 'gpiomon-26.pos');
  await waitFor(
    async () => Number(await fs.readFile(pos, 'utf8').catch(() => '0')) >= before + lines.length,
    10_000,
    'gpiomon read the edges',
  );
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Status = {
  filter: { kind: string; us: number; detail: string };
  buttons: { name: string; presses: number; filtered: number }[];
};

describe('a spike never fires the shutter', () => {
  it('libgpiod 1.6.3: filtered in software from gpiomon timestamps, shown in status', async () => {
    const { gpio, handlers } = await start(1);
    await waitFor(() => fs.readFile(path.join(dir, 'gpiomon-26.argv'), 'utf8').catch(() => ''), 10_000, 'gpiomon');
    const argv = JSON.parse(await fs.readFile(path.join(dir, 'gpiomon-26.argv'), 'utf8')) as string[];
    expect(argv).not.toContain('-p'); // 1.6.3 has no such option
    await edges(['falling 200.000000000', 'rising 200.000500000']); // 0.5 ms to ground and back
    await sleep(300);
    expect(handlers.calls).toEqual([]);
    expect((gpio.status() as Status).buttons[0]).toMatchObject({ presses: 0, filtered: 1 });
    expect((gpio.status() as Status).filter).toEqual({
      kind: 'software',
      us: FILTER_US,
      detail: "in software from gpiomon's event timestamps (libgpiod 1.6.3 has no debounce option)",
    });
    await edges(['falling 201.000000000']); // a real press: stays down
    await waitFor(() => handlers.calls.length === 1, 10_000, 'shutter');
    await edges(['rising 201.400000000']);
    await sleep(200);
    expect(handlers.calls).toEqual(['shutter']);
  });

  it('libgpiod 2.2.1: the kernel filters (gpiomon --debounce-period), shown in status', async () => {
    const { gpio, handlers } = await start(2);
    expect((gpio.status() as Status).filter).toEqual({
      kind: 'debounce-period',
      us: FILTER_US,
      detail: `gpiomon --debounce-period ${FILTER_US}us (libgpiod 2.2.1, in the kernel)`,
    });
    await waitFor(() => fs.readFile(path.join(dir, 'gpiomon-26.argv'), 'utf8').catch(() => ''), 10_000, 'gpiomon');
    const argv = JSON.parse(await fs.readFile(path.join(dir, 'gpiomon-26.argv'), 'utf8')) as string[];
    expect(argv.slice(argv.indexOf('-p'), argv.indexOf('-p') + 2)).toEqual(['-p', `${FILTER_US}us`]);
    await edges(['falling 200.000000000', 'rising 200.000500000']);
    await sleep(300);
    expect(handlers.calls).toEqual([]);
    expect((gpio.status() as Status).buttons[0]).toMatchObject({ presses: 0, filtered: 0 });
    await edges(['falling 201.000000000']);
    await waitFor(() => handlers.calls.length === 1, 10_000, 'shutter');
  });

  it('gpio.glitchFilterUs: 0 turns the filter off (and with it the added latency)', async () => {
    process.env.FAKE_GPIOD_VERSION = '1';
    const cfg = defaultConfig();
    cfg.gpio.backend = 'gpiod';
    cfg.gpio.glitchFilterUs = 0;
    cfg.gpio.buttons = [button({ name: 'shutter', pin: 26 })];
    const handlers = recordingHandlers();
    gpio = new GpioComponent({ config: cfg, handlers, deps: { gpiod: { tools: fakeTools, graceMs: 150 } } });
    await gpio.start();
    expect((gpio.status() as Status).filter).toMatchObject({ kind: 'off', us: 0 });
    await edges(['falling 200.000000000', 'rising 200.000500000']);
    await waitFor(() => handlers.calls.length === 1, 10_000, 'the unfiltered spike');
  });
});

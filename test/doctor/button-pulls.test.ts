import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/load.js';
import type { PinholeConfig } from '../../src/config/schema.js';
import { formatReport, runDoctor } from '../../src/doctor/run.js';
import { type DoctorSystem, execRunner } from '../../src/doctor/system.js';
import { configTxtLine, parseBootPulls, pullProblems } from '../../src/hw/gpio/pulls.js';
import { button } from '../hw/gpio/helpers.js';

// Issue 13, item 10: onoff cannot set pulls; `pinhole doctor` prints the config.txt line for each dead button.

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-doctor-pulls-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function write(rel: string, text: string, mode?: number) {
  const file = path.join(dir, rel);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text, { mode });
}

/** A Pi 4 with config.txt under the temp dir; `gpiomon` on its PATH only when asked. */
async function pi4(opts: { configTxt?: string; gpiomon?: boolean } = {}): Promise<DoctorSystem> {
  await write('proc/device-tree/model', 'Raspberry Pi 4 Model B Rev 1.5\0');
  await write('proc/meminfo', 'MemTotal: 3884000 kB\nMemAvailable: 3000000 kB\n');
  if (opts.configTxt !== undefined) await write('boot/firmware/config.txt', opts.configTxt);
  await fs.mkdir(path.join(dir, 'bin'), { recursive: true });
  if (opts.gpiomon) await write('bin/gpiomon', '#!/bin/sh\necho "gpiomon (libgpiod) v1.6.3"\n', 0o755);
  return {
    paths: {
      deviceTreeModel: path.join(dir, 'proc/device-tree/model'),
      meminfo: path.join(dir, 'proc/meminfo'),
      thermalRoot: path.join(dir, 'sys/class/thermal'),
      groupFile: path.join(dir, 'etc/group'),
      bootConfig: path.join(dir, 'boot/firmware/config.txt'),
    },
    exec: execRunner({ PATH: path.join(dir, 'bin') }),
    arch: 'arm64',
    machine: 'aarch64',
    nodeVersion: '20.20.2',
    now: () => new Date('2026-05-01T12:00:00Z'),
    user: 'pi',
    statfs: async () => ({ freeBytes: 20 * 2 ** 30, totalBytes: 29 * 2 ** 30 }),
  };
}

function config(over: (c: PinholeConfig) => void = () => {}): PinholeConfig {
  const c = defaultConfig();
  c.dataDir = dir;
  c.gpio.sysfsRoot = path.join(dir, 'sys/class/gpio');
  c.gpio.buttons = [button({ name: 'shutter', pin: 26 }), button({ name: 'power', pin: 3 })];
  over(c);
  return c;
}

const pullCheck = async (sys: DoctorSystem, cfg: PinholeConfig) => {
  const r = await runDoctor({ sys, config: cfg });
  const c = r.checks.find((x) => x.id === 'button-pulls');
  if (!c) throw new Error('no button-pulls check');
  return { r, c };
};

describe('pinhole doctor: button pulls', () => {
  it('auto picks onoff (no gpiomon): prints the exact config.txt line for the button that can never fire', async () => {
    const { r, c } = await pullCheck(await pi4({ configTxt: 'dtparam=audio=on\n' }), config());
    expect(c.status).toBe('fail');
    expect(c.message).toBe(
      '1 button(s) can never fire with onoff: shutter on BCM 26 wants pull-up but has pull-down at boot',
    );
    expect(c.fix).toBe(
      `add gpio=26=ip,pu to ${path.join(dir, 'boot/firmware/config.txt')} and reboot (or \`sudo apt install gpiod\`: the gpiod backend sets pulls itself)`,
    );
    expect(c.details).toMatchObject({ backend: 'onoff', lines: ['gpio=26=ip,pu'] });
    expect(formatReport(r).join('\n')).toMatch(/FAIL\s+Button pulls .*\n\s+fix: add gpio=26=ip,pu to /);
    expect(r.ok).toBe(false);
  });

  it('ok once config.txt has the line', async () => {
    const { c } = await pullCheck(await pi4({ configTxt: 'gpio=26=ip,pu\n' }), config());
    expect(c.status).toBe('ok');
  });

  it('gpiod sets pulls itself: ok, whatever config.txt says', async () => {
    const { c } = await pullCheck(await pi4({ gpiomon: true }), config());
    expect(c).toMatchObject({ status: 'ok', message: "the gpiod backend sets each button's pull itself" });
  });

  it('gpio.backend: onoff named explicitly, a pull-down button on BCM 5 (pulled up at boot)', async () => {
    const { c } = await pullCheck(
      await pi4({ gpiomon: true }),
      config((cfg) => {
        cfg.gpio.backend = 'onoff';
        cfg.gpio.buttons = [button({ name: 'b', pin: 5, pull: 'down', activeLow: false })];
      }),
    );
    expect(c.status).toBe('fail');
    expect(c.fix).toMatch(/^add gpio=5=ip,pd to /);
  });
});

describe('config.txt pulls', () => {
  it('reads single pins, ranges, lists, pn/np, comments; later lines win', () => {
    const pulls = parseBootPulls(
      'gpio=2-4,6=ip,pu\n# gpio=9=pu\ngpio=17=op,dh\ngpio=18,20=pd\ngpio=4=np\n[pi4]\ngpio = 21 = ip , pn\n',
    );
    expect(Object.fromEntries(pulls)).toEqual({
      2: 'up',
      3: 'up',
      4: 'off',
      6: 'up',
      18: 'down',
      20: 'down',
      21: 'off',
    });
  });

  it('writes the line for each pull', () => {
    expect(configTxtLine(26, 'up')).toBe('gpio=26=ip,pu');
    expect(configTxtLine(5, 'down')).toBe('gpio=5=ip,pd');
    expect(configTxtLine(12, 'off')).toBe('gpio=12=ip,pn');
  });

  it('flags only buttons whose pull differs from the boot pull (BCM 0-8 up, 9-27 down)', () => {
    const buttons = [
      button({ name: 'a', pin: 8 }),
      button({ name: 'b', pin: 9 }),
      button({ name: 'c', pin: 27, pull: 'down', activeLow: false }),
      button({ name: 'd', pin: 4, pull: 'off' }),
    ];
    expect(pullProblems(buttons, null).map((p) => [p.button, p.line])).toEqual([
      ['b', 'gpio=9=ip,pu'],
      ['d', 'gpio=4=ip,pn'],
    ]);
  });
});

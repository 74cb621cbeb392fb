import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/load.js';
import type { PinholeConfig } from '../../src/config/schema.js';
import { decodeThrottled, parseCameraList } from '../../src/doctor/checks.js';
import { formatReport, runDoctor } from '../../src/doctor/run.js';
import { type DoctorSystem, execRunner } from '../../src/doctor/system.js';
import type { DoctorReport } from '../../src/doctor/types.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const sharedModels = path.resolve(repoRoot, '../shared/models');

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-doctor-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function write(rel: string, text: string, mode?: number) {
  const file = path.join(dir, rel);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text, { mode });
  if (mode !== undefined) await fs.chmod(file, mode); // whatever the umask
}

const LIST_ONE_CAMERA = `Available cameras
-----------------
0 : imx708_wide [4608x2592 10-bit RGGB] (/base/soc/i2c0mux/i2c@1/imx708@1a)
    Modes: 'SRGGB10_CSI2P' : 1536x864 [120.13 fps - (768, 432)/3072x1728 crop]
`;

interface PiOpts {
  model?: string | null;
  camera?: string | null; // rpicam-hello stdout; null = not installed
  throttled?: string | null;
  tempMilli?: number;
  groupMembers?: string;
  ntp?: 'yes' | 'no';
  libgpiod?: string;
  memAvailKb?: number;
}

/** A fake Pi: /proc, /sys and /etc files under `dir`, and fake rpicam-hello / vcgencmd / timedatectl on a private PATH. */
async function fakePi(o: PiOpts = {}): Promise<DoctorSystem> {
  const model = o.model === undefined ? 'Raspberry Pi 4 Model B Rev 1.5' : o.model;
  if (model !== null) await write('proc/device-tree/model', `${model}\0`);
  await write(
    'proc/meminfo',
    `MemTotal:        3884000 kB\nMemFree:          100000 kB\nMemAvailable:   ${o.memAvailKb ?? 3000000} kB\nSwapTotal:        102396 kB\nSwapFree:         102396 kB\n`,
  );
  await write('sys/class/gpio/gpiochip512/label', 'pinctrl-bcm2711\n');
  await write('sys/class/gpio/gpiochip512/base', '512\n');
  await write('sys/class/gpio/gpiochip504/label', 'raspberrypi-exp-gpio\n');
  await write('sys/class/gpio/gpiochip504/base', '504\n');
  await write('sys/class/thermal/thermal_zone0/type', 'cpu-thermal\n');
  await write('sys/class/thermal/thermal_zone0/temp', `${o.tempMilli ?? 48300}\n`);
  const bin = path.join(dir, 'bin');
  await fs.mkdir(bin, { recursive: true });
  if (o.camera !== null) {
    await write('camera-list.txt', o.camera ?? LIST_ONE_CAMERA);
    await write(
      'bin/rpicam-hello',
      `#!/bin/sh\n[ "$1" = --list-cameras ] || exit 2\nexec /bin/cat '${path.join(dir, 'camera-list.txt')}'\n`,
      0o755,
    );
  }
  if (o.throttled !== null)
    await write(
      'bin/vcgencmd',
      `#!/bin/sh\n[ "$1" = get_throttled ] && echo 'throttled=${o.throttled ?? '0x0'}'\n`,
      0o755,
    );
  // `timedatectl show -p NTP -p NTPSynchronized -p CanNTP` prints the properties as KEY=value lines.
  await write(
    'bin/timedatectl',
    `#!/bin/sh\nprintf 'NTP=yes\\nNTPSynchronized=${o.ntp ?? 'yes'}\\nCanNTP=yes\\n'\n`,
    0o755,
  );
  // libgpiod's tools print `<tool> (libgpiod) v<version>` for --version.
  for (const tool of ['gpiomon', 'gpioset'])
    await write(
      `bin/${tool}`,
      `#!/bin/sh\n[ "$1" = --version ] && echo '${tool} (libgpiod) v${o.libgpiod ?? '1.6.3'}'\n`,
      0o755,
    );
  // The service user and its devices: the fake gpio group is this test's own gid, so 0660 nodes it creates are the
  // service's through its gpio membership (no root needed to make them).
  const gid = process.getgid?.() ?? 0;
  await write('etc/passwd', `root:x:0:0::/root:/bin/sh\npinhole:x:999:996::/var/lib/pinhole:/usr/sbin/nologin\n`);
  await write(
    'etc/group',
    `root:x:0:\nvideo:x:44:${o.groupMembers ?? 'pi,pinhole'}\ngpio:x:${gid}:${o.groupMembers ?? 'pi,pinhole'}\npinhole:x:996:${o.groupMembers ?? 'pi'}\n`,
  );
  for (const node of ['gpiochip0', 'video0', 'media0', 'dma_heap/linux,cma']) await write(`dev/${node}`, '', 0o660);
  await fs.mkdir(path.join(dir, 'etc/polkit-1/rules.d'), { recursive: true });
  await fs.copyFile(
    path.join(repoRoot, 'systemd/50-pinhole.rules'),
    path.join(dir, 'etc/polkit-1/rules.d/50-pinhole.rules'),
  );
  await write('usr/lib/polkit-1/polkitd', '', 0o755);
  return {
    paths: {
      deviceTreeModel: path.join(dir, 'proc/device-tree/model'),
      meminfo: path.join(dir, 'proc/meminfo'),
      thermalRoot: path.join(dir, 'sys/class/thermal'),
      groupFile: path.join(dir, 'etc/group'),
      service: {
        passwdFile: path.join(dir, 'etc/passwd'),
        devRoot: path.join(dir, 'dev'),
        polkitRulesDir: path.join(dir, 'etc/polkit-1/rules.d'),
        polkitd: path.join(dir, 'usr/lib/polkit-1/polkitd'),
      },
    },
    exec: execRunner({ PATH: bin }),
    arch: 'arm64',
    machine: 'aarch64',
    nodeVersion: '20.20.2',
    now: () => new Date('2026-05-01T12:00:00Z'),
    user: 'pi',
    statfs: async () => ({ freeBytes: 20 * 2 ** 30, totalBytes: 29 * 2 ** 30 }),
  };
}

function piConfig(over: (c: PinholeConfig) => void = () => {}): PinholeConfig {
  const c = defaultConfig();
  c.gpio.sysfsRoot = path.join(dir, 'sys/class/gpio');
  c.models.dir = sharedModels;
  c.dataDir = dir;
  over(c);
  return c;
}

const byId = (r: DoctorReport, id: string) => {
  const c = r.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id}`);
  return c;
};

describe('pinhole doctor on a fake Pi', () => {
  it('passes everything on a healthy Pi 4', async () => {
    const r = await runDoctor({ sys: await fakePi(), config: piConfig() });
    const bad = r.checks.filter((c) => c.status === 'fail' || c.status === 'warn');
    expect(bad, JSON.stringify(bad)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.board).toMatchObject({ id: 'pi4', profile: 'pi4' });
    expect(byId(r, 'camera').message).toBe('0: imx708_wide 4608x2592');
    expect(byId(r, 'gpio').message).toContain('pinctrl-bcm2711 at gpiochip512, base 512 (BCM 17 = sysfs 529)');
    expect(byId(r, 'models').message).toMatch(/^\d+ models verified \(sha256\)/);
    expect(byId(r, 'temperature').message).toBe('48.3 °C (cpu-thermal)');
    expect(byId(r, 'clock').message).toContain('NTP synchronised (NTP owns the clock)');
    expect(byId(r, 'service-user').message).toBe(
      'pinhole (groups gpio, pinhole, video) can open gpiochip0, media0, video0, dma_heap/linux,cma',
    );
    expect(byId(r, 'gpio-tools').message).toBe('gpiomon and gpioset v1.6.3 (libgpiod v1: no debounce option)');
    expect(byId(r, 'polkit').message).toContain('lets pinhole power off, reboot and set the clock');
  });

  it('checks the service user, not the caller: its groups, its device access, the polkit rule, the gpiod tools', async () => {
    // The caller (pi) is in every group, but the service user is in none and a camera node is owner-only.
    const sys = await fakePi({ groupMembers: 'pi', libgpiod: '2.2.1' });
    await fs.chmod(path.join(dir, 'dev/video0'), 0o600);
    let r = await runDoctor({ sys, config: piConfig() });
    expect(byId(r, 'groups').status).toBe('ok');
    // The unit's SupplementaryGroups still give it gpio (the group of every node here), so only video0's mode bites.
    expect(byId(r, 'service-user')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('cannot open'),
    });
    expect(byId(r, 'service-user').message).toContain(`${path.join(dir, 'dev/video0')} (600, group gpio)`);
    expect(byId(r, 'service-user').message).not.toContain('gpiochip0');
    expect(byId(r, 'gpio-tools').message).toBe('gpiomon and gpioset v2.2.1 (libgpiod v2)');
    // No rule, then a rule that grants less.
    const rule = path.join(dir, 'etc/polkit-1/rules.d/50-pinhole.rules');
    await fs.rm(rule);
    r = await runDoctor({ sys, config: piConfig() });
    expect(byId(r, 'polkit')).toMatchObject({ status: 'fail', message: expect.stringContaining('is missing') });
    await fs.writeFile(
      rule,
      'polkit.addRule(function (a, s) { if (s.user === "pinhole" && a.id === "org.freedesktop.login1.reboot") return polkit.Result.YES; });\n',
    );
    r = await runDoctor({ sys, config: piConfig() });
    expect(byId(r, 'polkit').message).toContain('does not grant org.freedesktop.login1.power-off');
    // No service user at all on a Pi: not installed.
    await fs.writeFile(path.join(dir, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
    r = await runDoctor({ sys, config: piConfig() });
    expect(byId(r, 'service-user')).toMatchObject({ status: 'fail', fix: 'sudo scripts/install.sh' });
    // gpiomon missing with gpio.backend gpiod: a failure naming the package.
    await fs.rm(path.join(dir, 'bin/gpiomon'));
    r = await runDoctor({
      sys,
      config: piConfig((c) => {
        c.gpio.backend = 'gpiod';
      }),
    });
    expect(byId(r, 'gpio-tools')).toMatchObject({
      status: 'fail',
      message: 'gpiomon not found',
      fix: 'sudo apt install gpiod',
    });
  });

  it('asks polkit with pkcheck when the service user cannot read the rule (Debian: rules.d is 0700 polkitd)', async () => {
    const sys = await fakePi();
    const rule = path.join(dir, 'etc/polkit-1/rules.d/50-pinhole.rules');
    // The tests run as root, so the EACCES that user pinhole gets is injected at the doctor's read seam.
    const readFile = async (f: string) => {
      if (f === rule) throw Object.assign(new Error(`EACCES: permission denied, open '${f}'`), { code: 'EACCES' });
      return fs.readFile(f, 'utf8');
    };
    const asPinhole = { ...sys, readFile, self: { pid: 4242, uid: 999 } };
    // A stand-in pkcheck with pkcheck(1)'s exit codes (polkit 122): 0 authorised, 1 not (message on stderr).
    const allowedFile = path.join(dir, 'allowed.txt');
    const argsLog = path.join(dir, 'pkcheck.log');
    await write(
      'bin/pkcheck',
      `#!/bin/sh\necho "$*" >> '${argsLog}'\n/bin/grep -qx "$2" '${allowedFile}' && exit 0\necho 'Not authorized.' >&2; exit 1\n`,
      0o755,
    );
    await write(
      'allowed.txt',
      'org.freedesktop.login1.power-off\norg.freedesktop.login1.reboot\norg.freedesktop.timedate1.set-time\norg.freedesktop.timedate1.set-ntp\n',
    );
    let r = await runDoctor({ sys: asPinhole, config: piConfig() });
    expect(byId(r, 'polkit')).toMatchObject({
      status: 'ok',
      message: 'polkit lets pinhole power off, reboot and set the clock (asked with pkcheck)',
    });
    // Asked about the doctor's own process, once per action the rule grants.
    const asked = (await fs.readFile(argsLog, 'utf8')).trim().split('\n');
    expect(asked).toHaveLength(4);
    expect(asked[0]).toBe('--action-id org.freedesktop.login1.power-off --process 4242');
    // Refused: a failure naming the refused action.
    await write('allowed.txt', 'org.freedesktop.login1.reboot\n');
    r = await runDoctor({ sys: asPinhole, config: piConfig() });
    expect(byId(r, 'polkit')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('polkit refuses pinhole org.freedesktop.login1.power-off'),
    });
    expect(byId(r, 'polkit').message).not.toContain('login1.reboot');
    // pkcheck absent: polkit cannot be asked, and the fix is the package that ships it.
    await fs.rm(path.join(dir, 'bin/pkcheck'));
    r = await runDoctor({ sys: asPinhole, config: piConfig() });
    expect(byId(r, 'polkit')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('pkcheck is not installed'),
      fix: 'sudo apt install polkitd',
    });
    // Another user who cannot read it: pkcheck would answer for that user, not pinhole, so nothing is claimed.
    r = await runDoctor({ sys: { ...asPinhole, self: { pid: 4242, uid: 1000 } }, config: piConfig() });
    expect(byId(r, 'polkit')).toMatchObject({
      status: 'warn',
      fix: 'sudo pinhole doctor (it checks as the service user)',
    });
    // Missing for real (ENOENT) stays a plain failure, pkcheck or not.
    await fs.rm(rule);
    r = await runDoctor({ sys: { ...sys, self: { pid: 4242, uid: 999 } }, config: piConfig() });
    expect(byId(r, 'polkit')).toMatchObject({ status: 'fail', message: expect.stringContaining('is missing') });
  });

  it('fails with a fix when the camera is absent or rpicam-apps missing', async () => {
    let r = await runDoctor({ sys: await fakePi({ camera: 'No cameras available!\n' }), config: piConfig() });
    expect(byId(r, 'camera')).toMatchObject({ status: 'fail', message: expect.stringContaining('no camera detected') });
    expect(byId(r, 'camera').fix).toContain('ribbon cable');
    expect(r.ok).toBe(false);
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(dir);
    r = await runDoctor({ sys: await fakePi({ camera: null }), config: piConfig() });
    expect(byId(r, 'camera')).toMatchObject({ status: 'fail', fix: 'sudo apt install rpicam-apps' });
  });

  it('decodes throttling bits: under-voltage now fails, past events warn', async () => {
    let r = await runDoctor({ sys: await fakePi({ throttled: '0x50005' }), config: piConfig() });
    expect(byId(r, 'throttling').status).toBe('fail');
    expect(byId(r, 'throttling').message).toContain('under-voltage now');
    expect(byId(r, 'throttling').fix).toContain('power supply');
    r = await runDoctor({ sys: await fakePi({ throttled: '0x50000' }), config: piConfig() });
    expect(byId(r, 'throttling')).toMatchObject({
      status: 'warn',
      message: expect.stringContaining('since boot, under-voltage has occurred'),
    });
  });

  it('reports missing GPIO chip, groups, hot CPU, unset clock and a corrupt model', async () => {
    const sys = await fakePi({ groupMembers: '', tempMilli: 86000, ntp: 'no' });
    await fs.rm(path.join(dir, 'sys/class/gpio/gpiochip512'), { recursive: true });
    const models = path.join(dir, 'models');
    await fs.mkdir(models);
    for (const f of await fs.readdir(sharedModels))
      if (f.endsWith('.onnx')) await fs.copyFile(path.join(sharedModels, f), path.join(models, f));
    const victim = path.join(models, 'yunet_n_dynamic.onnx');
    const bytes = await fs.readFile(victim);
    bytes[1000] ^= 0xff; // same size, wrong hash
    await fs.writeFile(victim, bytes);
    const r = await runDoctor({
      sys: { ...sys, now: () => new Date('1970-01-01T00:01:00Z') },
      config: piConfig((c) => {
        c.models.dir = models;
      }),
    });
    expect(byId(r, 'gpio')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('found: raspberrypi-exp-gpio'),
    });
    expect(byId(r, 'groups')).toMatchObject({
      status: 'warn',
      fix: 'sudo usermod -aG pinhole pi  # then log out and back in',
    });
    expect(byId(r, 'temperature').status).toBe('fail');
    expect(byId(r, 'clock')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('1970-01-01T00:01:00Z'),
    });
    const later = await runDoctor({ sys, config: piConfig() });
    expect(byId(later, 'clock')).toMatchObject({
      status: 'warn',
      message:
        '2026-05-01T12:00:00Z, not synchronised by NTP yet (setting the time from the phone pauses NTP for the change)',
    });
    expect(byId(r, 'models')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('yunet_n_dynamic.onnx sha256'),
    });
    expect(r.ok).toBe(false);
  });

  it('fails when the configured face model is missing, warns for other missing models', async () => {
    const models = path.join(dir, 'models');
    await fs.mkdir(models);
    await fs.copyFile(path.join(sharedModels, 'yunet_s_dynamic.onnx'), path.join(models, 'yunet_s_dynamic.onnx'));
    let r = await runDoctor({
      sys: await fakePi(),
      config: piConfig((c) => {
        c.models.dir = models;
      }),
    });
    expect(byId(r, 'models')).toMatchObject({ status: 'warn', fix: 'sudo pinhole models install' });
    r = await runDoctor({
      sys: await fakePi(),
      config: piConfig((c) => {
        c.models.dir = models;
        c.vision.faces.model = 'yunet_n_dynamic';
      }),
    });
    expect(byId(r, 'models').status).toBe('fail');
  });

  it('refuses a 32-bit userland and an unsupported board', async () => {
    const sys = await fakePi({ model: 'Raspberry Pi Zero W Rev 1.1' });
    const r = await runDoctor({ sys: { ...sys, arch: 'arm', machine: 'armv6l' }, config: piConfig() });
    expect(byId(r, 'board')).toMatchObject({ status: 'fail', message: expect.stringContaining('not supported') });
    expect(byId(r, 'os-64bit')).toMatchObject({ status: 'fail', fix: expect.stringContaining('64-bit') });
  });

  it('uses the low-disk threshold from storage.minFreeMB', async () => {
    const sys = await fakePi();
    const r = await runDoctor({
      sys: { ...sys, statfs: async () => ({ freeBytes: 100 * 2 ** 20, totalBytes: 8 * 2 ** 30 }) },
      config: piConfig(),
    });
    expect(byId(r, 'disk')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('below storage.minFreeMB (200 MB)'),
    });
  });
});

describe('pinhole doctor off a Pi', () => {
  it('says "not a Raspberry Pi" and skips the Pi-only checks instead of failing them', async () => {
    const sys = await fakePi({ model: null, camera: null, throttled: null });
    const r = await runDoctor({ sys: { ...sys, arch: 'x64', machine: 'x86_64' }, config: piConfig() });
    expect(r.board.id).toBe('not-pi');
    for (const id of ['board', 'camera', 'gpio', 'groups', 'throttling', 'gpio-tools'])
      expect(byId(r, id).status, id).toBe('skip');
    expect(byId(r, 'board').message).toContain('not a Raspberry Pi');
    expect(r.ok).toBe(true);
    const text = formatReport(r).join('\n');
    expect(text).toContain('Pinhole doctor: not a Raspberry Pi');
    expect(text).toMatch(/skip\s+Camera\s+not a Raspberry Pi/);
  });
});

describe('parsers', () => {
  it('parses several cameras', () => {
    const two = `${LIST_ONE_CAMERA}1 : ov5647 [2592x1944 10-bit GBRG] (/base/axi/pcie@120000/rp1/i2c@80000/ov5647@36)\n`;
    expect(parseCameraList(two)).toEqual([
      { index: 0, sensor: 'imx708_wide', resolution: '4608x2592' },
      { index: 1, sensor: 'ov5647', resolution: '2592x1944' },
    ]);
    expect(parseCameraList('No cameras available!')).toEqual([]);
  });
  it('decodes get_throttled', () => {
    expect(decodeThrottled('throttled=0x0')).toEqual({ value: 0, now: [], past: [] });
    expect(decodeThrottled('throttled=0xe0008')).toEqual({
      value: 0xe0008,
      now: ['soft temperature limit now'],
      past: ['ARM frequency capping has occurred', 'throttling has occurred', 'soft temperature limit has occurred'],
    });
    expect(decodeThrottled('error')).toBeNull();
  });
});

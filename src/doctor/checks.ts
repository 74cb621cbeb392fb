import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { BoardInfo } from '../config/board-profile.js';
import type { PinholeConfig } from '../config/schema.js';
import { allModelStatus, loadManifest } from '../models/manifest.js';
import { clockInfo, parseTimedateShow } from '../system/clock.js';
import { errorMessage } from '../util/errors.js';
import { checkButtonPulls } from './gpio-pulls.js';
import { checkGpioTools } from './gpio-tools.js';
import { checkPolkit, checkServiceUser } from './service.js';
import type { DoctorSystem } from './system.js';
import type { CheckResult } from './types.js';

export interface DoctorContext {
  sys: DoctorSystem;
  config: PinholeConfig;
  board: BoardInfo;
  /** models/manifest.json to verify against (default: the one shipped with the code). */
  manifestFile?: string;
}

type Check = (ctx: DoctorContext) => Promise<CheckResult>;

const onPi = (b: BoardInfo) => b.id !== 'not-pi';
const notPi = (id: string, title: string): CheckResult => ({
  id,
  title,
  status: 'skip',
  message: 'not a Raspberry Pi: check skipped',
});

async function readOptional(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return null;
  }
}

const mb = (bytes: number) => Math.round(bytes / 1048576);
const gb = (bytes: number) => (bytes / 1073741824).toFixed(1);

export const checkBoard: Check = async ({ board }) => {
  const base = { id: 'board', title: 'Board', details: { ...board } };
  switch (board.id) {
    case 'not-pi':
      return {
        ...base,
        status: 'skip',
        message: 'not a Raspberry Pi (no /proc/device-tree/model): Pi-only checks are skipped',
      };
    case 'unsupported-pi':
      return {
        ...base,
        status: 'fail',
        message: `${board.model} is not supported: it cannot run a 64-bit OS, and onnxruntime-node has no 32-bit ARM build`,
        fix: 'Use a Pi Zero 2 W, Pi 3, Pi 4 or Pi 5 with Raspberry Pi OS (64-bit).',
      };
    default:
      return {
        ...base,
        status: 'ok',
        message: `${board.model}${board.memTotalMB === null ? '' : `, ${board.memTotalMB} MB RAM`}`,
      };
  }
};

export const check64Bit: Check = async ({ sys }) => {
  const base = { id: 'os-64bit', title: '64-bit OS', details: { arch: sys.arch, machine: sys.machine } };
  if (sys.arch === 'arm64' || sys.arch === 'x64')
    return { ...base, status: 'ok', message: `${sys.arch} userland (${sys.machine})` };
  return {
    ...base,
    status: 'fail',
    message: `${sys.arch} userland (kernel ${sys.machine}): onnxruntime-node and the arm64 sharp build need a 64-bit OS`,
    fix: 'Reflash the card with Raspberry Pi OS (64-bit) Bookworm (Raspberry Pi Imager → "Raspberry Pi OS (64-bit)").',
  };
};

export const checkNode: Check = async ({ sys }) => {
  const [maj, min] = sys.nodeVersion.split('.').map(Number);
  const ok = maj > 20 || (maj === 20 && min >= 19);
  return ok
    ? { id: 'node', title: 'Node.js', status: 'ok', message: `Node ${sys.nodeVersion}` }
    : {
        id: 'node',
        title: 'Node.js',
        status: 'fail',
        message: `Node ${sys.nodeVersion} is too old (need ≥ 20.19)`,
        fix: 'Rerun scripts/install.sh; it installs Node 20 from NodeSource.',
      };
};

/** `rpicam-hello --list-cameras` lines like `0 : imx708_wide [4608x2592 10-bit RGGB] (/base/...)`. */
export function parseCameraList(text: string): { index: number; sensor: string; resolution: string }[] {
  const cams: { index: number; sensor: string; resolution: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s*:\s*(\S+)\s*\[(\d+x\d+)/.exec(line);
    if (m) cams.push({ index: Number(m[1]), sensor: m[2], resolution: m[3] });
  }
  return cams;
}

export const checkCamera: Check = async ({ sys, config, board }) => {
  const id = 'camera';
  const title = 'Camera';
  if (config.camera.backend !== 'rpicam')
    return { id, title, status: 'skip', message: `camera.backend is ${config.camera.backend}` };
  if (!onPi(board)) return notPi(id, title);
  const r = await sys.exec('rpicam-hello', ['--list-cameras'], 15_000);
  if (!r.found)
    return {
      id,
      title,
      status: 'fail',
      message: 'rpicam-apps is not installed (rpicam-hello not found)',
      fix: 'sudo apt install rpicam-apps',
    };
  if (r.timedOut)
    return {
      id,
      title,
      status: 'fail',
      message: 'rpicam-hello --list-cameras hung for 15 s',
      fix: 'Reboot; if it persists, check `dmesg` for camera/unicam errors.',
    };
  const cams = parseCameraList(`${r.stdout}\n${r.stderr}`);
  if (cams.length === 0) {
    return {
      id,
      title,
      status: 'fail',
      message: 'no camera detected (rpicam-hello --list-cameras lists none)',
      fix: 'Power off, reseat the ribbon cable (contacts towards the board on a Zero/Pi 5 connector), keep camera_auto_detect=1 in /boot/firmware/config.txt, reboot.',
      details: { output: `${r.stdout}${r.stderr}`.trim().slice(0, 500) },
    };
  }
  return {
    id,
    title,
    status: 'ok',
    message: cams.map((c) => `${c.index}: ${c.sensor} ${c.resolution}`).join(', '),
    details: { cameras: cams },
  };
};

export const GPIO_LABELS = ['pinctrl-bcm2835', 'pinctrl-bcm2711', 'pinctrl-rp1'];

export const checkGpio: Check = async ({ config, board }) => {
  const id = 'gpio';
  const title = 'GPIO chip';
  if (config.gpio.backend === 'sim' || config.gpio.backend === 'none')
    return { id, title, status: 'skip', message: `gpio.backend is ${config.gpio.backend}` };
  if (!onPi(board)) return notPi(id, title);
  const root = config.gpio.sysfsRoot;
  let entries: string[];
  try {
    entries = (await fs.readdir(root)).filter((e) => e.startsWith('gpiochip'));
  } catch {
    return {
      id,
      title,
      status: config.gpio.backend === 'onoff' ? 'fail' : 'warn',
      message: `${root} is missing (kernel without sysfs GPIO): the onoff backend cannot work`,
      fix: 'Use gpio.backend: gpiod (libgpiod tools, works on every model).',
    };
  }
  const chips: { chip: string; label: string; base: number }[] = [];
  for (const e of entries) {
    const label = (await readOptional(path.join(root, e, 'label')))?.trim();
    const base = Number((await readOptional(path.join(root, e, 'base')))?.trim());
    if (label && Number.isInteger(base)) chips.push({ chip: e, label, base });
  }
  const main = chips.find((c) => GPIO_LABELS.includes(c.label));
  if (!main) {
    return {
      id,
      title,
      status: 'fail',
      message: `no GPIO chip labelled ${GPIO_LABELS.join(' / ')} under ${root} (found: ${chips.map((c) => c.label).join(', ') || 'none'})`,
      fix: 'Update the kernel (sudo apt full-upgrade) and reboot; check that the device tree is not overridden in config.txt.',
      details: { chips },
    };
  }
  return {
    id,
    title,
    status: 'ok',
    message: `${main.label} at ${main.chip}, base ${main.base} (BCM 17 = sysfs ${main.base + 17})`,
    details: { chips, base: main.base },
  };
};

/** Members of each group in an /etc/group text (supplementary membership only). */
export function parseGroups(text: string): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const [name, , , members] = line.split(':');
    if (!name || members === undefined) continue;
    groups.set(name, members.trim() ? members.trim().split(',') : []);
  }
  return groups;
}

export const checkGroups: Check = async ({ sys, board }) => {
  const id = 'groups';
  const title = 'User groups';
  if (!onPi(board)) return notPi(id, title);
  const text = await readOptional(sys.paths.groupFile);
  if (text === null) return { id, title, status: 'warn', message: `cannot read ${sys.paths.groupFile}` };
  const groups = parseGroups(text);
  const missingGroups = ['video', 'gpio'].filter((g) => !groups.has(g));
  if (missingGroups.length) {
    return {
      id,
      title,
      status: 'fail',
      message: `group ${missingGroups.join(', ')} does not exist: the service (SupplementaryGroups=video gpio) cannot start`,
      fix: `sudo groupadd --system ${missingGroups[0]}  # Raspberry Pi OS creates video and gpio itself; is this Raspberry Pi OS?`,
    };
  }
  const details = { user: sys.user, pinholeGroup: groups.has('pinhole') };
  if (sys.user === 'root') return { id, title, status: 'ok', message: 'running as root (every group)', details };
  // The service's own groups and devices are the service-user check's business; the person running `pinhole`
  // commands needs group pinhole only, for the control socket (mode 0660).
  if (!groups.has('pinhole'))
    return {
      id,
      title,
      status: 'ok',
      message: `no pinhole group (not installed as a service): ${sys.user} needs none`,
      details,
    };
  if (!(groups.get('pinhole') ?? []).includes(sys.user)) {
    return {
      id,
      title,
      status: 'warn',
      message: `${sys.user} is not in pinhole (pinhole commands cannot reach the control socket without sudo)`,
      fix: `sudo usermod -aG pinhole ${sys.user}  # then log out and back in`,
      details,
    };
  }
  return { id, title, status: 'ok', message: `${sys.user} is in pinhole (reaches the control socket)`, details };
};

export const checkModels: Check = async ({ config, manifestFile }) => {
  const id = 'models';
  const title = 'Models';
  const dir = config.models.dir;
  let manifest: Awaited<ReturnType<typeof loadManifest>>;
  try {
    manifest = await loadManifest(manifestFile);
  } catch (e) {
    return {
      id,
      title,
      status: 'fail',
      message: `cannot read the model manifest: ${errorMessage(e)}`,
      fix: 'Reinstall Pinhole (scripts/install.sh).',
    };
  }
  const states = await allModelStatus(dir, { verify: true }, manifest);
  const verified = states.filter((s) => s.state === 'verified');
  const corrupt = states.filter((s) => s.state === 'corrupt');
  const missing = states.filter((s) => s.state === 'missing');
  const faceModel = config.vision.faces.enabled ? config.vision.faces.model : null;
  const faceEntry = faceModel
    ? manifest.models.find((m) => m.name === faceModel || m.aliases?.includes(faceModel))
    : undefined;
  const faceMissing = faceEntry ? missing.some((s) => s.name === faceEntry.name) : false;
  const details = { dir, models: states.map((s) => ({ name: s.name, state: s.state, reason: s.reason })) };
  if (corrupt.length) {
    return {
      id,
      title,
      status: 'fail',
      message: `${corrupt.length} model(s) fail the sha256 check: ${corrupt.map((s) => s.reason).join('; ')}`,
      fix: 'sudo pinhole models install',
      details,
    };
  }
  if (faceMissing) {
    return {
      id,
      title,
      status: 'fail',
      message: `face model ${faceModel} is not installed in ${dir} (${verified.length}/${states.length} installed)`,
      fix: 'sudo pinhole models install',
      details,
    };
  }
  if (missing.length) {
    return {
      id,
      title,
      status: 'warn',
      message: `${verified.length}/${states.length} verified; missing: ${missing.map((s) => s.name).join(', ')}`,
      fix: 'sudo pinhole models install',
      details,
    };
  }
  return { id, title, status: 'ok', message: `${verified.length} models verified (sha256) in ${dir}`, details };
};

async function nearestExisting(dir: string): Promise<string> {
  let cur = path.resolve(dir);
  for (;;) {
    try {
      await fs.stat(cur);
      return cur;
    } catch {
      const up = path.dirname(cur);
      if (up === cur) return cur;
      cur = up;
    }
  }
}

export const checkDisk: Check = async ({ sys, config }) => {
  const id = 'disk';
  const title = 'Disk space';
  const where = await nearestExisting(config.dataDir);
  let s: { freeBytes: number; totalBytes: number };
  try {
    s = await sys.statfs(where);
  } catch (e) {
    return { id, title, status: 'warn', message: `cannot stat ${where}: ${errorMessage(e)}` };
  }
  const minFree = config.storage.minFreeMB;
  const details = { path: where, freeMB: mb(s.freeBytes), totalMB: mb(s.totalBytes), minFreeMB: minFree };
  const msg = `${gb(s.freeBytes)} GB free of ${gb(s.totalBytes)} GB at ${where}`;
  if (mb(s.freeBytes) < minFree) {
    return {
      id,
      title,
      status: 'fail',
      message: `${msg}: below storage.minFreeMB (${minFree} MB), captures are refused`,
      fix: 'Delete photos in the web UI gallery, or `sudo apt clean`; use a bigger card.',
      details,
    };
  }
  if (mb(s.freeBytes) < Math.max(1024, 3 * minFree)) {
    return {
      id,
      title,
      status: 'warn',
      message: `${msg}: getting low`,
      fix: 'Download and delete old photos.',
      details,
    };
  }
  return { id, title, status: 'ok', message: msg, details };
};

export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(\w+):\s+(\d+)\s*kB/gm)) out[m[1]] = Math.round(Number(m[2]) / 1024);
  return out;
}

export const checkMemory: Check = async ({ sys }) => {
  const id = 'memory';
  const title = 'Memory';
  const text = await readOptional(sys.paths.meminfo);
  if (text === null) return { id, title, status: 'skip', message: `${sys.paths.meminfo} not readable` };
  const m = parseMeminfo(text);
  const total = m.MemTotal;
  const avail = m.MemAvailable ?? m.MemFree;
  const details = { totalMB: total, availableMB: avail, swapTotalMB: m.SwapTotal ?? 0, swapFreeMB: m.SwapFree ?? 0 };
  const msg = `${avail} MB available of ${total} MB${m.SwapTotal ? `, swap ${m.SwapTotal - (m.SwapFree ?? 0)}/${m.SwapTotal} MB used` : ''}`;
  if (avail < 64)
    return {
      id,
      title,
      status: 'fail',
      message: `${msg}: too little to load a model`,
      fix: 'Stop other services (`systemctl list-units --type=service`), or lower vision.threads and filters.tileSize.',
      details,
    };
  if (avail < 128)
    return {
      id,
      title,
      status: 'warn',
      message: `${msg}: tight`,
      fix: 'Stop services you do not need; keep the Zero 2 W board profile values.',
      details,
    };
  return { id, title, status: 'ok', message: msg, details };
};

export const checkTemperature: Check = async ({ sys }) => {
  const id = 'temperature';
  const title = 'Temperature';
  let zones: string[];
  try {
    zones = (await fs.readdir(sys.paths.thermalRoot)).filter((z) => z.startsWith('thermal_zone')).sort();
  } catch {
    return { id, title, status: 'skip', message: 'no thermal sensor' };
  }
  const readings: { zone: string; type: string; celsius: number }[] = [];
  for (const z of zones) {
    const t = Number((await readOptional(path.join(sys.paths.thermalRoot, z, 'temp')))?.trim());
    const type = (await readOptional(path.join(sys.paths.thermalRoot, z, 'type')))?.trim() ?? z;
    if (Number.isFinite(t)) readings.push({ zone: z, type, celsius: t / 1000 });
  }
  if (!readings.length) return { id, title, status: 'skip', message: 'no thermal sensor' };
  const cpu =
    readings.find((r) => r.type === 'cpu-thermal') ?? readings.reduce((a, b) => (b.celsius > a.celsius ? b : a));
  const msg = `${cpu.celsius.toFixed(1)} °C (${cpu.type})`;
  const details = { readings };
  if (cpu.celsius >= 85)
    return {
      id,
      title,
      status: 'fail',
      message: `${msg}: at the throttling limit`,
      fix: 'Add a heatsink or fan; give the case airflow.',
      details,
    };
  if (cpu.celsius >= 80)
    return {
      id,
      title,
      status: 'warn',
      message: `${msg}: near the throttling limit (80-85 °C)`,
      fix: 'Add a heatsink or fan.',
      details,
    };
  return { id, title, status: 'ok', message: msg, details };
};

const THROTTLE_BITS: [number, string][] = [
  [0, 'under-voltage now'],
  [1, 'ARM frequency capped now'],
  [2, 'throttled now'],
  [3, 'soft temperature limit now'],
  [16, 'under-voltage has occurred'],
  [17, 'ARM frequency capping has occurred'],
  [18, 'throttling has occurred'],
  [19, 'soft temperature limit has occurred'],
];

/** Decodes `throttled=0x50005` (vcgencmd get_throttled) into its named bits. */
export function decodeThrottled(text: string): { value: number; now: string[]; past: string[] } | null {
  const m = /throttled=(0x[0-9a-f]+|\d+)/i.exec(text);
  if (!m) return null;
  const value = Number(m[1]);
  const set = THROTTLE_BITS.filter(([bit]) => (value & (1 << bit)) !== 0);
  return {
    value,
    now: set.filter(([bit]) => bit < 16).map(([, n]) => n),
    past: set.filter(([bit]) => bit >= 16).map(([, n]) => n),
  };
}

export const checkThrottling: Check = async ({ sys, board }) => {
  const id = 'throttling';
  const title = 'Power and throttling';
  if (!onPi(board)) return notPi(id, title);
  const r = await sys.exec('vcgencmd', ['get_throttled'], 5000);
  if (!r.found)
    return { id, title, status: 'skip', message: 'vcgencmd not found', fix: 'sudo apt install libraspberrypi-bin' };
  const d = decodeThrottled(r.stdout);
  if (!d)
    return {
      id,
      title,
      status: 'warn',
      message: `unexpected vcgencmd output: ${(r.stdout + r.stderr).trim().slice(0, 120)}`,
    };
  const hex = `0x${d.value.toString(16)}`;
  const details = { throttled: hex, now: d.now, past: d.past };
  const power =
    'Use the official power supply (Zero 2 W 5.1 V 2.5 A, Pi 4 5.1 V 3 A, Pi 5 5.1 V 5 A) and a short, thick cable.';
  if (d.now.includes('under-voltage now'))
    return { id, title, status: 'fail', message: `${hex}: ${d.now.join(', ')}`, fix: power, details };
  if (d.now.length)
    return {
      id,
      title,
      status: 'warn',
      message: `${hex}: ${d.now.join(', ')}`,
      fix: 'Add a heatsink or fan; check the power supply.',
      details,
    };
  if (d.past.length)
    return {
      id,
      title,
      status: 'warn',
      message: `${hex}: since boot, ${d.past.join(', ')}`,
      fix: d.past.some((p) => p.startsWith('under')) ? power : 'Add a heatsink or fan.',
      details,
    };
  return { id, title, status: 'ok', message: `${hex}: no under-voltage or throttling since boot`, details };
};

export const checkClock: Check = async ({ sys }) => {
  const id = 'clock';
  const title = 'Clock';
  const now = sys.now();
  const iso = now.toISOString().replace(/\.\d+Z$/, 'Z');
  if (now.getUTCFullYear() < 2024) {
    return {
      id,
      title,
      status: 'fail',
      message: `clock reads ${iso}: not set (photos would get wrong dates and TLS certificates look invalid)`,
      fix: 'Connect the Pi to a network with internet access; check `timedatectl` and systemd-timesyncd. Pis before the Pi 5 have no battery clock.',
    };
  }
  const r = await sys.exec('timedatectl', ['show', '-p', 'NTP', '-p', 'NTPSynchronized', '-p', 'CanNTP'], 5000);
  const info = clockInfo(r.found && r.code === 0 ? parseTimedateShow(r.stdout) : null);
  const details = { owner: info.owner, ntp: info.ntp };
  if (info.owner === 'ntp-waiting') {
    return {
      id,
      title,
      status: 'warn',
      message: `${iso}, not synchronised by NTP yet (setting the time from the phone pauses NTP for the change)`,
      fix: 'Check the network; `timedatectl timesync-status`; sudo systemctl restart systemd-timesyncd.',
      details,
    };
  }
  return {
    id,
    title,
    status: 'ok',
    message: info.owner === 'ntp' ? `${iso}, NTP synchronised (NTP owns the clock)` : `${iso}; ${info.message}`,
    details,
  };
};

/** rclone for sync.targets: present, its version, and a config file only the daemon's user can read. */
export const checkRclone: Check = async ({ sys, config }) => {
  const id = 'rclone';
  const title = 'rclone (sync)';
  const targets = config.sync.targets;
  const r = await sys.exec('rclone', ['version'], 10_000);
  if (!r.found)
    return {
      id,
      title,
      status: targets.length ? 'fail' : 'skip',
      message: targets.length
        ? 'rclone is not installed, so sync.targets cannot upload'
        : 'rclone not installed (no sync targets)',
      fix: 'sudo apt install rclone',
    };
  const version = /rclone v?(\d+\.\d+\.\d+)/.exec(r.stdout)?.[1] ?? 'unknown';
  const file = config.sync.rcloneConfig;
  const needsConfig = targets.some((t) => !t.remote.startsWith('/') && !t.remote.startsWith('.'));
  let st: import('node:fs').Stats | undefined;
  try {
    st = await fs.stat(file);
  } catch {
    st = undefined;
  }
  if (!st)
    return needsConfig
      ? {
          id,
          title,
          status: 'fail',
          message: `rclone ${version}; ${file} is missing but a target names an rclone remote`,
          fix: `sudo -u pinhole rclone config --config ${file} && sudo chmod 600 ${file}`,
          details: { version, file },
        }
      : {
          id,
          title,
          status: 'ok',
          message: `rclone ${version}; no config file needed (local folders only)`,
          details: { version },
        };
  const mode = st.mode & 0o777;
  const uid = process.getuid?.() ?? st.uid;
  if (mode & 0o077)
    return {
      id,
      title,
      status: 'fail',
      message: `rclone ${version}; ${file} has mode ${mode.toString(8).padStart(4, '0')}: its passwords are readable by others, so sync refuses it`,
      fix: `sudo chmod 600 ${file}`,
      details: { version, file, mode: mode.toString(8) },
    };
  if (st.uid !== uid && uid !== 0)
    return {
      id,
      title,
      status: 'warn',
      message: `rclone ${version}; ${file} belongs to uid ${st.uid}, not to this user`,
      fix: `sudo chown pinhole:pinhole ${file}`,
      details: { version, file },
    };
  return { id, title, status: 'ok', message: `rclone ${version}; ${file} mode 0600`, details: { version, file } };
};

export const ALL_CHECKS: Check[] = [
  checkBoard,
  check64Bit,
  checkNode,
  checkCamera,
  checkGpio,
  checkButtonPulls,
  checkGroups,
  checkServiceUser,
  checkGpioTools,
  checkPolkit,
  checkModels,
  checkDisk,
  checkMemory,
  checkTemperature,
  checkThrottling,
  checkClock,
  checkRclone,
];

import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';

/**
 * Everything the doctor reads from the machine, injectable so tests run it against a fake tree (files under a temp
 * dir) and fake executables (shell scripts on a private PATH).
 */
export interface DoctorPaths {
  deviceTreeModel: string;
  meminfo: string;
  /** Folder holding thermal_zone* (each with `type` and `temp` in millidegrees). */
  thermalRoot: string;
  groupFile: string;
  /** config.txt; unset: the firmware's own locations (pulls.ts BOOT_CONFIG_PATHS). */
  bootConfig?: string;
  /** Service-user checks (src/doctor/service.ts): passwd, /dev, polkit; defaults are the real paths. */
  service?: Partial<import('./service.js').ServicePaths>;
}

export const DEFAULT_DOCTOR_PATHS: DoctorPaths = {
  deviceTreeModel: '/proc/device-tree/model',
  meminfo: '/proc/meminfo',
  thermalRoot: '/sys/class/thermal',
  groupFile: '/etc/group',
};

export interface ExecResult {
  /** False when the executable does not exist (ENOENT). */
  found: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export type Exec = (command: string, args: string[], timeoutMs?: number) => Promise<ExecResult>;

export interface DoctorSystem {
  paths: DoctorPaths;
  exec: Exec;
  /** process.arch of this Node (arm = a 32-bit userland, whatever the kernel). */
  arch: string;
  /** uname -m. */
  machine: string;
  nodeVersion: string;
  now: () => Date;
  /** The person running the doctor ($SUDO_USER under sudo). */
  user: string;
  statfs: (dir: string) => Promise<{ freeBytes: number; totalBytes: number }>;
  /** The doctor's own process (pkcheck asks polkit about it when the rule file is unreadable); default: this one. */
  self?: { pid: number; uid: number };
  /** Reads a text file (tests inject the EACCES an unprivileged user gets); default fs.readFile. */
  readFile?: (file: string) => Promise<string>;
}

/** Runs a command with a timeout; never throws. `env` lets tests put fake executables first (or alone) on PATH. */
export function execRunner(env: NodeJS.ProcessEnv = process.env): Exec {
  return (command, args, timeoutMs = 10_000) =>
    new Promise((resolve) => {
      execFile(
        command,
        args,
        { env, timeout: timeoutMs, maxBuffer: 1 << 20, killSignal: 'SIGKILL' },
        (err, stdout, stderr) => {
          const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
          if (e && e.code === 'ENOENT') {
            resolve({ found: false, code: null, stdout: '', stderr: '', timedOut: false });
            return;
          }
          resolve({
            found: true,
            code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
            stdout: String(stdout),
            stderr: String(stderr),
            timedOut: Boolean(e?.killed),
          });
        },
      );
    });
}

export function realSystem(overrides: Partial<DoctorSystem> = {}): DoctorSystem {
  const env = process.env;
  const user = env.SUDO_USER && env.SUDO_USER !== 'root' ? env.SUDO_USER : os.userInfo().username;
  return {
    paths: DEFAULT_DOCTOR_PATHS,
    exec: execRunner(env),
    arch: process.arch,
    machine: os.machine(),
    nodeVersion: process.versions.node,
    now: () => new Date(),
    user,
    self: { pid: process.pid, uid: process.getuid?.() ?? -1 },
    statfs: async (dir) => {
      const s = await fs.statfs(dir);
      return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
    },
    ...overrides,
  };
}

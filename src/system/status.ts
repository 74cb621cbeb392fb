import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { decodeThrottled } from '../doctor/checks.js';
import { createLogger } from '../util/logger.js';
import { type ClockInfo, clockInfo, realTimedate, setClock, type Timedate } from './clock.js';

const run = promisify(execFile);
const log = createLogger('system');

export interface SystemProbe {
  cpuTempC(): Promise<number | null>;
  /** Current and past throttling flags (`vcgencmd get_throttled`), null where there is no vcgencmd. */
  throttled(): Promise<string[] | null>;
  clockSynced(): Promise<boolean>;
  /** Who keeps the clock (NTP synchronised, NTP waiting for a network, or set by hand). */
  clockOwner(): Promise<ClockInfo>;
}

/** What a Pi tells about itself; every probe answers null/false instead of failing off a Pi. */
export function realProbe(timedate: Timedate = realTimedate()): SystemProbe {
  return {
    async clockOwner() {
      return clockInfo(await timedate.ntp());
    },
    async cpuTempC() {
      try {
        const milli = Number((await fs.readFile('/sys/class/thermal/thermal_zone0/temp', 'utf8')).trim());
        return Number.isFinite(milli) ? Math.round(milli / 100) / 10 : null;
      } catch {
        return null;
      }
    },
    async throttled() {
      try {
        const { stdout } = await run('vcgencmd', ['get_throttled'], { timeout: 3000 });
        const d = decodeThrottled(stdout);
        return d ? [...d.now.map((s) => `now: ${s}`), ...d.past.map((s) => `since boot: ${s}`)] : null;
      } catch {
        return null;
      }
    },
    async clockSynced() {
      // systemd-timesyncd creates this file once NTP synchronised the clock; without an RTC and offline it never
      // does, and the wall clock may be days behind.
      if (existsSync('/run/systemd/timesync/synchronized')) return true;
      if (new Date().getUTCFullYear() < 2025) return false;
      // Off a Pi (development machines) the host keeps its own time.
      return (
        !existsSync('/proc/device-tree/model') ||
        !(await fs.readFile('/proc/device-tree/model', 'utf8').catch(() => '')).includes('Raspberry Pi')
      );
    },
  };
}

export interface PowerActions {
  shutdown(): Promise<void>;
  reboot(): Promise<void>;
  setTime(epochMs: number): Promise<void>;
}

/**
 * Power and clock actions. On a real Pi they go through systemd (the installer grants the pinhole user these
 * rights with a polkit rule); in development (`dev`) they are only logged: a laptop is never powered off by a
 * button in the simulator.
 */
export function powerActions(dev: boolean, timedate: Timedate = realTimedate()): PowerActions {
  const act = async (what: string, cmd: string, args: string[]) => {
    if (dev) {
      log.warn(`${what} requested (development mode: not done)`);
      return;
    }
    log.warn(`${what} requested`);
    // Give the HTTP answer time to leave before systemd stops us.
    setTimeout(() => {
      run(cmd, args, { timeout: 10_000 }).catch((e: unknown) =>
        log.error(`${what} failed`, { error: (e as Error).message }),
      );
    }, 500).unref();
  };
  return {
    shutdown: () => act('power off', 'systemctl', ['poweroff']),
    reboot: () => act('reboot', 'systemctl', ['reboot']),
    async setTime(epochMs) {
      if (dev) {
        log.warn('set clock requested (development mode: not done)', { to: new Date(epochMs).toISOString() });
        return;
      }
      const how = await setClock(timedate, epochMs);
      log.info('clock set from the phone', {
        to: new Date(epochMs).toISOString(),
        ...(how === 'ntp-paused' ? { ntp: 'paused for the change, back on' } : {}),
      });
    },
  };
}

export async function diskSpace(dir: string): Promise<{ freeBytes: number; totalBytes: number }> {
  let d = dir;
  // The data dir may not exist yet: ask about the nearest existing parent.
  while (!existsSync(d) && path.dirname(d) !== d) d = path.dirname(d);
  const s = await fs.statfs(d);
  return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
}

export function loadAvg(): number[] {
  return os.loadavg().map((n) => Math.round(n * 100) / 100);
}

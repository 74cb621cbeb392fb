import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConflictError, UnavailableError } from '../util/errors.js';

const run = promisify(execFile);

/**
 * Setting the clock from the phone, in a way that works with systemd-timesyncd.
 *
 * systemd-timedated refuses SetTime while the NTP service is active ("Automatic time synchronization is enabled";
 * src/timedate/timedated.c, method_set_time, systemd 252 and 257). A Pi has no battery clock before the Pi 5 and is
 * often offline, so its clock may be days behind with timesyncd still trying. The decision:
 * - NTP synchronised: the network's time wins; the phone's is refused (409) and status says NTP owns the clock.
 * - NTP on but not synchronised: NTP is switched off for the change and straight back on (timedated's SetNTP), so
 *   timesyncd keeps trying and corrects the clock once the network is back.
 * - No NTP: the clock is set directly.
 * The polkit rule the installer writes grants user pinhole exactly set-time and set-ntp of timedate1.
 */

export interface NtpState {
  /** timedatectl's NTP: the NTP service is enabled. */
  enabled: boolean;
  /** NTPSynchronized: the kernel says the clock is synchronised. */
  synchronized: boolean;
  /** CanNTP: an NTP service (systemd-timesyncd) is installed. */
  available: boolean;
}

/** Our seam over systemd-timedated; the real one runs timedatectl, tests use a hand-written fake. */
export interface Timedate {
  /** null when timedated cannot be asked (no timedatectl, no D-Bus: a development machine or container). */
  ntp(): Promise<NtpState | null>;
  setNtp(on: boolean): Promise<void>;
  setTime(epochMs: number): Promise<void>;
}

export type ClockOwner = 'ntp' | 'ntp-waiting' | 'manual' | 'unknown';

export interface ClockInfo {
  owner: ClockOwner;
  /** One line for status and the doctor. */
  message: string;
  ntp: NtpState | null;
}

export function clockInfo(ntp: NtpState | null): ClockInfo {
  if (!ntp) return { owner: 'unknown', message: 'NTP state unknown (timedatectl unavailable)', ntp };
  if (ntp.enabled && ntp.synchronized)
    return {
      owner: 'ntp',
      message: 'NTP (systemd-timesyncd) owns the clock and is synchronised: it cannot be set from the phone',
      ntp,
    };
  if (ntp.enabled)
    return {
      owner: 'ntp-waiting',
      message:
        'NTP is on but not synchronised (no network?): setting the time from the phone pauses NTP for the change',
      ntp,
    };
  return {
    owner: 'manual',
    message: ntp.synchronized
      ? 'NTP is off; the clock is synchronised by another service'
      : 'NTP is off: the clock is set by hand (or from the phone)',
    ntp,
  };
}

/** Sets the system clock per the rules above; says how it did it. */
export async function setClock(td: Timedate, epochMs: number): Promise<'direct' | 'ntp-paused'> {
  const info = clockInfo(await td.ntp());
  if (info.owner === 'ntp') throw new ConflictError(`the clock was not changed: ${info.message}`);
  if (info.owner !== 'ntp-waiting') {
    await td.setTime(epochMs);
    return 'direct';
  }
  await td.setNtp(false);
  try {
    await td.setTime(epochMs);
  } finally {
    await td.setNtp(true);
  }
  return 'ntp-paused';
}

export function parseTimedateShow(text: string): NtpState | null {
  const kv = new Map(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()] as const),
  );
  if (!kv.has('NTP') || !kv.has('NTPSynchronized')) return null;
  return {
    enabled: kv.get('NTP') === 'yes',
    synchronized: kv.get('NTPSynchronized') === 'yes',
    available: kv.get('CanNTP') !== 'no',
  };
}

function timedatectlError(e: unknown): Error {
  const stderr = String((e as { stderr?: unknown }).stderr ?? '').trim();
  return new UnavailableError(`timedatectl failed: ${stderr || (e as Error).message}`, 'clock-unavailable', e);
}

/** timedatectl, never asking for a password (there is no one to ask: the polkit rule decides). */
export function realTimedate(timedatectl = 'timedatectl'): Timedate {
  const ctl = async (args: string[]) => {
    try {
      return (await run(timedatectl, ['--no-ask-password', ...args], { timeout: 10_000 })).stdout;
    } catch (e) {
      throw timedatectlError(e);
    }
  };
  return {
    async ntp() {
      try {
        return parseTimedateShow(await ctl(['show', '-p', 'NTP', '-p', 'NTPSynchronized', '-p', 'CanNTP']));
      } catch {
        return null;
      }
    },
    async setNtp(on) {
      await ctl(['set-ntp', on ? 'true' : 'false']);
    },
    async setTime(epochMs) {
      // `@seconds` is UTC whatever the Pi's time zone (a bare "YYYY-MM-DD hh:mm:ss" would be read as local time).
      await ctl(['set-time', `@${Math.floor(epochMs / 1000)}`]);
    },
  };
}

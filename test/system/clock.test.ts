import { describe, expect, it } from 'vitest';
import { clockInfo, type NtpState, parseTimedateShow, setClock, type Timedate } from '../../src/system/clock.js';
import { isPinholeError } from '../../src/util/errors.js';

/**
 * A hand-written systemd-timedated: SetTime is refused while the NTP service runs ("Automatic time synchronization
 * is enabled": src/timedate/timedated.c, method_set_time, systemd 252/257); SetNTP(false) stops timesyncd, which
 * also drops the synchronised flag until it syncs again.
 */
class FakeTimedate implements Timedate {
  calls: string[] = [];
  clock = 0;
  constructor(public state: NtpState | null) {}
  async ntp() {
    return this.state && { ...this.state };
  }
  async setNtp(on: boolean) {
    this.calls.push(`set-ntp ${on}`);
    if (!this.state) throw new Error('no timedated');
    this.state.enabled = on;
    if (!on) this.state.synchronized = false;
  }
  async setTime(ms: number) {
    this.calls.push('set-time');
    if (this.state?.enabled) throw new Error('Automatic time synchronization is enabled');
    this.clock = ms;
  }
}

const T = Date.UTC(2026, 4, 1, 12, 0, 0);

describe('setting the clock from the phone with systemd-timesyncd', () => {
  it('NTP on but not synchronised (offline Pi): pauses NTP for the change and turns it back on', async () => {
    const td = new FakeTimedate({ enabled: true, synchronized: false, available: true });
    expect(await setClock(td, T)).toBe('ntp-paused');
    expect(td.clock).toBe(T);
    expect(td.calls).toEqual(['set-ntp false', 'set-time', 'set-ntp true']);
    expect(td.state?.enabled).toBe(true);
  });

  it('NTP synchronised: refuses with 409 and says NTP owns the clock; nothing changed', async () => {
    const td = new FakeTimedate({ enabled: true, synchronized: true, available: true });
    const err = await setClock(td, T).catch((e: unknown) => e);
    expect(isPinholeError(err) && err.status).toBe(409);
    expect((err as Error).message).toContain('NTP (systemd-timesyncd) owns the clock');
    expect(td.calls).toEqual([]);
  });

  it('NTP off, or timedated unknown: sets the clock directly', async () => {
    for (const state of [{ enabled: false, synchronized: false, available: true }, null]) {
      const td = new FakeTimedate(state);
      expect(await setClock(td, T)).toBe('direct');
      expect(td.calls).toEqual(['set-time']);
    }
  });

  it('turns NTP back on even when setting the time fails', async () => {
    const td = new FakeTimedate({ enabled: true, synchronized: false, available: true });
    td.setTime = async () => {
      td.calls.push('set-time');
      throw new Error('Access denied');
    };
    await expect(setClock(td, T)).rejects.toThrow('Access denied');
    expect(td.calls).toEqual(['set-ntp false', 'set-time', 'set-ntp true']);
    expect(td.state?.enabled).toBe(true);
  });

  it('names the owner for status and the doctor', () => {
    expect(clockInfo({ enabled: true, synchronized: true, available: true }).owner).toBe('ntp');
    expect(clockInfo({ enabled: true, synchronized: false, available: true }).owner).toBe('ntp-waiting');
    expect(clockInfo({ enabled: false, synchronized: false, available: false }).owner).toBe('manual');
    expect(clockInfo(null).owner).toBe('unknown');
  });

  it('parses `timedatectl show -p NTP -p NTPSynchronized -p CanNTP`', () => {
    expect(parseTimedateShow('NTP=yes\nNTPSynchronized=no\nCanNTP=yes\n')).toEqual({
      enabled: true,
      synchronized: false,
      available: true,
    });
    expect(parseTimedateShow('Failed to connect to bus: No such file or directory\n')).toBeNull();
  });
});

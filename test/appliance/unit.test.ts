import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hasSystemdAnalyze, verifyUnit } from './systemd-verify.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const unitFile = path.join(repoRoot, 'systemd/pinhole.service');

/** `Key=value` lines of one section (comments and blank lines dropped; repeated keys kept in order). */
async function section(name: string): Promise<[string, string][]> {
  const lines = (await fs.readFile(unitFile, 'utf8')).split('\n');
  const out: [string, string][] = [];
  let current = '';
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) current = m[1];
    else if (current === name) {
      const i = line.indexOf('=');
      out.push([line.slice(0, i), line.slice(i + 1)]);
    }
  }
  return out;
}

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-unit-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('systemd/pinhole.service', () => {
  it('has the notify, watchdog, user, directory and memory settings', async () => {
    const svc = await section('Service');
    const one = (k: string) => svc.filter(([key]) => key === k).map(([, v]) => v);
    expect(one('Type')).toEqual(['notify']);
    expect(one('NotifyAccess')).toEqual(['all']);
    expect(one('WatchdogSec')).toHaveLength(1);
    expect(one('Restart')).toEqual(['on-failure']);
    expect(one('User')).toEqual(['pinhole']);
    expect(one('SupplementaryGroups')).toEqual(['video gpio']);
    expect(one('StateDirectory')).toEqual(['pinhole']);
    expect(one('RuntimeDirectory')).toEqual(['pinhole']);
    expect(one('ConfigurationDirectory')).toEqual(['pinhole']);
    expect(one('ReadWritePaths')).toEqual(['/etc/pinhole']);
    expect(one('Environment')).toEqual(
      expect.arrayContaining(['MALLOC_ARENA_MAX=2', 'UV_THREADPOOL_SIZE=2', 'NODE_ENV=production']),
    );
    expect(one('ExecStart')).toEqual([
      // The installer writes the absolute path of the Node it chose in place of @NODE@.
      '@NODE@ /opt/pinhole/dist/src/cli/main.js run --config /etc/pinhole/config.yaml',
    ]);
  });

  it('carries the hardening from PLATFORM.md and none of the settings that break V8 or the camera', async () => {
    const svc = Object.fromEntries(await section('Service'));
    expect(svc).toMatchObject({
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      NoNewPrivileges: 'yes',
      RestrictAddressFamilies: 'AF_UNIX AF_INET AF_INET6 AF_NETLINK',
    });
    for (const banned of [
      'MemoryDenyWriteExecute',
      'PrivateDevices',
      'ProtectKernelTunables',
      'ProtectClock',
      'DevicePolicy',
    ]) {
      expect(svc[banned], banned).toBeUndefined();
    }
  });

  it.skipIf(!hasSystemdAnalyze())('passes systemd-analyze verify with no warnings', async () => {
    const r = await verifyUnit(unitFile, dir, repoRoot);
    expect(r.problems, r.stderr).toEqual([]);
    expect(r.code, r.stderr).toBe(0);
  });

  it.skipIf(!hasSystemdAnalyze())('the verify harness notices a broken unit', async () => {
    const broken = path.join(dir, 'broken.service');
    await fs.writeFile(
      broken,
      (await fs.readFile(unitFile, 'utf8')).replace('NotifyAccess=all', 'NotifyAccess=all\nWatchdogSecs=30'),
    );
    const r = await verifyUnit(broken, dir, repoRoot);
    expect(r.problems.join('\n')).toContain("Unknown key 'WatchdogSecs'");
  });
});

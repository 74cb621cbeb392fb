import { execFileSync, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../src/util/logger.js';
import { SdNotify } from '../../src/util/sd-notify.js';

function recordingLogger() {
  const lines: string[] = [];
  const mk = (level: string) => (msg: string) => lines.push(`${level} ${msg}`);
  const logger: Logger = {
    namespace: 'test',
    debug: mk('debug'),
    info: mk('info'),
    warn: mk('warn'),
    error: mk('error'),
    child: () => logger,
  };
  return { logger, lines };
}

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('SdNotify', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('does nothing without NOTIFY_SOCKET', async () => {
    const run = vi.fn(async () => {});
    const n = new SdNotify({ env: { WATCHDOG_USEC: '1000000' }, run });
    await n.ready('serving');
    n.startWatchdog();
    n.stopWatchdog();
    expect(n.enabled).toBe(false);
    expect(n.watchdogEnabled).toBe(false);
    expect(run).not.toHaveBeenCalled();
  });

  it('sends READY=1 with a one-line STATUS', async () => {
    const calls: string[][] = [];
    const n = new SdNotify({
      env: { NOTIFY_SOCKET: '/run/x' },
      run: async (cmd, args) => void calls.push([cmd, ...args]),
    });
    await n.ready('web UI on\nport 8080');
    await n.stopping();
    expect(calls).toEqual([
      ['systemd-notify', 'READY=1', 'STATUS=web UI on port 8080'],
      ['systemd-notify', 'STOPPING=1'],
    ]);
  });

  it('never throws when systemd-notify fails, and warns once', async () => {
    const { logger, lines } = recordingLogger();
    const n = new SdNotify({
      env: { NOTIFY_SOCKET: '/run/x' },
      run: async () => Promise.reject(new Error('boom')),
      logger,
    });
    await expect(n.ready()).resolves.toBeUndefined();
    await expect(n.status('x')).resolves.toBeUndefined();
    expect(lines.filter((l) => l.startsWith('warn systemd-notify failed'))).toHaveLength(1);
  });

  it('ignores a watchdog addressed to another process (WATCHDOG_PID)', () => {
    const n = new SdNotify({
      env: { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '2000000', WATCHDOG_PID: '1' },
      pid: 4242,
      run: async () => {},
    });
    expect(n.watchdogEnabled).toBe(false);
    const mine = new SdNotify({
      env: { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '2000000', WATCHDOG_PID: '4242' },
      pid: 4242,
      run: async () => {},
    });
    expect(mine.watchdogEnabled).toBe(true);
    expect(mine.stats().pingIntervalMs).toBe(1000);
  });

  it('pings every WATCHDOG_USEC/2 and withholds pings while the event loop stalls', async () => {
    vi.useFakeTimers();
    const calls: string[] = [];
    const { logger, lines } = recordingLogger();
    const n = new SdNotify({
      env: { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '2000000' },
      run: async (_cmd, args) => void calls.push(args.join(' ')),
      now: () => Date.now(),
      logger,
    });
    n.startWatchdog();
    await vi.advanceTimersByTimeAsync(3000);
    const healthy = calls.filter((c) => c === 'WATCHDOG=1').length;
    expect(healthy).toBe(4); // one at start, then at 1 s, 2 s, 3 s

    // A 4 s stall: wall time jumps while no timer could run.
    vi.setSystemTime(Date.now() + 4000);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls.filter((c) => c === 'WATCHDOG=1').length).toBe(healthy);
    expect(n.stats().skipped).toBe(1);
    expect(lines.some((l) => l.startsWith('warn event loop stalled'))).toBe(true);

    // Responsive again: pings resume.
    await vi.advanceTimersByTimeAsync(2000);
    expect(calls.filter((c) => c === 'WATCHDOG=1').length).toBe(healthy + 2);
    n.stopWatchdog();
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls.filter((c) => c === 'WATCHDOG=1').length).toBe(healthy + 2);
  });

  it('does not pile up pings while one systemd-notify is still running', async () => {
    vi.useFakeTimers();
    let started = 0;
    const n = new SdNotify({
      env: { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '200000' },
      run: () => {
        started++;
        return new Promise<void>(() => {}); // hangs forever
      },
      now: () => Date.now(),
    });
    n.startWatchdog();
    await vi.advanceTimersByTimeAsync(1000);
    expect(started).toBe(1);
    n.stopWatchdog();
  });

  it.skipIf(!has('systemd-notify') || !has('python3'))(
    'reaches a real notify socket through systemd-notify',
    async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-sdnotify-'));
      const sock = path.join(dir, 'notify.sock');
      const py = spawn('python3', [
        '-c',
        'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("bound",flush=True)\ns.settimeout(10)\nprint(s.recv(4096).decode(),flush=True)',
        sock,
      ]);
      try {
        let out = '';
        py.stdout.on('data', (d) => {
          out += String(d);
        });
        await vi.waitFor(() => expect(out).toContain('bound'), { timeout: 5000 });
        const n = new SdNotify({ env: { NOTIFY_SOCKET: sock } });
        await n.ready('up');
        await vi.waitFor(() => expect(out).toContain('READY=1'), { timeout: 5000 });
        expect(out).toContain('STATUS=up');
      } finally {
        py.kill();
        await fs.rm(dir, { recursive: true, force: true });
      }
    },
  );
});

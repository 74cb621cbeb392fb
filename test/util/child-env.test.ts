import { spawnSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { childEnv } from '../../src/util/child-env.js';
import { niceLevel, prioritized, priorityOfNice } from '../../src/util/low-priority.js';

describe('childEnv', () => {
  const daemon = {
    PATH: '/usr/bin:/bin',
    HOME: '/var/lib/pinhole',
    MALLOC_ARENA_MAX: '2',
    MALLOC_MMAP_THRESHOLD_: '131072',
    MALLOC_TRIM_THRESHOLD_: '1',
    GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=131072',
    NOTIFY_SOCKET: '/run/systemd/notify',
    WATCHDOG_USEC: '30000000',
    WATCHDOG_PID: '42',
    UV_THREADPOOL_SIZE: '2',
    PINHOLE_FAKE_CAMERA_STATE_DIR: '/tmp/x',
  };

  test("drops the daemon's malloc tuning and systemd channels, keeps the rest", () => {
    expect(childEnv(daemon)).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/var/lib/pinhole',
      UV_THREADPOOL_SIZE: '2',
      PINHOLE_FAKE_CAMERA_STATE_DIR: '/tmp/x',
    });
  });

  test('a child that needs its own tuning gets exactly that; undefined removes', () => {
    const env = childEnv(daemon, { MALLOC_MMAP_THRESHOLD_: '65536', HOME: undefined });
    expect(env.MALLOC_MMAP_THRESHOLD_).toBe('65536');
    expect(env.MALLOC_ARENA_MAX).toBeUndefined();
    expect('HOME' in env).toBe(false);
  });

  test('what a real child sees', () => {
    const r = spawnSync('/usr/bin/env', [], { env: childEnv(daemon), encoding: 'utf8' });
    expect(r.stdout).not.toMatch(/MALLOC_|NOTIFY_SOCKET|WATCHDOG_/);
    expect(r.stdout).toMatch(/PINHOLE_FAKE_CAMERA_STATE_DIR=\/tmp\/x/);
  });
});

describe('prioritized', () => {
  test('jobs run through nice 19, idle work through chrt --idle, normal work as it is', () => {
    expect(prioritized('/usr/bin/node', ['x.js'], 'normal')).toEqual({
      command: '/usr/bin/node',
      args: ['x.js'],
      via: 'none',
    });
    const jobs = prioritized('/usr/bin/node', ['x.js'], 'jobs');
    expect(jobs.via).toBe('nice');
    expect(jobs.args).toEqual(['-n', '19', '/usr/bin/node', 'x.js']);
    const idle = prioritized('/usr/bin/node', ['x.js'], 'idle');
    expect(idle.via).toBe('chrt');
    expect(idle.args).toEqual(['--idle', '0', '/usr/bin/node', 'x.js']);
    // without the tools on PATH the caller falls back to setpriority on the pid
    expect(prioritized('/usr/bin/node', ['x.js'], 'jobs', { PATH: '/nonexistent' }).via).toBe('setpriority');
  });

  test('a nice value the owner chose (filters.nice) runs as that value; 0 as it is; classes keep their names', () => {
    expect(prioritized('/usr/bin/node', ['x.js'], 7).args).toEqual(['-n', '7', '/usr/bin/node', 'x.js']);
    expect(prioritized('/usr/bin/node', ['x.js'], 0).via).toBe('none');
    expect(niceLevel(25)).toBe(19);
    expect([priorityOfNice(19), priorityOfNice(5), priorityOfNice(0), priorityOfNice(12)]).toEqual([
      'jobs',
      'analysis',
      'normal',
      12,
    ]);
  });

  test('the wrapped command really runs at that priority', () => {
    const nice = prioritized('/bin/sh', ['-c', 'cut -d" " -f19 /proc/self/stat'], 'jobs');
    expect(spawnSync(nice.command, nice.args, { encoding: 'utf8' }).stdout.trim()).toBe('19');
    const idle = prioritized('/bin/sh', ['-c', 'cut -d" " -f41 /proc/self/stat'], 'idle');
    // policy 5 = SCHED_IDLE
    expect(spawnSync(idle.command, idle.args, { encoding: 'utf8' }).stdout.trim()).toBe('5');
  });
});

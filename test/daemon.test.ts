import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TestDaemon } from './helpers/daemon.js';
import { waitUntil } from './helpers/tmp.js';

describe('daemon', () => {
  let d: TestDaemon | undefined;
  afterEach(async () => {
    await d?.cleanup();
    d = undefined;
  });

  it('answers status over the control socket and stops cleanly on SIGTERM', async () => {
    d = new TestDaemon();
    await d.start();
    const r = d.cli(['status', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { pid: number; configErrors: number; config: { file: string } };
    expect(s.pid).toBe(d.proc?.pid);
    expect(s.configErrors).toBe(0);
    expect(s.config.file).toBe(d.configFile);
    expect(d.cli(['status']).stdout).toContain('config: ok');
    expect(await d.stop()).toBe(0);
    expect(existsSync(d.socket)).toBe(false);
  });

  it('survives a broken edit, reports it, and picks up the fix', async () => {
    d = new TestDaemon('log:\n  level: info\n');
    await d.start();
    d.writeConfig('log:\n  level: loud\n  bogus: 1\n');
    await waitUntil(
      () => (JSON.parse(d!.cli(['status', '--json']).stdout) as { configErrors: number }).configErrors === 2,
    );
    const human = d.cli(['status']).stdout;
    expect(human).toContain('log.level: must be one of');
    expect(human).toContain('log.bogus: unknown key');
    await waitUntil(() => d!.output.includes('keeping the last good config'));
    expect(d.proc?.exitCode).toBeNull();
    d.writeConfig('log:\n  level: debug\n');
    await waitUntil(
      () => (JSON.parse(d!.cli(['status', '--json']).stdout) as { configErrors: number }).configErrors === 0,
    );
    await waitUntil(() => d!.output.includes('config reloaded'));
  });

  it('starts on its last good config when the file is broken at start', async () => {
    d = new TestDaemon('log:\n  level: info\n');
    await d.start();
    await d.stop();
    d.writeConfig('log:\n  level: [broken\n');
    await d.start();
    const s = JSON.parse(d.cli(['status', '--json']).stdout) as { configErrors: number };
    expect(s.configErrors).toBeGreaterThan(0);
    await waitUntil(() => d!.output.includes('starting on the last good config'));
  });

  it('replaces a stale socket left by a killed daemon and refuses to run twice', async () => {
    d = new TestDaemon();
    // A stale socket: a listener that died without unlinking its file.
    // A stale socket: bound by a process that died without unlinking it (SIGKILL).
    const { spawnSync } = await import('node:child_process');
    spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(d.socket)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(existsSync(d.socket)).toBe(true);
    await d.start();
    expect(d.cli(['status']).code).toBe(0);
    const second = new TestDaemon();
    second.writeConfig(
      `#full\n${d.baseYaml().replace('./control.sock', d.socket).replace('./data', path.join(d.t.dir, 'data2'))}`,
    );
    await expect(second.start()).rejects.toThrow(/already running/);
    await second.cleanup();
  });
});

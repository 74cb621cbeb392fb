import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/load.js';
import { checkRclone } from '../../src/doctor/checks.js';
import { execRunner, realSystem } from '../../src/doctor/system.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-doctor-rclone-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('pinhole doctor: rclone', () => {
  const board = { id: 'not-pi' as const, model: null, memTotalMB: null };
  const ctx = async (withRclone: boolean, targets: { name: string; remote: string }[], mode?: number) => {
    const bin = path.join(dir, 'bin');
    await fs.mkdir(bin, { recursive: true });
    // The real rclone's first line (rclone 1.60.1 on bookworm: `rclone v1.60.1-DEV`).
    if (withRclone)
      await fs.writeFile(path.join(bin, 'rclone'), '#!/bin/sh\necho "rclone v1.60.1-DEV"\n', { mode: 0o755 });
    const config = defaultConfig();
    config.sync.targets = targets.map((t) => ({ ...t, what: 'originals' as const }));
    config.sync.rcloneConfig = path.join(dir, 'rclone.conf');
    if (mode !== undefined) await fs.writeFile(config.sync.rcloneConfig, '[nas]\ntype = webdav\n', { mode });
    return { sys: realSystem({ exec: execRunner({ PATH: bin }) }), config, board };
  };

  it('fails without rclone when a target needs it, skips without targets', async () => {
    expect((await checkRclone(await ctx(false, [{ name: 'nas', remote: 'nas:p' }]))).status).toBe('fail');
    const none = await checkRclone(await ctx(false, []));
    expect(none.status).toBe('skip');
  });

  it('refuses a config file others can read, with the fix', async () => {
    const r = await checkRclone(await ctx(true, [{ name: 'nas', remote: 'nas:p' }], 0o644));
    expect(r.status).toBe('fail');
    expect(r.fix).toBe(`sudo chmod 600 ${path.join(dir, 'rclone.conf')}`);
    expect(r.message).toContain('1.60.1');
  });

  it('is fine with mode 0600, and with no file while every target is a local folder', async () => {
    expect((await checkRclone(await ctx(true, [{ name: 'nas', remote: 'nas:p' }], 0o600))).status).toBe('ok');
    await fs.rm(path.join(dir, 'rclone.conf'));
    const local = await checkRclone(await ctx(true, [{ name: 'usb', remote: '/mnt/usb' }]));
    expect(local.status).toBe('ok');
    expect(local.message).toMatch(/no config file needed/);
    expect((await checkRclone(await ctx(true, [{ name: 'nas', remote: 'nas:p' }]))).status).toBe('fail');
  });
});

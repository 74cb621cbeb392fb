import { chmodSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { ConfigStore } from '../../src/config/store.js';
import { EventBus, type PinholeEvents } from '../../src/events.js';
import { tempDir, waitUntil } from '../helpers/tmp.js';

describe('ConfigStore hot reload', () => {
  let t: ReturnType<typeof tempDir>;
  let file: string;
  let bus: EventBus;
  let store: ConfigStore;
  let changes: PinholeEvents['config.changed'][];

  beforeEach(async () => {
    t = tempDir();
    file = path.join(t.dir, 'config.yaml');
    writeFileSync(file, 'web:\n  port: 8080\n');
    bus = new EventBus();
    changes = [];
    bus.on('config.changed', (c) => {
      changes.push(c);
    });
    store = new ConfigStore(file, (await loadConfigFile(file)).config, bus, 50);
    store.start();
  });
  afterEach(() => {
    store.stop();
    t.cleanup();
  });

  it('applies a valid edit and names the changed sections', async () => {
    writeFileSync(file, 'web:\n  port: 8081\ncamera:\n  backend: sim\n');
    await waitUntil(() => changes.length === 1);
    expect(store.config.web.port).toBe(8081);
    expect(changes[0].sections.sort()).toEqual(['camera', 'web']);
    expect(changes[0].previous.web.port).toBe(8080);
  });

  it('keeps the last good config on a broken edit, reports it, and picks up the fix', async () => {
    writeFileSync(file, 'web:\n  port: "eighty"\n');
    await waitUntil(() => store.status().errors.length > 0);
    expect(store.status().errors).toEqual(['web.port: must be integer (line 2)']);
    expect(store.config.web.port).toBe(8080);
    expect(changes).toHaveLength(0);
    writeFileSync(file, 'web:\n  port: 9090\n');
    await waitUntil(() => store.config.web.port === 9090);
    expect(store.status().errors).toEqual([]);
  });

  it('an empty file (an editor between truncating and writing) keeps the running config; `{}` means defaults', async () => {
    // Under load the torture fuzzer's in-place write was read truncated: the daemon ran on all defaults (web auth
    // included) until the next save.
    writeFileSync(file, 'web:\n  port: 9000\n');
    await store.reload();
    writeFileSync(file, '');
    await store.reload();
    expect(store.config.web.port).toBe(9000);
    expect(changes).toHaveLength(1);
    expect(store.status().errors).toEqual([expect.stringMatching(/the file is empty; keeping the running config/)]);
    writeFileSync(file, '{}\n');
    await store.reload();
    expect(store.config.web.port).toBe(8080); // the default
    expect(store.status().errors).toEqual([]);
  });

  it('reload() resolves once what is on disk now is applied, even while an older read is being applied', async () => {
    let queued: Promise<void> | undefined;
    bus.on('config.changed', () => {
      // the first reload is applying 8081 when the file changes again and someone asks for a reload
      if (queued) return;
      writeFileSync(file, 'web:\n  port: 8082\n');
      queued = store.reload();
    });
    writeFileSync(file, 'web:\n  port: 8081\n');
    await store.reload();
    await queued;
    expect(store.config.web.port).toBe(8082);
  });

  it("follows an editor's write-and-rename", async () => {
    const tmp = path.join(t.dir, '.config.yaml.swp');
    writeFileSync(tmp, 'web:\n  port: 7070\n');
    renameSync(tmp, file);
    await waitUntil(() => store.config.web.port === 7070);
  });

  it('survives the file disappearing and coming back', async () => {
    rmSync(file);
    await waitUntil(() => store.status().errors.length > 0);
    expect(store.status().errors[0]).toMatch(/file not found/);
    expect(store.config.web.port).toBe(8080);
    writeFileSync(file, 'web:\n  port: 6060\n');
    await waitUntil(() => store.config.web.port === 6060);
  });

  it('reports an unreadable file and keeps running', async () => {
    // Root reads any file, so make the path a folder: reading it fails the same way for every user.
    rmSync(file);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(file);
    chmodSync(file, 0o000);
    await store.reload();
    expect(store.status().errors[0]).toMatch(/cannot read/);
    expect(store.config.web.port).toBe(8080);
  });

  it('coalesces 20 changes in a second into few reloads ending on the last version', async () => {
    for (let i = 0; i < 20; i++) {
      writeFileSync(file, `web:\n  port: ${9000 + i}\n`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitUntil(() => store.config.web.port === 9019, 5000);
    await new Promise((r) => setTimeout(r, 200));
    expect(store.config.web.port).toBe(9019);
    expect(changes.length).toBeLessThan(20);
    expect(changes.at(-1)?.config.web.port).toBe(9019);
  });

  it('reloads on SIGHUP', async () => {
    store.stop(); // no watcher: only the signal can trigger the reload
    const s2 = new ConfigStore(file, store.config, bus, 10);
    process.on('SIGHUP', () => {}); // keep the default SIGHUP action (exit) away while we test
    s2.start();
    try {
      writeFileSync(file, 'web:\n  port: 5050\n');
      process.kill(process.pid, 'SIGHUP');
      await waitUntil(() => s2.config.web.port === 5050);
    } finally {
      s2.stop();
    }
  });
});

import { existsSync, promises as fs, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Server, startSftp, startWebdav, type WebdavServer } from '../../scripts/real-servers.js';
import { waitUntil } from '../helpers/tmp.js';
import { rcloneObscure, SyncDaemon, writeRcloneConf } from './helpers.js';

/** Files under a folder, relative paths, hidden incoming folders included. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name), path.join(rel, e.name));
      else out.push(path.join(rel, e.name));
    }
  };
  if (existsSync(dir)) walk(dir, '');
  return out.sort();
}

describe('sync to real destinations (local folder, Apache WebDAV, OpenSSH SFTP) through rclone', () => {
  let dav: WebdavServer;
  let sftp: Server & { key: string; otherKey: string; root: string };
  const daemons: SyncDaemon[] = [];

  beforeAll(async () => {
    dav = await startWebdav('pinhole', 'dav-secret-1');
    sftp = await startSftp();
  });
  afterAll(async () => {
    for (const d of daemons) await d.cleanup();
    await dav?.cleanup();
    await sftp?.cleanup();
  });

  function conf(d: SyncDaemon, opts: { davPass?: string; sftpKey?: string; davPath?: string } = {}): string {
    const file = path.join(d.t.dir, 'rclone.conf');
    writeRcloneConf(
      file,
      [
        '[dav]',
        'type = webdav',
        `url = http://127.0.0.1:${dav.port}${opts.davPath ?? '/dav'}`,
        'vendor = other',
        'user = pinhole',
        `pass = ${rcloneObscure(opts.davPass ?? 'dav-secret-1')}`,
        '',
        '[sftp]',
        'type = sftp',
        'host = 127.0.0.1',
        `port = ${sftp.port}`,
        'user = root',
        `key_file = ${opts.sftpKey ?? sftp.key}`,
        'shell_type = unix',
        'md5sum_command = md5sum',
        'sha1sum_command = sha1sum',
        '',
      ].join('\n'),
    );
    return file;
  }

  /**
   * rclone at nice 0: these tests are about what reaches the destination, and on a machine shared with other test
   * runs a nice-19 scheduling group gets almost no CPU (test/sync/rclone-runner.test.ts checks the priority).
   */
  function daemon(targets: string, extra = ''): SyncDaemon {
    const d = new SyncDaemon('');
    daemons.push(d);
    const rc = path.join(d.t.dir, 'rclone.conf');
    d.writeConfig(
      readFileSync(d.configFile, 'utf8') +
        `sync:\n  rcloneConfig: ${rc}\n  nice: 0\n  retryInitialSeconds: 1\n  retryMaxSeconds: 2\n  targets:\n${targets}${extra}`,
    );
    return d;
  }

  it('uploads new photos and variants to all three, each file complete under its final name', async () => {
    const local = path.join(sftp.dir, 'local-dest');
    const sftpDest = path.join(sftp.root, 'pics');
    const d = daemon(
      `    - { name: usb, remote: ${local}, what: both }\n    - { name: nas, remote: "dav:photos", what: originals }\n    - { name: home, remote: "sftp:${sftpDest}", what: both }\n`,
    );
    conf(d);
    dav.mkdir('photos');
    await d.start();
    const a = d.capture();
    const b = d.capture();
    const job = await d.api('POST', `/api/photos/${a}/variants`, { filter: 'sepia' });
    expect(job.status).toBe(202);
    const s = await d.waitStatus(
      (s) => s.targets.every((t) => t.queued + t.uploading + t.failed === 0) && s.targets[0].done === 3,
    );
    expect(s.targets.map((t) => [t.name, t.done, t.failed, t.pendingBytes])).toEqual([
      ['usb', 3, 0, 0],
      ['nas', 2, 0, 0],
      ['home', 3, 0, 0],
    ]);
    for (const t of s.targets) {
      expect(t.lastError).toBeNull();
      expect(Date.parse(t.lastSuccess ?? '')).toBeGreaterThan(0);
    }
    // The contract: exactly these keys.
    expect(Object.keys(s).sort()).toEqual(['mqtt', 'targets']);
    expect(Object.keys(s.targets[0]).sort()).toEqual(
      ['done', 'failed', 'lastError', 'lastSuccess', 'name', 'pendingBytes', 'queued', 'uploading'].sort(),
    );
    expect(s.mqtt).toBeNull();
    const g = (id: string, f = 'photo.jpg') => readFileSync(path.join(d.dataDir, 'gallery', id, f));
    const want = [`${a}-sepia.jpg`, `${a}.jpg`, `${b}.jpg`].sort();
    // Local and SFTP are staged (temp name, then a rename); the incoming folder is left empty.
    expect(listFiles(local).filter((f) => !f.startsWith('.pinhole-incoming'))).toEqual(want);
    expect(listFiles(path.join(local, '.pinhole-incoming'))).toEqual([]);
    expect(listFiles(sftpDest).filter((f) => !f.startsWith('.pinhole-incoming'))).toEqual(want);
    expect(listFiles(path.join(sftpDest, '.pinhole-incoming'))).toEqual([]);
    // WebDAV uploads go straight to the final name (the server commits a PUT only when complete): no incoming folder.
    expect(listFiles(path.join(dav.www, 'photos'))).toEqual([`${a}.jpg`, `${b}.jpg`].sort());
    for (const dir of [local, sftpDest, path.join(dav.www, 'photos')]) {
      expect(readFileSync(path.join(dir, `${a}.jpg`)).equals(g(a))).toBe(true);
      expect(readFileSync(path.join(dir, `${b}.jpg`)).equals(g(b))).toBe(true);
    }
    expect(readFileSync(path.join(local, `${a}-sepia.jpg`)).equals(g(a, 'variants/sepia.jpg'))).toBe(true);
    // Status and /api/status agree; the gallery badge says synced.
    const st = (await d.api('GET', '/api/status')).json as { sync: { queueLength: number; lastSuccess: string } };
    expect(st.sync.queueLength).toBe(0);
    expect(st.sync.lastSuccess).toBeTruthy();
    const photo = (await d.api('GET', `/api/photos/${a}`)).json as { photo: { sync: { state: string } } };
    expect(photo.photo.sync.state).toBe('synced');

    // `done` is for good: it survives a restart although the queue is empty.
    await d.stop();
    await d.start();
    expect(d.status().targets.map((t) => t.done)).toEqual([3, 2, 3]);
    await d.stop();
  }, 300_000);

  it('keeps the queue through wrong credentials and a destination that is down, then delivers', async () => {
    const d = daemon(
      `    - { name: nas, remote: "dav:down" }\n    - { name: home, remote: "sftp:${sftp.root}/creds" }\n`,
    );
    conf(d, { davPass: 'wrong-password', sftpKey: sftp.otherKey });
    dav.mkdir('down');
    await d.start();
    const id = d.capture();
    let s = await d.waitStatus((s) => s.targets.every((t) => t.failed === 1));
    expect(s.targets[0].lastError).toMatch(/wrong credentials/);
    expect(s.targets[1].lastError).toMatch(/wrong credentials/);
    expect(s.targets.every((t) => t.pendingBytes > 0 && t.done === 0)).toBe(true);
    // Neither the password nor the remote string reaches the status.
    expect(JSON.stringify(s)).not.toMatch(/wrong-password|dav:down/);

    // Right credentials, then the WebDAV server goes down: "unreachable", still queued.
    await d.stop();
    conf(d);
    await dav.stop();
    let id2 = '';
    try {
      await d.start();
      s = await d.waitStatus((s) => /unreachable/.test(s.targets[0].lastError ?? '') && s.targets[1].done === 1);
      expect(s.targets[0].failed + s.targets[0].uploading).toBe(1);
      // Offline is normal: a new photo joins the queue.
      id2 = d.capture();
    } finally {
      await dav.restart();
    }
    d.status('retry');
    s = await d.waitStatus((s) => s.targets[0].done === 2 && s.targets[0].failed + s.targets[0].queued === 0);
    expect(s.targets[0].lastError).toBeNull();
    expect(listFiles(path.join(dav.www, 'down'))).toEqual([`${id}.jpg`, `${id2}.jpg`].sort());
    await d.stop();
  }, 300_000);

  it('says in words when the destination is read-only or full, and keeps the photos queued', async () => {
    const full = path.join(sftp.dir, 'tiny');
    mkdirSync(full);
    const { execFileSync } = await import('node:child_process');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48k', 'tmpfs', full]);
    try {
      writeFileSync(path.join(full, 'filler'), Buffer.alloc(40 * 1024, 1));
      const d = daemon(`    - { name: ro, remote: "dav:" }\n    - { name: full, remote: ${full} }\n`);
      conf(d, { davPath: '/ro' });
      await d.start();
      d.capture();
      const s = await d.waitStatus(
        (s) => /refused the write/.test(s.targets[0].lastError ?? '') && /is full/.test(s.targets[1].lastError ?? ''),
      );
      for (const t of s.targets) expect([t.done, t.queued + t.uploading + t.failed]).toEqual([0, 1]);
      // Nothing half-written under a final name on the full disk.
      expect(readdirSync(full).filter((f) => f.endsWith('.jpg'))).toEqual([]);
      await d.stop();
    } finally {
      execFileSync('umount', ['-l', full]);
    }
  }, 300_000);

  it('survives bad input: unknown remote, a config others can read, a photo deleted while queued, a corrupt queue', async () => {
    const dest = path.join(sftp.dir, 'bad-input-dest');
    const d = daemon(`    - { name: ghost, remote: "nosuch:photos" }\n    - { name: usb, remote: ${dest} }\n`);
    const rc = conf(d);
    await fs.chmod(rc, 0o644);
    await d.start();
    d.capture();
    let s = await d.waitStatus((s) => s.targets[0].failed === 1 && s.targets[1].done === 1);
    expect(s.targets[0].lastError).toMatch(/readable by others.*chmod 600/);
    await d.stop();

    await fs.chmod(rc, 0o600);
    await d.start();
    d.status('retry');
    s = await d.waitStatus((s) => /does not know the remote/.test(s.targets[0].lastError ?? ''));
    expect(s.targets[0].lastError).not.toMatch(/nosuch/);

    // Paused: a photo is queued, then deleted on the camera before it is uploaded.
    expect((await d.api('POST', '/api/sync/pause')).status).toBe(200);
    const doomed = d.capture();
    await waitUntil(() => d.status().targets[1].queued === 1, 60_000, 100);
    expect((await d.api('DELETE', `/api/photos/${doomed}`)).status).toBe(204);
    expect((await d.api('POST', '/api/sync/resume')).status).toBe(200);
    s = await d.waitStatus((s) => s.targets[1].queued + s.targets[1].uploading === 0);
    expect(existsSync(path.join(dest, `${doomed}.jpg`))).toBe(false);
    await d.stop();

    // A corrupt queue file: quarantined, rebuilt from the gallery, no crash.
    const qf = path.join(d.dataDir, 'state', 'sync-queue.json');
    writeFileSync(qf, '{"version":1,"targets":{"usb":{');
    await fs.rm(dest, { recursive: true, force: true });
    await fs.rm(path.join(d.dataDir, 'state', 'sync', 'usb.done'), { force: true });
    await d.start();
    expect(readdirSync(path.join(d.dataDir, 'state')).some((f) => f.startsWith('sync-queue.json.corrupt-'))).toBe(true);
    s = await d.waitStatus((s) => s.targets[1].done === 1 && s.targets[1].queued === 0);
    expect(d.output).toMatch(/sync queue file is corrupt/);
    expect(listFiles(dest).filter((f) => f.endsWith('.jpg'))).toHaveLength(1);
    await d.stop();
  }, 300_000);

  it('SIGKILL of the daemon mid-upload, then restart: nothing lost, duplicated or partial at the destination', async () => {
    const local = path.join(sftp.dir, 'kill-local');
    const sdest = path.join(sftp.root, 'kill');
    dav.mkdir('kill');
    const d = daemon(
      `    - { name: usb, remote: ${local} }\n    - { name: nas, remote: "dav:kill" }\n    - { name: home, remote: "sftp:${sdest}" }\n`,
      '  bwlimit: 20k\n  transfers: 1\n',
    );
    conf(d);
    await d.start();
    const ids = [d.capture(), d.capture()];
    // Wait for an rclone to be uploading, then cut the power.
    const rclonePid = async () =>
      ((await d.api('GET', '/api/sync')).json as { rclonePid?: number | null }).rclonePid ?? null;
    await waitUntil(async () => (await rclonePid()) !== null, 60_000, 50);
    await new Promise((r) => setTimeout(r, 700));
    await d.stop('SIGKILL');
    // Whatever the killed rclone left, no final name holds a partial file.
    const checkFinals = () => {
      for (const dir of [local, sdest, path.join(dav.www, 'kill')])
        for (const f of listFiles(dir).filter((f) => !f.includes('.pinhole-incoming') && !f.startsWith('.davfs'))) {
          const id = f.replace(/\.jpg$/, '');
          expect(ids).toContain(id);
          expect(statSync(path.join(dir, f)).size).toBe(
            statSync(path.join(d.dataDir, 'gallery', id, 'photo.jpg')).size,
          );
        }
    };
    checkFinals();
    d.writeConfig(readFileSync(d.configFile, 'utf8').replace('bwlimit: 20k', 'bwlimit: null'));
    await d.start();
    const s = await d.waitStatus(
      (s) => s.targets.every((t) => t.done === 2 && t.queued + t.uploading + t.failed === 0),
      60_000,
    );
    expect(s.targets.map((t) => t.done)).toEqual([2, 2, 2]);
    checkFinals();
    for (const dir of [local, sdest, path.join(dav.www, 'kill')]) {
      const finals = listFiles(dir).filter((f) => !f.startsWith('.'));
      expect(finals).toEqual(ids.map((i) => `${i}.jpg`).sort());
      expect(listFiles(path.join(dir, '.pinhole-incoming'))).toEqual([]);
    }
    await d.stop();
  }, 300_000);
});

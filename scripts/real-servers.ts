/**
 * Real servers for the sync and MQTT tests, started on loopback ephemeral ports in temp folders and stopped by the
 * test: Apache with mod_dav (WebDAV), OpenSSH's sshd with internal-sftp, mosquitto with a password file. `.ci/run`
 * installs them (apache2, openssh-server, mosquitto, rclone). Each helper gives what rclone or MQTT.js needs.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function waitPort(port: number, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createConnection(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

function stopChild(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    const t = setTimeout(() => p.kill('SIGKILL'), 3000);
    p.once('exit', () => {
      clearTimeout(t);
      r();
    });
    p.kill('SIGTERM');
  });
}

export function obscure(password: string): string {
  return execFileSync('rclone', ['obscure', password], { encoding: 'utf8' }).trim();
}

export interface Server {
  dir: string;
  port: number;
  /** Stops the server (the folder stays until cleanup). */
  stop(): Promise<void>;
  /** Starts it again on the same port (destination back after an outage). */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

const MODS = '/usr/lib/apache2/modules';

/** Apache httpd with mod_dav_fs: `/dav` (read-write, basic auth) and `/ro` (read-only: writes get 403). */
export interface WebdavServer extends Server {
  www: string;
  /** A folder under /dav that the server (user nobody) may write. */
  mkdir(sub: string): string;
}

export async function startWebdav(user = 'pinhole', password = 'dav-secret-1'): Promise<WebdavServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pinhole-dav-'));
  chmodSync(dir, 0o755);
  const www = path.join(dir, 'www');
  const ro = path.join(dir, 'ro');
  for (const d of [www, ro, path.join(dir, 'lock')]) {
    mkdirSync(d);
    chownSync(d, 65534, 65534);
  }
  execFileSync('htpasswd', ['-bc', path.join(dir, 'htpasswd'), user, password], { stdio: 'ignore' });
  const port = await freePort();
  const conf = path.join(dir, 'httpd.conf');
  const mods = [
    'mpm_event',
    'authz_core',
    'authn_core',
    'authn_file',
    'auth_basic',
    'authz_user',
    'dav',
    'dav_fs',
    'alias',
  ];
  writeFileSync(
    conf,
    [
      ...mods.map((m) => `LoadModule ${m}_module ${MODS}/mod_${m}.so`),
      `ServerRoot ${dir}`,
      'ServerName 127.0.0.1',
      `Listen 127.0.0.1:${port}`,
      'User nobody',
      'Group nogroup',
      `PidFile ${dir}/httpd.pid`,
      `ErrorLog ${dir}/error.log`,
      'LogLevel warn',
      `DavLockDB ${dir}/lock/davlock`,
      `Alias /dav ${www}`,
      `Alias /ro ${ro}`,
      `<Directory ${www}>`,
      '  Dav On',
      '  AuthType Basic',
      '  AuthName "pinhole test"',
      `  AuthUserFile ${dir}/htpasswd`,
      '  Require valid-user',
      '</Directory>',
      `<Directory ${ro}>`,
      '  Dav On',
      '  AuthType Basic',
      '  AuthName "pinhole test"',
      `  AuthUserFile ${dir}/htpasswd`,
      '  <LimitExcept GET HEAD OPTIONS PROPFIND>',
      '    Require all denied',
      '  </LimitExcept>',
      '  <Limit GET HEAD OPTIONS PROPFIND>',
      '    Require valid-user',
      '  </Limit>',
      '</Directory>',
      '',
    ].join('\n'),
  );
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn('/usr/sbin/apache2', ['-f', conf, '-X'], { stdio: 'ignore' });
    await waitPort(port);
  };
  await start();
  return {
    dir,
    port,
    www,
    mkdir: (sub: string) => {
      const d = path.join(www, sub);
      mkdirSync(d, { recursive: true });
      chownSync(d, 65534, 65534);
      return d;
    },
    stop: () => stopChild(proc),
    restart: start,
    cleanup: async () => {
      await stopChild(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** OpenSSH sshd with internal-sftp, key login for root only (this machine and CI run tests as root). */
export async function startSftp(): Promise<Server & { key: string; otherKey: string; root: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pinhole-sftp-'));
  const root = path.join(dir, 'files');
  mkdirSync(root);
  mkdirSync('/run/sshd', { recursive: true });
  const hostKey = path.join(dir, 'host_ed25519');
  const key = path.join(dir, 'client_ed25519');
  const otherKey = path.join(dir, 'other_ed25519');
  for (const k of [hostKey, key, otherKey])
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', k], { stdio: 'ignore' });
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(`${key}.pub`));
  const port = await freePort();
  const conf = path.join(dir, 'sshd_config');
  writeFileSync(
    conf,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${dir}/sshd.pid`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'StrictModes no',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', conf], { stdio: 'ignore' });
    await waitPort(port);
  };
  await start();
  return {
    dir,
    port,
    key,
    otherKey,
    root,
    stop: () => stopChild(proc),
    restart: start,
    cleanup: async () => {
      await stopChild(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** mosquitto 2 with a password file (anonymous refused). */
export async function startMosquitto(
  users: Record<string, string> = { pinhole: 'mqtt-secret-1', ha: 'ha-secret-1' },
): Promise<Server & { url: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pinhole-mqtt-'));
  chmodSync(dir, 0o755);
  const pw = path.join(dir, 'passwd');
  writeFileSync(pw, '');
  for (const [u, p] of Object.entries(users)) execFileSync('mosquitto_passwd', ['-b', pw, u, p], { stdio: 'ignore' });
  chmodSync(pw, 0o644);
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [`listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${pw}`, 'persistence false', ''].join('\n'),
  );
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
    await waitPort(port);
  };
  await start();
  return {
    dir,
    port,
    url: `mqtt://127.0.0.1:${port}`,
    stop: () => stopChild(proc),
    restart: start,
    cleanup: async () => {
      await stopChild(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

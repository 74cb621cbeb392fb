import { execFile, execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { validateConfigText } from '../../src/config/validate.js';
import { allModelStatus, loadManifest } from '../../src/models/manifest.js';
import { hasSystemdAnalyze, verifyUnit } from './systemd-verify.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const installer = path.join(repoRoot, 'scripts/install.sh');
const sharedModels = path.resolve(repoRoot, '../shared/models');

function install(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [installer, ...args],
      { env: { ...process.env, SUDO_USER: 'alice', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

let root: string;
beforeAll(() => {
  if (!existsSync(path.join(repoRoot, 'dist/src/cli/main.js')))
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, stdio: 'inherit' });
}, 120_000);
beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-install-'));
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const at = (rel: string) => path.join(root, rel);

describe('scripts/install.sh --root (dry run)', () => {
  it('writes the expected tree, installs verified models, and only logs system changes', async () => {
    const r = await install(['--root', root, '--models-from', sharedModels]);
    expect(r.code, r.stderr + r.stdout).toBe(0);

    // System changes are logged, not made.
    for (const line of [
      'would run: apt-get install -y --no-install-recommends rpicam-apps gpiod pigpio build-essential python3 avahi-daemon',
      'would run: sh -c curl -fsSL https://deb.nodesource.com/setup_20.x | bash -',
      'would run: useradd --system --gid pinhole --groups video,gpio',
      'would run: usermod -aG pinhole alice',
      'would run: systemctl enable pinhole',
      'would run: systemctl restart pinhole',
      'would run: (cd /opt/pinhole && ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev)',
    ]) {
      expect(r.stdout).toContain(line);
    }
    expect(r.stdout).toMatch(/Web UI: +http:\/\/\S+\.local:8080\//);
    expect(r.stdout).toContain('sudo pinhole passwd');

    // Unit file and wrapper.
    expect(await fs.readFile(at('etc/systemd/system/pinhole.service'), 'utf8')).toBe(
      await fs.readFile(path.join(repoRoot, 'systemd/pinhole.service'), 'utf8'),
    );
    // The rclone config (sync credentials) exists for the service user only.
    expect(r.stdout).toContain('would run: chown pinhole:pinhole /etc/pinhole/rclone.conf');
    expect((await fs.stat(at('etc/pinhole/rclone.conf'))).mode & 0o777).toBe(0o600);
    expect(r.stdout).toMatch(/apt-get install -y --no-install-recommends .* rclone/);
    const wrapper = at('usr/local/bin/pinhole');
    expect((await fs.stat(wrapper)).mode & 0o111).toBe(0o111);
    expect(await fs.readFile(wrapper, 'utf8')).toContain('exec /usr/bin/node /opt/pinhole/dist/src/cli/main.js "$@"');

    // /opt/pinhole: built code, lockfile, manifest; no sources, tests or dev tooling.
    for (const f of [
      'dist/src/cli/main.js',
      'package.json',
      'package-lock.json',
      'models/manifest.json',
      'systemd/pinhole.service',
    ]) {
      expect(existsSync(at(`opt/pinhole/${f}`)), f).toBe(true);
    }
    for (const f of ['src', 'test', 'node_modules', '.git', 'opt/pinhole.new'])
      expect(existsSync(at(`opt/pinhole/${f}`)), f).toBe(false);
    expect(existsSync(at('opt/pinhole.new'))).toBe(false);

    // Config: written, valid, group-writable folder for the settings page.
    const configText = await fs.readFile(at('etc/pinhole/config.yaml'), 'utf8');
    expect(validateConfigText(configText).errors).toEqual([]);
    expect((await fs.stat(at('etc/pinhole'))).mode & 0o777).toBe(0o770);

    // Models: every manifest model installed and its sha256 verified.
    const states = await allModelStatus(
      at('var/lib/pinhole/models'),
      { verify: true },
      await loadManifest(path.join(repoRoot, 'models/manifest.json')),
    );
    expect(states.map((s) => s.state)).toEqual(states.map(() => 'verified'));
  });

  it.skipIf(!hasSystemdAnalyze())('installs a unit that passes systemd-analyze verify', async () => {
    const r = await install(['--root', root, '--no-start']);
    expect(r.code, r.stderr).toBe(0);
    const v = await verifyUnit(at('etc/systemd/system/pinhole.service'), root, at('opt/pinhole'));
    expect(v.problems, v.stderr).toEqual([]);
    expect(v.code, v.stderr).toBe(0);
  });

  it('is idempotent and never overwrites the owner config', async () => {
    expect((await install(['--root', root, '--models-from', sharedModels])).code).toBe(0);
    const cfg = at('etc/pinhole/config.yaml');
    await fs.writeFile(cfg, '# mine\nweb:\n  port: 9000\n');
    const again = await install(['--root', root, '--models-from', sharedModels]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('keeping the existing /etc/pinhole/config.yaml');
    expect(again.stdout).toMatch(/already installed/);
    expect(again.stdout).toMatch(/\.local:9000\//);
    expect(await fs.readFile(cfg, 'utf8')).toBe('# mine\nweb:\n  port: 9000\n');
    expect(existsSync(at('opt/pinhole/dist/src/cli/main.js'))).toBe(true);
    expect(existsSync(at('opt/pinhole.old'))).toBe(false);
  });

  it('refuses a 32-bit OS and an unsupported board with a clear message, writing nothing', async () => {
    const a = await install(['--root', root], { PINHOLE_INSTALL_ARCH: 'armhf' });
    expect(a.code).toBe(1);
    expect(a.stderr).toContain('32-bit OS (armhf)');
    expect(a.stderr).toContain('Raspberry Pi OS (64-bit)');
    await fs.mkdir(at('proc/device-tree'), { recursive: true });
    await fs.writeFile(at('proc/device-tree/model'), 'Raspberry Pi Zero W Rev 1.1\0');
    const b = await install(['--root', root]);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain('Raspberry Pi Zero W Rev 1.1 is not supported');
    expect(existsSync(at('opt/pinhole'))).toBe(false);
    await fs.writeFile(at('proc/device-tree/model'), 'Raspberry Pi Zero 2 W Rev 1.0\0');
    const c = await install(['--root', root, '--no-start']);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toContain('board: Raspberry Pi Zero 2 W Rev 1.0');
  });

  it('--uninstall keeps photos and config; --purge removes them', async () => {
    expect((await install(['--root', root, '--no-start'])).code).toBe(0);
    await fs.mkdir(at('var/lib/pinhole/photos'), { recursive: true });
    await fs.writeFile(at('var/lib/pinhole/photos/IMG_0001.jpg'), 'jpeg');
    const u = await install(['--root', root, '--uninstall']);
    expect(u.code, u.stderr).toBe(0);
    expect(u.stdout).toContain('would run: systemctl disable --now pinhole');
    for (const gone of ['opt/pinhole', 'etc/systemd/system/pinhole.service', 'usr/local/bin/pinhole'])
      expect(existsSync(at(gone)), gone).toBe(false);
    expect(existsSync(at('var/lib/pinhole/photos/IMG_0001.jpg'))).toBe(true);
    expect(existsSync(at('etc/pinhole/config.yaml'))).toBe(true);
    const p = await install(['--root', root, '--uninstall', '--purge']);
    expect(p.code).toBe(0);
    expect(existsSync(at('var/lib/pinhole'))).toBe(false);
    expect(existsSync(at('etc/pinhole'))).toBe(false);
    expect(p.stdout).toContain('would run: userdel pinhole');
  });
});

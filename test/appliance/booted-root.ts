/**
 * Real Debian roots, booted with systemd as PID 1, for the installer tests (test/appliance/booted-install.test.ts).
 *
 * Recipe (tried on these hosts): `mmdebstrap --variant=minbase --include=systemd-sysv,dbus,ca-certificates RELEASE
 * root.tar.zst MIRROR` (cached under $PINHOLE_ROOT_CACHE, default /var/tmp/pinhole-roots), unpacked per test;
 * `systemd-nspawn -D ROOT --boot --register=no --keep-unit --private-network` boots it; `nsenter -t <its PID 1>`
 * runs commands inside. Commands that need the package mirrors or the npm registry keep the host's network
 * namespace (the container's own network is private, so the daemon it runs is reachable only from inside).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';

export type Release = 'bookworm' | 'trixie';
export const MIRROR = process.env.PINHOLE_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
export const CACHE = process.env.PINHOLE_ROOT_CACHE ?? '/var/tmp/pinhole-roots';
const PATH_INSIDE = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function which(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why booted-root tests cannot run here, or null when they can (root, mmdebstrap, systemd-nspawn, nsenter). */
export function bootedRootsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const t of ['mmdebstrap', 'systemd-nspawn', 'nsenter', 'dpkg-deb', 'dpkg-scanpackages', 'zstd'])
    if (!which(t)) return `needs ${t}`;
  return null;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 600_000, maxBuffer: 64 << 20, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

export type Arch = 'amd64' | 'arm64';
const tarballs = new Map<string, Promise<string>>();
/**
 * The cached minbase tarball of a release, built once (about a minute; arm64 under qemu-user several) and reused by
 * every later run. arm64 roots are for chroot checks only (systemd does not boot under qemu-user here): no systemd.
 */
export function rootTarball(release: Release, arch: Arch = 'amd64'): Promise<string> {
  // Concurrent tests of one release share one build (they run in one process: the temp name is per process).
  let p = tarballs.get(`${release}-${arch}`);
  if (!p) {
    p = buildRootTarball(release, arch);
    tarballs.set(`${release}-${arch}`, p);
  }
  return p;
}

async function buildRootTarball(release: Release, arch: Arch): Promise<string> {
  await fs.mkdir(CACHE, { recursive: true });
  const file = path.join(CACHE, `${release}-${arch}.tar.zst`);
  if (existsSync(file)) return file;
  const tmp = `${file}.${process.pid}.tmp.tar.zst`;
  // A foreign root's dpkg and maintainer scripts run under qemu-user, every fork emulated: skip
  // dpkg's fsyncs (a throwaway root), and leave out ca-certificates, whose config and postinst fork a grep and a sed
  // per certificate (over 5 of the ~20 minutes a bookworm arm64 root took here; its apt uses the http mirror).
  const opts = arch === 'amd64' ? ['--include=systemd-sysv,dbus,ca-certificates'] : ['--dpkgopt=force-unsafe-io'];
  const r = await run('mmdebstrap', [`--arch=${arch}`, '--variant=minbase', ...opts, release, tmp, MIRROR], {
    timeoutMs: 1_800_000,
  });
  if (r.code !== 0) {
    await fs.rm(tmp, { force: true });
    throw new Error(`mmdebstrap ${release} ${arch} failed (${r.code}):\n${r.stderr.slice(-3000)}`);
  }
  await fs.rename(tmp, file);
  return file;
}

export class BootedRoot {
  private nspawn: ChildProcess | null = null;
  private pid1 = 0;
  private consoleLog = '';

  private constructor(
    readonly release: Release,
    /** The root's folder on the host. */
    readonly dir: string,
  ) {}

  /** Unpacks a fresh root of `release` into a new folder under the cache (not /tmp: nspawn puts a tmpfs there). */
  static async unpack(release: Release, name: string): Promise<BootedRoot> {
    const tarball = await rootTarball(release);
    const dir = path.join(CACHE, `run-${name}-${process.pid}`);
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(dir, { recursive: true });
    const r = await run('tar', ['--zstd', '-xf', tarball, '-C', dir]);
    if (r.code !== 0) throw new Error(`unpacking ${tarball}: ${r.stderr}`);
    // mmdebstrap leaves resolv.conf empty; apt inside uses the host's resolver (it runs in the host's network).
    await fs.copyFile('/etc/resolv.conf', path.join(dir, 'etc/resolv.conf'));
    return new BootedRoot(release, dir);
  }

  /** Host path of a path inside the root. */
  at(p: string): string {
    return path.join(this.dir, p);
  }

  /** Boots the root; resolves once systemd reports the system running (or degraded). */
  async boot(binds: { host: string; inside: string }[] = []): Promise<void> {
    const machine = `pinhole-${path
      .basename(this.dir)
      .replace(/[^a-z0-9-]/gi, '')
      .slice(-40)}`;
    const child = spawn(
      'systemd-nspawn',
      [
        '-D',
        this.dir,
        '--boot',
        '--register=no',
        '--keep-unit',
        '--private-network',
        `--machine=${machine}`,
        '--console=pipe',
        ...binds.map((b) => `--bind=${b.host}:${b.inside}`),
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.nspawn = child;
    const keep = (d: Buffer) => {
      this.consoleLog = (this.consoleLog + d.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const deadline = Date.now() + 120_000;
    while (!this.pid1) {
      if (child.exitCode !== null) throw new Error(`systemd-nspawn exited ${child.exitCode}:\n${this.consoleLog}`);
      if (Date.now() > deadline) throw new Error(`the container did not start:\n${this.consoleLog}`);
      await new Promise((r) => setTimeout(r, 200));
      const children = await fs.readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').catch(() => '');
      const pid = Number(children.trim().split(/\s+/)[0]);
      if (pid && (await fs.readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() === 'systemd') this.pid1 = pid;
    }
    // systemd may not answer on its bus for the first moments after exec: ask again until it does.
    let state = await this.exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: 120_000 });
    while (!/running|degraded/.test(state.stdout) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      state = await this.exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: 120_000 });
    }
    if (!/running|degraded/.test(state.stdout))
      throw new Error(
        `the container did not come up (${state.stdout.trim()} ${state.stderr.trim()}):\n${this.consoleLog}`,
      );
  }

  /**
   * Runs a command inside the booted root, as root, with a clean environment. `hostNetwork` keeps the host's network
   * namespace (apt, npm); otherwise it sees the container's private network (the daemon's port).
   */
  exec(
    argv: string[],
    opts: { env?: Record<string, string>; hostNetwork?: boolean; timeoutMs?: number; input?: string } = {},
  ): Promise<RunResult> {
    if (!this.pid1) throw new Error('not booted');
    const ns = opts.hostNetwork ? ['-m', '-u', '-i', '-p', '-C'] : ['-a'];
    const env = Object.entries({ PATH: PATH_INSIDE, HOME: '/root', LANG: 'C.UTF-8', ...opts.env }).map(
      ([k, v]) => `${k}=${v}`,
    );
    return run('nsenter', ['-t', String(this.pid1), ...ns, '--', 'env', '-i', ...env, ...argv], opts);
  }

  /** Like exec, but a non-zero exit status is an error carrying the output. */
  async must(argv: string[], opts: Parameters<BootedRoot['exec']>[1] = {}): Promise<string> {
    const r = await this.exec(argv, opts);
    if (r.code !== 0)
      throw new Error(`${argv.join(' ')} exited ${r.code}\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
    return r.stdout;
  }

  /** Every path in the root (files, links, folders), relative, without the API file systems. */
  async fileList(): Promise<Set<string>> {
    const r = await run('find', [this.dir, '-xdev', '-mindepth', '1'], { timeoutMs: 120_000 });
    const out = new Set<string>();
    for (const line of r.stdout.split('\n')) {
      if (!line) continue;
      const rel = `/${path.relative(this.dir, line)}`;
      if (/^\/(proc|sys|dev|run|tmp)(\/|$)/.test(rel)) continue;
      out.add(rel);
    }
    return out;
  }

  get log(): string {
    return this.consoleLog;
  }

  /** Powers the container off (SIGTERM to nspawn asks systemd to halt) and deletes the root. */
  async destroy(): Promise<void> {
    const child = this.nspawn;
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(t);
    }
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

/** Builds a .deb from a folder tree and a control stanza. */
export async function buildDeb(
  outDir: string,
  control: Record<string, string>,
  files: Record<string, { text: string; mode?: number }> = {},
  /** Fills the package tree further (e.g. unpacks a tarball into it). */
  fill?: (tree: string) => Promise<void>,
): Promise<string> {
  const work = await fs.mkdtemp(path.join(outDir, '.deb-'));
  await fs.mkdir(path.join(work, 'DEBIAN'));
  const stanza = Object.entries({ Architecture: 'all', Maintainer: 'Pinhole tests <tests@localhost>', ...control })
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
  await fs.writeFile(path.join(work, 'DEBIAN/control'), `${stanza}\n`);
  for (const [p, f] of Object.entries(files)) {
    const dest = path.join(work, p);
    await fs.mkdir(path.dirname(dest), { recursive: true });
    await fs.writeFile(dest, f.text, { mode: f.mode ?? 0o644 });
  }
  if (fill) await fill(work);
  const deb = path.join(outDir, `${control.Package}_${control.Version}_${control.Architecture ?? 'all'}.deb`);
  // Uncompressed: xz-compressing a Node binary takes minutes on a busy two-core host, and the .deb never leaves it.
  const r = await run('dpkg-deb', ['--root-owner-group', '-Znone', '--build', work, deb]);
  await fs.rm(work, { recursive: true, force: true });
  if (r.code !== 0) throw new Error(`dpkg-deb: ${r.stderr}`);
  return deb;
}

/** Writes Packages for the .debs in `dir` so `deb [trusted=yes] file:DIR ./` works as an apt source. */
export async function indexRepo(dir: string): Promise<void> {
  const r = await run('sh', ['-c', `cd "${dir}" && dpkg-scanpackages --multiversion . /dev/null > Packages`]);
  if (r.code !== 0) throw new Error(`dpkg-scanpackages: ${r.stderr}`);
}

const packs = new Map<string, Promise<string>>();
/** `npm pack NAME` into the cache (once), returning the .tgz. */
export function npmPack(spec: string): Promise<string> {
  let p = packs.get(spec);
  if (!p) {
    p = packOnce(spec);
    packs.set(spec, p);
  }
  return p;
}

async function packOnce(spec: string): Promise<string> {
  const dir = path.join(CACHE, 'npm-pack');
  await fs.mkdir(dir, { recursive: true });
  const name = `${spec.replace(/^@/, '').replace('/', '-').replace('@', '-')}.tgz`;
  const file = path.join(dir, name);
  if (existsSync(file)) return file;
  const r = await run('npm', ['pack', spec, '--pack-destination', dir, '--json'], { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`npm pack ${spec}: ${r.stderr}`);
  const packed = JSON.parse(r.stdout)[0].filename as string;
  await fs.rename(path.join(dir, packed), file);
  return file;
}

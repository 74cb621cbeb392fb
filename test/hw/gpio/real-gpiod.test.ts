import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  classifyGpiodFailure,
  type GpiodVersion,
  monitorArgs,
  parseGpiodRelease,
  setArgs,
} from '../../../src/hw/gpio/gpiod-format.js';
import { detectGpiodTools, runTool } from '../../../src/hw/gpio/gpiod-tools.js';
import { repoRoot } from '../../helpers/tmp.js';
import { fixturesDir } from './helpers.js';

// Issue 13, "real binaries where they run here": Debian's own gpiod tools, run with the exact command lines the
// gpiod backend builds (monitorArgs/setArgs, `--version`), must fail only because this machine has no GPIO chip,
// never because they refuse our argv. libgpiod 1.6.3 is bookworm's (installed on this host by .ci/run); 2.2.1 is
// trixie's, run inside a trixie root made by mmdebstrap. The same runs check the fake tools against the real ones.

const exec = promisify(execFile);
type Run = { code: number | null; stdout: string; stderr: string };
type Runner = (tool: string, args: string[]) => Promise<Run>;

async function capture(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<Run> {
  try {
    const r = await exec(cmd, args, { env: { ...process.env, LC_ALL: 'C', ...env }, timeout: 20_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string; message: string };
    if (typeof err.code !== 'number') throw new Error(`cannot run ${cmd}: ${err.message}`);
    return { code: err.code, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** Runs `fn` over `items`, `width` at a time, results in order (node startup makes the fakes slow one by one). */
async function pool<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return out;
}

/** Every command line the backend can produce, for a chip name gpiodetect could report. */
function projectArgv(d: GpiodVersion): { tool: string; args: string[] }[] {
  const out: { tool: string; args: string[] }[] = [];
  for (const tool of ['gpiomon', 'gpioset', 'gpiodetect']) out.push({ tool, args: ['--version'] });
  for (const chip of ['gpiochip0', 'gpiochip4'])
    for (const pull of ['up', 'down', 'off'] as const)
      for (const us of [0, 1, 2000, 100_000]) out.push({ tool: 'gpiomon', args: monitorArgs(d, chip, 27, pull, us) });
  for (const level of [0, 1] as const) out.push({ tool: 'gpioset', args: setArgs(d, 'gpiochip0', 16, level) });
  out.push({ tool: 'gpiodetect', args: [] });
  return out;
}

/** What the tool prints when the one thing wrong is the missing chip (tools/*.c at each version). */
const CHIP_MISSING: Record<GpiodVersion, Record<string, (args: string[]) => string>> = {
  1: {
    gpiomon: () => 'error waiting for events: No such file or directory',
    gpioset: () => 'error setting the GPIO line values: No such file or directory',
  },
  2: {
    gpiomon: (a) => `cannot find GPIO chip character device '${a[a.indexOf('-c') + 1]}'`,
    gpioset: (a) => `cannot find GPIO chip character device '${a[a.indexOf('-c') + 1]}'`,
  },
};

/** Command lines the fake must answer exactly as the real tool does (usage errors, then the missing chip). */
const FIDELITY_CASES: Record<GpiodVersion, { tool: string; args: string[] }[]> = {
  1: [
    ...[
      ['--version'],
      ['-b', '-B', 'pull-up', '-F', '%e %o %s %n', 'gpiochip0', '26'],
      ['--foo'],
      ['--foo=bar', 'x', '1'],
      ['--bias'],
      ['--silent=x', 'g', '1'],
      ['--li', 'g', '1'],
      ['--f', 'g', '1'],
      ['--fo', 'g', '1'],
      ['-Bxx', 'g', '1'],
      ['-B', 'disabled', 'g', '1'],
      ['-X'],
      ['-c', 'gpiochip0', '17'],
      ['gpiochip0'],
      [],
      ['gpiochip0', '1x'],
      ['-n', 'x', 'g', '1'],
      ['pinctrl-bcm2711', '5'],
      ['--', 'gpiochip0', '1'],
    ].map((args) => ({ tool: 'gpiomon', args })),
    ...[
      ['--version'],
      ['--mode=signal', 'gpiochip0', '16=1'],
      ['--mode=signal', 'gpiochip0', '16=2'],
      ['--mode=signal', 'gpiochip0', 'a=1'],
      ['-m', 'signal', 'gpiochip0', '16=1x'],
      ['--mode=bogus', 'g', '1=1'],
      ['--mo=signal', 'g', '1=1'],
      ['-s', '1', 'g', '1=1'],
      ['-b', 'g', '1=1'],
      ['--mode'],
      ['-c', 'gpiochip0', '16=1'],
      ['gpiochip0'],
    ].map((args) => ({ tool: 'gpioset', args })),
    ...[['--version'], [], ['x'], ['--he'], ['-h', 'x']].map((args) => ({ tool: 'gpiodetect', args })),
  ],
  2: [
    ...[
      ['--version'],
      ['-c', 'gpiochip0', '-b', 'pull-up', '-e', 'both', '-F', '%E %o %S', '-p', '2000us', '26'],
      ['--e'],
      ['--s', 'x'],
      ['-p', '10x', '1'],
      ['-p', '2000u', '-c', '0', '1'],
      ['-p', '5000000000', '-c', '0', '1'],
      [],
      ['-b', 'as-is', '1'],
      ['-b', 'disable', '-c', '0', '1'],
      ['17'],
      ['-c', 'pinctrl-bcm2711', '17'],
      ['-c', '/dev/gpiochip0', '1'],
      ['-n', 'x', '1'],
      ['-e', 'up', '1'],
      ['-B', 'pull-up', 'gpiochip0', '17'],
      ['-X'],
      ['--help', 'x'],
    ].map((args) => ({ tool: 'gpiomon', args })),
    ...[
      ['--version'],
      ['-c', 'gpiochip0', '16=1'],
      ['16=2'],
      ['-c', 'gpiochip0', '16'],
      ['-c', '0', '16=active'],
      ['--mode=signal', 'gpiochip0', '16=1'],
      ['-t', '10x', '16=1'],
      ['-i', '16=1'],
      [],
    ].map((args) => ({ tool: 'gpioset', args })),
    ...[['--version'], [], ['gpiochip3'], ['x'], ['--he']].map((args) => ({ tool: 'gpiodetect', args })),
  ],
};

function dialectSuite(
  d: GpiodVersion,
  release: RegExp,
  setup: () => Promise<{ real: Runner; name: (t: string) => string }>,
) {
  let real: Runner;
  let name: (t: string) => string;
  let fakeDir: string;
  let fake: Runner;
  beforeAll(async () => {
    ({ real, name } = await setup());
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-fake-gpiod-'));
    fakeDir = dir;
    // The fake sees what this machine has: no GPIO chips.
    fake = (tool, args) =>
      capture(path.join(fixturesDir, tool), args, {
        FAKE_GPIOD_VERSION: String(d),
        FAKE_GPIODETECT: '',
        FAKE_GPIO_DIR: dir,
      });
  }, 15 * 60_000);
  afterAll(async () => {
    if (fakeDir) await fs.rm(fakeDir, { recursive: true, force: true });
  });

  it('the version, as detectGpiodTools reads it', async () => {
    const r = await real('gpiomon', ['--version']);
    expect(r.code).toBe(0);
    expect(parseGpiodRelease(r.stdout)).toEqual({ dialect: d, version: expect.stringMatching(release) });
    const info = await detectGpiodTools('gpiomon', (_cmd, args) =>
      real('gpiomon', args).then((x) => ({ ...x, found: true })),
    );
    expect(info).toMatchObject({ dialect: d, debounce: d === 2 });
  });

  it("the backend's exact command lines fail only because there is no GPIO chip here", async () => {
    const cases = projectArgv(d);
    const runs = await pool(cases, 4, ({ tool, args }) => real(tool, args));
    const failures: string[] = [];
    cases.forEach(({ tool, args }, i) => {
      const r = runs[i];
      const line = `${tool} ${args.join(' ')} → exit ${r.code}: ${r.stderr.trim()}`;
      if (args[0] === '--version') {
        if (r.code !== 0 || !parseGpiodRelease(r.stdout)) failures.push(line);
      } else if (tool === 'gpiodetect') {
        // No chips on this machine: nothing listed, and not an error.
        if (r.code !== 0 || r.stdout !== '' || r.stderr !== '') failures.push(line);
      } else {
        const expected = `${name(tool)}: ${CHIP_MISSING[d][tool](args)}\n`;
        if (r.code !== 1 || r.stderr !== expected || classifyGpiodFailure(d, r.stderr) !== 'chip-missing')
          failures.push(`${line} (expected: ${expected.trim()})`);
      }
    });
    expect(cases.length).toBeGreaterThan(25);
    expect(failures).toEqual([]);
  }, 180_000);

  it('a command line of the other dialect is refused as usage, not mistaken for the missing chip', async () => {
    const other = (d === 1 ? 2 : 1) as GpiodVersion;
    const r = await real('gpiomon', monitorArgs(other, 'gpiochip0', 26, 'up', 2000));
    expect(r.code).toBe(1);
    expect(classifyGpiodFailure(d, r.stderr)).toBe('usage');
  });

  it('the fake tools answer every case exactly as the real ones (stdout, stderr, exit status)', async () => {
    const cases = FIDELITY_CASES[d];
    // The fake's --help is its usage line only (FIDELITY.md): compare that line.
    const norm = (run: Run, prog: string, tool: string, help: boolean) => {
      const stdout = run.stdout.replaceAll(prog, tool);
      return {
        code: run.code,
        stdout: help ? stdout.split('\n')[0] : stdout,
        stderr: run.stderr.replaceAll(prog, tool),
      };
    };
    const pairs = await pool(cases, 4, async ({ tool, args }) => {
      const help = args.some((a) => a === '-h' || a.startsWith('--he'));
      return {
        real: norm(await real(tool, args), name(tool), tool, help),
        fake: norm(await fake(tool, args), path.join(fixturesDir, tool), tool, help),
      };
    });
    const diffs = cases.flatMap(({ tool, args }, i) =>
      JSON.stringify(pairs[i].real) === JSON.stringify(pairs[i].fake)
        ? []
        : [
            `${tool} ${args.join(' ')}\n  real: ${JSON.stringify(pairs[i].real)}\n  fake: ${JSON.stringify(pairs[i].fake)}`,
          ],
    );
    expect(diffs, diffs.join('\n')).toEqual([]);
  }, 300_000);
}

describe('libgpiod 1.6.3: Debian bookworm tools on this host', () => {
  dialectSuite(1, /^1\.6\.\d+$/, async () => {
    const probe = await runTool('gpiomon', ['--version']);
    if (!probe.found) throw new Error('gpiomon is not installed on this host: apt-get install gpiod (.ci/run does)');
    const chips = (await fs.readdir('/dev')).filter((n) => n.startsWith('gpiochip'));
    if (chips.length) throw new Error(`this host has GPIO chips (${chips.join(', ')}): these checks expect none`);
    const bin = async (tool: string) => (await exec('sh', ['-c', `command -v ${tool}`])).stdout.trim();
    const paths: Record<string, string> = {};
    for (const t of ['gpiomon', 'gpioset', 'gpiodetect']) paths[t] = await bin(t);
    return { real: (tool, args) => capture(paths[tool], args), name: (tool) => paths[tool] };
  });
});

describe('libgpiod 2.2.1: Debian trixie tools in a trixie root', () => {
  let root: string | undefined;
  dialectSuite(2, /^2\.2(\.\d+)?$/, async () => {
    if (process.getuid?.() !== 0)
      throw new Error('the trixie root is entered with chroot, which needs root (CI runs as root)');
    const t0 = Date.now();
    // Fails loudly (mmdebstrap missing, mirror unreachable) rather than skipping.
    const tarball = (
      await exec(path.join(repoRoot, 'test/fixtures/debian-root.sh'), ['trixie', 'gpiod'], { timeout: 14 * 60_000 })
    ).stdout.trim();
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-trixie-gpiod-'));
    await exec('tar', ['--zstd', '-xf', tarball, '-C', root], { timeout: 120_000 });
    console.log(`trixie root with gpiod ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (${tarball})`);
    const inRoot = root;
    return {
      real: (tool, args) => capture('chroot', [inRoot, `/usr/bin/${tool}`, ...args]),
      name: (tool) => `/usr/bin/${tool}`,
    };
  });
  afterAll(async () => {
    if (root) await fs.rm(root, { recursive: true, force: true });
  });
});

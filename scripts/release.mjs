#!/usr/bin/env node
// `npm run release`: the installable release, built on a fast machine so a Pi never runs tsc or vite.
//
//   node scripts/release.mjs [--out DIR]     writes DIR/pinhole-<version>.tar.gz (default DIR: the repo)
//   node scripts/release.mjs --stage DIR     writes the release tree into DIR (scripts/install.sh uses this for a clone)
//
// The tree is what /opt/pinhole holds before `npm ci --omit=dev`: the built dist/ (code and web UI, no tests), the
// package files and lockfile, the model manifest, the systemd unit, the polkit rule, the config template, the
// installer and the simulated camera. RELEASE.json names the version and commit. This is the one list of what an
// install contains: the installer stages a clone through it too.
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? path.resolve(args[i + 1]) : null;
};

/** Paths copied from the repo, relative to it. Folders are copied whole. */
export const PAYLOAD = [
  'package.json',
  'package-lock.json',
  '.npmrc',
  'dist/src',
  'dist/web-ui',
  'models/manifest.json',
  'models/README.md',
  // The models Pinhole ships itself (no upstream ONNX address), with their license texts.
  'models/seed',
  'systemd',
  'scripts/install.sh',
  'scripts/sim-bin',
  'README.md',
  'LICENSE',
];
const REQUIRED = ['dist/src/cli/main.js', 'dist/web-ui/index.html', 'package-lock.json', 'scripts/install.sh'];

function git(...a) {
  try {
    return execFileSync('git', ['-c', `safe.directory=${repo}`, ...a], {
      cwd: repo,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

async function stage(dir) {
  for (const f of REQUIRED)
    if (!existsSync(path.join(repo, f)))
      throw new Error(`${f} is missing: build first (npm run build), or use npm run release`);
  await fs.mkdir(dir, { recursive: true });
  for (const rel of PAYLOAD) {
    const from = path.join(repo, rel);
    if (!existsSync(from)) continue;
    await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    // Source maps stay: stack traces in `journalctl -u pinhole` point at the TypeScript line.
    await fs.cp(from, path.join(dir, rel), { recursive: true, preserveTimestamps: true });
  }
  const pkg = JSON.parse(await fs.readFile(path.join(repo, 'package.json'), 'utf8'));
  const info = {
    name: pkg.name,
    version: pkg.version,
    commit: git('rev-parse', 'HEAD'),
    dirty: git('status', '--porcelain', '--untracked-files=no') ? true : undefined,
    node: pkg.engines?.node,
  };
  await fs.writeFile(path.join(dir, 'RELEASE.json'), `${JSON.stringify(info, null, 2)}\n`);
  return info;
}

const stageDir = opt('--stage');
if (stageDir) {
  await stage(stageDir);
  process.stderr.write(`release tree staged in ${stageDir}\n`);
} else {
  const outDir = opt('--out') ?? repo;
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-release-'));
  try {
    const pkg = JSON.parse(await fs.readFile(path.join(repo, 'package.json'), 'utf8'));
    const name = `pinhole-${pkg.version}`;
    const info = await stage(path.join(tmp, name));
    const file = path.join(outDir, `${name}.tar.gz`);
    await fs.mkdir(outDir, { recursive: true });
    // Owned by root in the archive whoever built it; sorted so two builds of one commit give the same file list.
    const mtime = git('log', '-1', '--format=%ct') ?? String(Math.floor(Date.now() / 1000));
    execFileSync(
      'tar',
      [
        '--sort=name',
        '--owner=0',
        '--group=0',
        '--numeric-owner',
        `--mtime=@${mtime}`,
        '-czf',
        `${file}.tmp`,
        '-C',
        tmp,
        name,
      ],
      { stdio: 'inherit' },
    );
    await fs.rename(`${file}.tmp`, file);
    const size = (await fs.stat(file)).size;
    process.stdout.write(`${file}\n`);
    process.stderr.write(
      `release ${info.version} (${info.commit?.slice(0, 12) ?? 'no git'}${info.dirty ? ', uncommitted changes' : ''}): ${(size / 1048576).toFixed(1)} MB\n` +
        `install on a Pi: tar xzf ${name}.tar.gz && sudo ${name}/scripts/install.sh\n`,
    );
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

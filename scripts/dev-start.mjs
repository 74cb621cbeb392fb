#!/usr/bin/env node
// `npm start`: build if needed, create .dev/config.yaml (simulated camera and GPIO, data in .dev/), install the
// models from ../shared/models when that folder exists, then run the daemon in the foreground.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, watch, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dev = path.join(root, '.dev');
const cfgFile = path.join(dev, 'config.yaml');
const cli = path.join(root, 'dist', 'src', 'cli', 'main.js');
const say = (m) => process.stdout.write(`[npm start] ${m}\n`);

function newestMtime(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

const builtAt =
  existsSync(cli) && existsSync(path.join(root, 'dist', 'web-ui', 'index.html')) ? statSync(cli).mtimeMs : 0;
const sourcesAt = Math.max(newestMtime(path.join(root, 'src')), newestMtime(path.join(root, 'web-ui', 'src')));
if (builtAt < sourcesAt) {
  say('building (tsc + web UI)…');
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

mkdirSync(dev, { recursive: true });
const shared = path.resolve(root, '..', 'shared');
if (!existsSync(cfgFile)) {
  const simImages = existsSync(path.join(shared, 'images')) ? path.relative(dev, path.join(shared, 'images')) : null;
  writeFileSync(
    cfgFile,
    `# Development config written by \`npm start\` (git-ignored). Paths are relative to this folder.
# \`pinhole ...\` commands typed in the repo use this file when /etc/pinhole/config.yaml does not exist.
dataDir: ./data
web:
  host: 0.0.0.0
  port: ${process.env.PORT ?? 8080}
camera:
  backend: sim
  sim:
    images: ${simImages === null ? 'null' : JSON.stringify(simImages)}
gpio:
  backend: sim
  buttons:
    - { name: shutter, pin: 26, action: shutter, longPressAction: timer }
    - { name: mode, pin: 19, action: next-filter, longPressAction: toggle-faces }
    - { name: smile, pin: 16, action: smile-shutter, longPressAction: gesture-shutter }
    - { name: best, pin: 13, action: best-shot, longPressAction: night-burst }
  leds:
    - { name: ready, pin: 21, role: ready }
    - { name: busy, pin: 20, role: capture }
control:
  socket: ./control.sock
models:
  dir: ./models
storage:
  minFreeMB: 100
`,
  );
  say(`wrote ${path.relative(root, cfgFile)}`);
}

const modelsDir = path.join(dev, 'models');
if (
  existsSync(path.join(shared, 'models')) &&
  (!existsSync(modelsDir) || readdirSync(modelsDir).filter((f) => f.endsWith('.onnx')).length === 0)
) {
  say('installing models from ../shared/models…');
  spawnSync(process.execPath, [cli, 'models', 'install', '--from', path.join(shared, 'models'), '--config', cfgFile], {
    cwd: root,
    stdio: 'inherit',
  });
}

// The memory settings of the systemd unit, so the simulator's footprint resembles the appliance's.
const { unitMallocEnv } = await import(pathToFileURL(path.join(root, 'dist', 'src', 'util', 'unit-env.js')).href);
const daemonEnv = {
  ...unitMallocEnv(),
  VIPS_CONCURRENCY: '1',
  UV_THREADPOOL_SIZE: '2',
  ...process.env,
  PINHOLE_DEV: '1',
};
const startDaemon = () =>
  spawn(process.execPath, [cli, 'run', '--dev', '--config', cfgFile], { cwd: root, stdio: 'inherit', env: daemonEnv });

let child = startDaemon();
let restarting = false;
const onExit = (code, signal) => {
  if (!restarting) process.exit(code ?? (signal ? 1 : 0));
};
child.on('exit', onExit);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));

if (process.argv.includes('--watch')) {
  // `npm run dev`: tsc and vite rebuild on change; the daemon restarts when the compiled code changes.
  spawn('npx', ['tsc', '-p', 'tsconfig.json', '--watch', '--preserveWatchOutput'], { cwd: root, stdio: 'inherit' });
  spawn('npx', ['vite', 'build', 'web-ui', '--config', 'web-ui/vite.config.ts', '--watch'], {
    cwd: root,
    stdio: 'inherit',
  });
  let timer;
  watch(path.join(root, 'dist', 'src'), { recursive: true }, () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      say('code changed: restarting the daemon');
      restarting = true;
      child.once('exit', () => {
        restarting = false;
        child = startDaemon();
        child.on('exit', onExit);
      });
      child.kill('SIGTERM');
    }, 500);
  });
}

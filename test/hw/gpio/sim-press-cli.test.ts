import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/config/load.js';
import { ControlServer } from '../../../src/control/server.js';
import { GpioComponent } from '../../../src/hw/gpio/gpio-component.js';
import { recordingHandlers, tempDir } from './helpers.js';

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = path.join(repoRoot, 'dist/src/cli/main.js');

// The real CLI (built JS) against a control socket served by a real GpioComponent on the sim backend.
let dir: string;
let server: ControlServer;
let gpio: GpioComponent;
const handlers = recordingHandlers();

beforeAll(async () => {
  // `npm test` builds first; rebuilding here would rewrite dist/ under the feet of tests running in parallel.
  if (!existsSync(path.join(repoRoot, 'dist/src/cli/commands/sim-press.js')))
    await run('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, timeout: 120_000 }).catch(() => undefined);
  await fs.access(path.join(repoRoot, 'dist/src/cli/commands/sim-press.js'));
  dir = await tempDir();
  const socket = path.join(dir, 'control.sock');
  await fs.writeFile(
    path.join(dir, 'config.yaml'),
    `control:\n  socket: ${JSON.stringify(socket)}\ngpio:\n  backend: sim\n`,
  );
  const cfg = defaultConfig();
  cfg.gpio.backend = 'sim';
  cfg.gpio.modelPath = path.join(dir, 'no-model');
  gpio = new GpioComponent({ config: cfg, handlers });
  await gpio.start();
  server = new ControlServer(socket);
  server.handleAll(gpio.controlMethods());
  await server.start();
}, 150_000);

afterAll(async () => {
  await server?.stop();
  await gpio?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

const pinhole = (...args: string[]) =>
  run(process.execPath, [cli, ...args, '--config', path.join(dir, 'config.yaml')], { cwd: dir, timeout: 20_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe('pinhole sim press', () => {
  it('presses the shutter', async () => {
    const r = await pinhole('sim', 'press', 'shutter');
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/pressed shutter for 80 ms: short → shutter/);
    expect(r.code).toBe(0);
    expect(handlers.calls).toEqual(['shutter']);
  });

  it('--hold 1500 triggers the long-press action', async () => {
    const r = await pinhole('sim', 'press', 'shutter', '--hold', '1500');
    expect(r.stdout).toMatch(/pressed shutter for 1500 ms: long → burst/);
    expect(handlers.calls).toEqual(['shutter', 'burst:3']);
  });

  it('an unknown button or a bad --hold fails with a clear message and non-zero exit', async () => {
    const unknown = await pinhole('sim', 'press', 'nope');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/no button named "nope"/);
    const bad = await pinhole('sim', 'press', 'shutter', '--hold', 'soon');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--hold/);
  });
});

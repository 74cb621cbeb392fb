import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig } from '../../../src/config/load.js';
import type { CameraConfig } from '../../../src/config/sections/camera.js';
import { cameraCommands } from '../../../src/hw/camera/commands.js';
import { RpicamCamera } from '../../../src/hw/camera/rpicam-camera.js';
import type { CameraStatus } from '../../../src/hw/camera/types.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const sharedDir = path.resolve(repoRoot, '../shared');
export const simBin = path.join(repoRoot, 'scripts', 'sim-bin');
export const fakeVid = path.join(simBin, 'rpicam-vid');
export const fakeStill = path.join(simBin, 'rpicam-still');

/** Tests spawn built JS (the fake rpicam apps, the store writer): build once if dist is older than the sources. */
export function ensureBuilt(): void {
  const pairs: [string, string][] = [
    ['src/hw/camera/sim', 'dist/src/hw/camera/sim/fake-rpicam.js'],
    ['src/store', 'dist/test/fixtures/store-writer.js'],
    ['test/fixtures/store-writer.ts', 'dist/test/fixtures/store-writer.js'],
    ['test/fixtures/camera-daemon.ts', 'dist/test/fixtures/camera-daemon.js'],
    ['src/capture', 'dist/src/capture/camera-component.js'],
    ['src/cli/commands/capture.ts', 'dist/src/cli/commands/capture.js'],
  ];
  const mtime = (p: string): number => {
    const st = statSync(p);
    if (!st.isDirectory()) return st.mtimeMs;
    return Math.max(0, ...readdirSync(p).map((n) => mtime(path.join(p, n))));
  };
  const stale = pairs.some(
    ([src, out]) =>
      !existsSync(path.join(repoRoot, out)) ||
      statSync(path.join(repoRoot, out)).mtimeMs < mtime(path.join(repoRoot, src)),
  );
  if (!stale) return;
  try {
    execFileSync('flock', ['/tmp/pinhole-tsc.lock', 'npx', 'tsc', '-p', 'tsconfig.json'], {
      cwd: repoRoot,
      stdio: 'ignore',
    });
  } catch {
    // Type errors elsewhere in the tree do not stop tsc from emitting.
  }
  for (const [, out] of pairs)
    if (!existsSync(path.join(repoRoot, out))) throw new Error(`build failed: ${out} missing`);
}

export async function tempDir(prefix = 'pinhole-cam-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export function cameraConfig(patch: (c: CameraConfig) => void = () => {}): CameraConfig {
  const c = structuredClone(defaultConfig().camera);
  c.backend = 'sim';
  c.backoff = { initialMs: 50, maxMs: 400 };
  c.frameTimeoutMs = 1500;
  c.preview = { ...c.preview, width: 320, height: 240, fps: 10 };
  // Full-size stills cost ~1 s each on this machine; most tests only need a real JPEG.
  c.still = { ...c.still, width: 640, height: 480 };
  patch(c);
  return c;
}

export async function waitFor<T>(
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

import { isAlive } from '../../../src/hw/camera/pidfile.js';

export { isAlive };

/** Pids of camera processes (fake rpicam apps) whose command line mentions this test's folder. */
export async function cameraProcessesOf(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for (const p of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const [cmd, env] = await Promise.all([
      fs.readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => ''),
      fs.readFile(`/proc/${p}/environ`, 'utf8').catch(() => ''),
    ]);
    if (cmd.includes('fake-rpicam') && env.includes(marker) && isAlive(Number(p))) pids.push(Number(p));
  }
  return pids;
}

/**
 * An RpicamCamera over the fake rpicam executables in `dir` (their state in dir/sim, pid files in dir/run), with an
 * optional PINHOLE_FAKE_CAMERA_FAULT mode, recording every status it reports.
 */
export function simCamera(
  dir: string,
  cfg: CameraConfig,
  fault?: string,
  extra: Partial<ConstructorParameters<typeof RpicamCamera>[0]> = {},
): { cam: RpicamCamera; states: CameraStatus[] } {
  const env = { ...process.env, PINHOLE_FAKE_CAMERA_STATE_DIR: path.join(dir, 'sim') } as NodeJS.ProcessEnv;
  if (fault) env.PINHOLE_FAKE_CAMERA_FAULT = fault;
  else delete env.PINHOLE_FAKE_CAMERA_FAULT;
  const cam = new RpicamCamera({
    config: cfg,
    commands: cameraCommands('sim'),
    runDir: path.join(dir, 'run'),
    env,
    placeholderIntervalMs: 200,
    ...extra,
  });
  const states: CameraStatus[] = [];
  cam.onStatus((s) => states.push(s));
  return { cam, states };
}

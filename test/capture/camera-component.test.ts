import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CameraComponent } from '../../src/capture/camera-component.js';
import { loadConfigFile } from '../../src/config/load.js';
import { ControlServer } from '../../src/control/server.js';
import { EventBus } from '../../src/events.js';
import type { CameraStatus } from '../../src/hw/camera/types.js';
import { configureLogging } from '../../src/util/logger.js';
import { ensureBuilt, repoRoot, tempDir, waitFor } from '../hw/camera/helpers.js';

let dir: string;
let comp: CameraComponent | undefined;
let control: ControlServer | undefined;
beforeAll(() => {
  ensureBuilt();
  configureLogging({ level: 'silent' });
});
afterEach(async () => {
  await control?.stop();
  await comp?.stop();
  comp = undefined;
  control = undefined;
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repoRoot, 'dist/src/cli/main.js'), ...args], (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function daemon() {
  dir = await tempDir('pinhole-comp-');
  const file = path.join(dir, 'config.yaml');
  await fs.writeFile(
    file,
    [
      'dataDir: ./data',
      'control:',
      '  socket: ./control.sock',
      'storage:',
      '  minFreeMB: 1',
      'camera:',
      '  backend: sim',
      '  preview: { width: 320, height: 240, fps: 10 }',
      '  still: { width: 800, height: 600 }',
      '  capture: { strategy: switch }',
      '  backoff: { initialMs: 50, maxMs: 300 }',
      '',
    ].join('\n'),
  );
  const { config } = await loadConfigFile(file);
  const bus = new EventBus();
  const states: CameraStatus[] = [];
  bus.on('camera.state', (s) => void states.push(s));
  const env = { ...process.env };
  delete env.PINHOLE_FAKE_CAMERA_FAULT;
  comp = new CameraComponent({ config, bus, env });
  control = new ControlServer(config.control.socket);
  control.handleAll(comp.controlMethods());
  await control.start();
  await comp.start();
  return { file, comp, states, config };
}

describe('CameraComponent through the control socket and the CLI', () => {
  it('`pinhole capture` prints the ID and path of a saved photo; --json gives the whole result', async () => {
    const { file, comp, states } = await daemon();
    await waitFor(() => comp.cameraStatus().state === 'streaming', 10_000, 'streaming');
    expect(states.map((s) => s.state)).toContain('streaming');
    const r = await cli(['capture', '--config', file]);
    expect(r.code, r.stderr).toBe(0);
    const [id, file1] = r.stdout.trim().split(' ');
    expect(comp.gallery.get(id).path).toBe(file1);
    expect(await sharp(file1).metadata()).toMatchObject({ format: 'jpeg', width: 800, height: 600 });
    const j = await cli(['capture', '--json', '--config', file]);
    expect(j.code, j.stderr).toBe(0);
    const res = JSON.parse(j.stdout);
    expect(res).toMatchObject({
      id: expect.stringMatching(/^p\d{8}-[0-9a-f]{8}$/),
      width: 800,
      height: 600,
      lag: { strategy: 'switch' },
    });
    expect(comp.gallery.list().items.map((p) => p.id)).toEqual([res.id, id]);
    expect(comp.gallery.get(res.id).meta.source).toBe('cli');
    // Two CLI processes and two captures: more than 30 s on a saturated 2-core machine.
  }, 90_000);

  it('`pinhole sim fault absent` on a running daemon: capture exits 3 with a clear message; `none` recovers', async () => {
    const { file, comp } = await daemon();
    await waitFor(() => comp.cameraStatus().state === 'streaming', 10_000, 'streaming');
    const set = await cli(['sim', 'fault', 'absent', '--config', file]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('absent');
    await waitFor(() => comp.cameraStatus().state === 'absent', 5000, 'absent');
    const cap = await cli(['capture', '--config', file]);
    expect(cap.code).toBe(3);
    expect(cap.stderr).toMatch(/no camera available/);
    const bad = await cli(['sim', 'fault', 'explode', '--config', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown fault');
    expect((await cli(['sim', 'fault', 'none', '--config', file])).code).toBe(0);
    await waitFor(() => comp.cameraStatus().state === 'streaming', 20_000, 'streaming again');
    expect((await cli(['capture', '--config', file])).code).toBe(0);
    // Four CLI processes and several camera restarts: a saturated 2-core machine needs more than the default 30 s.
  }, 90_000);

  it('busy:N set on the running daemon: the camera retries and comes back by itself', async () => {
    const { comp } = await daemon();
    await waitFor(() => comp.cameraStatus().state === 'streaming', 10_000, 'streaming');
    await comp.setSimFault('busy:2');
    await waitFor(
      () => comp.cameraStatus().restarts >= 2 && comp.cameraStatus().state === 'streaming',
      10_000,
      'recovered',
    );
    expect(comp.status()).toMatchObject({ camera: { state: 'streaming' }, photos: 0 });
  });

  it('reconfigure: new preview size applied live on the same frame hub; backend none → disabled, capture 503', async () => {
    const { comp, config } = await daemon();
    const hub = comp.frames;
    await waitFor(() => comp.cameraStatus().state === 'streaming', 10_000, 'streaming');
    const next = structuredClone(config);
    next.camera.preview = { ...next.camera.preview, width: 160, height: 120 };
    expect(await comp.reconfigure(next, config)).toBe('applied');
    expect(comp.frames).toBe(hub);
    const frame = await new Promise<Buffer>((resolve) => {
      const off = hub.subscribe(async (f) => {
        if (f.placeholder || (await sharp(f.data).metadata()).width !== 160) return;
        off();
        resolve(f.data);
      });
    });
    expect((await sharp(frame).metadata()).height).toBe(120);
    const none = structuredClone(next);
    none.camera.backend = 'none';
    await comp.reconfigure(none, next);
    expect(comp.cameraStatus().state).toBe('disabled');
    await expect(comp.captures.capture()).rejects.toMatchObject({ status: 503, code: 'camera-disabled' });
  });
});

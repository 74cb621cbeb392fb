import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CameraComponent } from '../../src/capture/camera-component.js';
import { loadConfigFile } from '../../src/config/load.js';
import { EventBus } from '../../src/events.js';
import { configureLogging } from '../../src/util/logger.js';
import { cameraProcessesOf, ensureBuilt, repoRoot, tempDir, waitFor } from '../hw/camera/helpers.js';

let dir: string;
let comp: CameraComponent | undefined;
beforeAll(() => {
  ensureBuilt();
  configureLogging({ level: 'silent' });
});
afterEach(async () => {
  await comp?.stop();
  comp = undefined;
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('kill -9 of the daemon during captures', () => {
  it('leaves no camera process behind, no partial photo listed, and the next daemon starts cleanly', async () => {
    dir = await tempDir('pinhole-kill-');
    const file = path.join(dir, 'config.yaml');
    await fs.writeFile(
      file,
      'dataDir: ./data\ncontrol:\n  socket: ./control.sock\nstorage:\n  minFreeMB: 1\ncamera:\n  backend: sim\n  preview: { width: 320, height: 240, fps: 10 }\n  still: { width: 1600, height: 1200 }\n  capture: { strategy: switch }\n',
    );
    const child = spawn(process.execPath, [path.join(repoRoot, 'dist/test/fixtures/camera-daemon.js'), file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    await waitFor(() => (out.match(/^photo /gm) ?? []).length >= 2, 60_000, 'two photos');
    // Land the kill at some point inside the next capture.
    await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 400)));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // The fakes notice their parent is gone and exit: no orphan holds the camera.
    await waitFor(async () => (await cameraProcessesOf(dir)).length === 0, 15_000, 'no orphan camera process');

    const { config } = await loadConfigFile(file);
    const env = { ...process.env };
    delete env.PINHOLE_FAKE_CAMERA_FAULT;
    comp = new CameraComponent({ config, bus: new EventBus(), env });
    await comp.start();
    const reported = [...out.matchAll(/^photo (\S+)$/gm)].map((m) => m[1]);
    const listed = comp.gallery.list({ limit: 200 }).items;
    for (const id of reported) expect(comp.gallery.get(id).id).toBe(id);
    for (const r of listed) {
      expect((await sharp(r.path).metadata()).width).toBe(1600);
      expect((await sharp(r.thumbPath).metadata()).format).toBe('jpeg');
    }
    const leftovers = (await fs.readdir(comp.gallery.root)).filter((n) => n.startsWith('.pinhole-tmp-'));
    expect(leftovers).toEqual([]);
    await waitFor(() => comp?.cameraStatus().state === 'streaming', 30_000, 'new daemon streams');
    expect(comp.cameraStatus().restarts).toBe(0);
    const next = await comp.captures.capture();
    expect(next.seq).toBeGreaterThan(Math.max(0, ...listed.map((r) => r.seq)));
    // Two daemons' worth of process starts and 2 MP stills with sensor noise: minutes on a saturated 2-core machine.
  }, 120_000);
});

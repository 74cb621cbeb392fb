import { execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { armedArgv, previewArgv, stillArgv, validateExtraArgs } from '../../../src/hw/camera/argv.js';
import { parseArgs } from '../../../src/hw/camera/sim/fake-args.js';
import { ConfigError } from '../../../src/util/errors.js';
import { cameraConfig, ensureBuilt, fakeStill, fakeVid, isAlive, sharedDir, tempDir, waitFor } from './helpers.js';

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env: { ...process.env, ...env }, encoding: 'buffer', maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        resolve({
          code: err ? (((err as NodeJS.ErrnoException & { code?: unknown }).code as number) ?? 1) : 0,
          stdout,
          stderr: stderr.toString(),
        });
      },
    );
  });
}

let dir: string;
let env: NodeJS.ProcessEnv;
beforeAll(() => ensureBuilt());
afterEach(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function setup(extra: NodeJS.ProcessEnv = {}) {
  dir = await tempDir();
  env = { PINHOLE_FAKE_CAMERA_STATE_DIR: path.join(dir, 'state'), ...extra };
}

describe('argv mapping', () => {
  it('maps every camera setting to the rpicam flag, and the fakes accept the result', () => {
    const cfg = cameraConfig((c) => {
      c.controls = {
        rotation: 180,
        hflip: true,
        vflip: true,
        ev: -1.5,
        awb: 'daylight',
        denoise: 'cdn_hq',
        shutterUs: 10000,
        gain: 2.5,
        metering: 'spot',
      };
      c.still = { width: 2028, height: 1520, quality: 88 };
      c.extraArgs = ['--sharpness', '1.5'];
    });
    const p = previewArgv(cfg);
    expect(p.join(' ')).toBe(
      '-t 0 --codec mjpeg --width 320 --height 240 --framerate 10 -q 50 --flush --nopreview --rotation 180 --hflip --vflip --ev -1.5 --awb daylight --denoise cdn_hq --shutter 10000 --gain 2.5 --metering spot --sharpness 1.5 -o -',
    );
    const s = stillArgv(cfg, '/x/y.jpg');
    expect(s.slice(0, 8)).toEqual(['--immediate', '--nopreview', '--width', '2028', '--height', '1520', '-q', '88']);
    expect(s.slice(-2)).toEqual(['-o', '/x/y.jpg']);
    const a = armedArgv(cfg, '/x/still-%04d.jpg');
    expect(a.slice(0, 7)).toEqual(['-t', '0', '--signal', '--zsl', '--nopreview', '-v', '2']);
    const pv = parseArgs('vid', p);
    expect(pv).toMatchObject({
      width: 320,
      height: 240,
      framerate: 10,
      quality: 50,
      rotation: 180,
      hflip: true,
      ev: -1.5,
      awb: 'daylight',
      denoise: 'cdn_hq',
      shutterUs: 10000,
      gain: 2.5,
      metering: 'spot',
      output: '-',
      codec: 'mjpeg',
    });
    expect(parseArgs('still', s)).toMatchObject({ immediate: true, width: 2028, quality: 88 });
    expect(parseArgs('still', a)).toMatchObject({ signal: true, zsl: true, timeoutMs: 0, verbose: 2 });
  });

  it('defaults produce a short command line: full-size stills are rpicam-still defaults', () => {
    const cfg = cameraConfig((c) => {
      c.still = { width: 0, height: 0, quality: 93 };
    });
    expect(stillArgv(cfg, 'f.jpg')).toEqual(['--immediate', '--nopreview', '-q', '93', '-o', 'f.jpg']);
  });

  it('refuses extraArgs that repeat a flag Pinhole sets', () => {
    expect(() => validateExtraArgs(['--width', '100'])).toThrow(ConfigError);
    expect(() => validateExtraArgs(['-o', 'x'])).toThrow(/camera\.extraArgs\.0: /);
    expect(() => validateExtraArgs(['-v2'])).toThrow(/--verbose/);
    expect(() => validateExtraArgs(['--contrast', '1.2'])).not.toThrow();
  });

  it('the fake parser rejects unknown, misplaced and repeated options like boost does', () => {
    expect(() => parseArgs('vid', ['--immediate'])).toThrow("unrecognised option '--immediate'");
    expect(() => parseArgs('still', ['--width', 'abc'])).toThrow(
      "the argument ('abc') for option '--width' is invalid",
    );
    expect(() => parseArgs('still', ['--width', '1', '--width', '2'])).toThrow('cannot be specified more than once');
    expect(() => parseArgs('still', ['--rotation', '90'])).toThrow('transforms requiring transpose not supported');
    expect(() => parseArgs('still', ['--rotation', '45'])).toThrow('illegal rotation value');
    expect(parseArgs('still', ['-t', '2s', '--shutter', '20ms'])).toMatchObject({ timeoutMs: 2000, shutterUs: 20000 });
  });
});

describe('fake rpicam executables', () => {
  it('rejects an unknown flag with the real error line and exit 255', async () => {
    await setup();
    const r = await run(fakeVid, ['--bogus', '1'], env);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain("ERROR: *** unrecognised option '--bogus' ***");
  });

  it('rpicam-still --immediate writes a full-sensor JPEG by default', async () => {
    await setup();
    const out = path.join(dir, 'still.jpg');
    const r = await run(fakeStill, ['--immediate', '-o', out], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('Still capture image received');
    const m = await sharp(out).metadata();
    expect([m.format, m.width, m.height]).toEqual(['jpeg', 4056, 3040]);
  });

  it('rpicam-vid writes back-to-back JPEGs of the requested size on stdout, drawn from camera.sim.images', async () => {
    await setup({ PINHOLE_SIM_IMAGES: path.join(sharedDir, 'images') });
    const r = await run(
      fakeVid,
      ['-t', '2000', '--codec', 'mjpeg', '--width', '160', '--height', '120', '--framerate', '20', '-o', '-'],
      env,
    );
    expect(r.code).toBe(0);
    const soi = [...r.stdout.entries()].filter(
      ([i, b]) => b === 0xff && r.stdout[i + 1] === 0xd8 && r.stdout[i + 2] === 0xff,
    ).length;
    expect(soi).toBeGreaterThanOrEqual(3);
    const first = r.stdout.subarray(0, r.stdout.indexOf(Buffer.from([0xff, 0xd9])) + 2);
    expect(await sharp(first).metadata()).toMatchObject({ format: 'jpeg', width: 160, height: 120 });
  });

  it('one camera owner: a second process gets "failed to acquire camera" (exit 255) while the first runs', async () => {
    await setup();
    const first = spawn(fakeVid, ['-t', '0', '--codec', 'mjpeg', '-o', '-'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      await waitFor(async () => fs.readlink(path.join(dir, 'state', 'camera.lock')).catch(() => ''), 20_000, 'lock');
      const r = await run(fakeStill, ['--immediate', '-o', path.join(dir, 'x.jpg')], env);
      expect(r.code).toBe(255);
      expect(r.stderr).toMatch(/ERROR: \*\*\* failed to acquire camera .* \*\*\*/);
    } finally {
      first.kill('SIGINT');
      await new Promise((r) => first.once('exit', r));
    }
    // SIGINT is rpicam-vid's clean exit; it frees the camera.
    const again = await run(
      fakeStill,
      ['--immediate', '--width', '64', '--height', '48', '-o', path.join(dir, 'y.jpg')],
      env,
    );
    expect(again.code).toBe(0);
  });

  // Found by the torture suite (storage): on a full data disk the fake created an empty lock file, failed to write
  // its pid with ENOSPC and died, so the preview stopped with the disk. The lock now lives in a symlink's target.
  it('the camera lock is a symlink naming the owner pid (no data block needed on a full disk)', async () => {
    await setup();
    const p = spawn(fakeVid, ['-t', '0', '--codec', 'mjpeg', '-o', '-'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      // The first frame: the fake's signal handlers are installed (a SIGINT earlier would kill it uncleanly).
      await new Promise((r) => p.stdout?.once('data', r));
      p.stdout?.resume();
      const target = await waitFor(
        async () => fs.readlink(path.join(dir, 'state', 'camera.lock')).catch(() => ''),
        20_000,
        'lock',
      );
      expect(target).toBe(String(p.pid));
      expect((await fs.lstat(path.join(dir, 'state', 'camera.lock'))).isSymbolicLink()).toBe(true);
    } finally {
      p.kill('SIGINT');
      await new Promise((r) => p.once('exit', r));
    }
    await expect(fs.lstat(path.join(dir, 'state', 'camera.lock'))).rejects.toThrow();
  });

  it('signal mode: each SIGUSR1 captures one numbered file, SIGUSR2 exits', async () => {
    await setup();
    const pattern = path.join(dir, 'img%04d.jpg');
    const p = spawn(
      fakeStill,
      ['-t', '0', '--signal', '--zsl', '-v', '2', '--width', '320', '--height', '240', '-o', pattern],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    p.stderr.on('data', (d) => {
      err += d;
    });
    await waitFor(() => err.includes('Viewfinder frame'), 20_000, 'viewfinder');
    for (let i = 0; i < 2; i++) {
      const before = (err.match(/Still capture image received/g) ?? []).length;
      p.kill('SIGUSR1');
      await waitFor(() => (err.match(/Still capture image received/g) ?? []).length > before, 20_000, 'capture');
    }
    await waitFor(async () => (await fs.readdir(dir)).filter((n) => n.startsWith('img')).length === 2, 20_000, 'files');
    p.kill('SIGUSR2');
    const code = await new Promise((r) => p.once('exit', r));
    expect(code).toBe(0);
    expect((await sharp(path.join(dir, 'img0001.jpg')).metadata()).width).toBe(320);
  });

  it('each fault mode reads like the real failure', async () => {
    await setup();
    const absent = await run(fakeVid, ['-t', '0', '--codec', 'mjpeg', '-o', '-'], {
      ...env,
      PINHOLE_FAKE_CAMERA_FAULT: 'absent',
    });
    expect(absent.code).toBe(255);
    expect(absent.stderr.trim().split('\n').pop()).toBe('ERROR: *** no cameras available ***');
    const busy = await run(fakeStill, ['--immediate', '-o', path.join(dir, 'b.jpg')], {
      ...env,
      PINHOLE_FAKE_CAMERA_FAULT: 'busy',
    });
    expect(busy.code).toBe(255);
    expect(busy.stderr).toContain('failed to acquire camera');
    // busy:2 → two failing starts, then the camera works.
    const codes: (number | null)[] = [];
    for (let i = 0; i < 3; i++)
      codes.push(
        (
          await run(fakeStill, ['--immediate', '--width', '32', '--height', '32', '-o', path.join(dir, `n${i}.jpg`)], {
            ...env,
            PINHOLE_FAKE_CAMERA_FAULT: 'busy:2',
          })
        ).code,
      );
    expect(codes).toEqual([255, 255, 0]);
    const crash = await run(fakeVid, ['-t', '0', '--codec', 'mjpeg', '--framerate', '30', '-o', '-'], {
      ...env,
      PINHOLE_FAKE_CAMERA_FAULT: 'crash-after:3',
    });
    expect(crash.code).not.toBe(0);
    expect(crash.stdout.filter((b, i) => b === 0xff && crash.stdout[i + 1] === 0xd9).length).toBe(3);
    const garbage = await run(fakeStill, ['--immediate', '-o', path.join(dir, 'g.jpg')], {
      ...env,
      PINHOLE_FAKE_CAMERA_FAULT: 'garbage',
    });
    expect(garbage.code).toBe(0);
    await expect(sharp(path.join(dir, 'g.jpg')).metadata()).rejects.toThrow();
    const invalid = await run(fakeVid, ['-t', '0', '--codec', 'mjpeg', '-o', '-'], {
      ...env,
      PINHOLE_FAKE_CAMERA_FAULT: 'wobble',
    });
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('unknown fault "wobble"');
    // Seven app runs one after another: generous on a busy machine.
  }, 90_000);

  it('hang-after:N ignores SIGTERM; the fake exits when its parent dies (no orphan after SIGKILL of the daemon)', async () => {
    await setup();
    // sh stands in for the daemon: it starts the fake in the background and prints its pid.
    const errFile = path.join(dir, 'err.txt');
    const sh = spawn(
      'sh',
      ['-c', `"${fakeVid}" -t 0 -v 2 --codec mjpeg -o - >/dev/null 2>"${errFile}" & echo $!; wait`],
      {
        env: { ...process.env, ...env, PINHOLE_FAKE_CAMERA_FAULT: 'hang-after:2' },
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    const pid = Number(await new Promise<string>((r) => sh.stdout.once('data', (d) => r(String(d).trim()))));
    // Frame 1 seen: the next frame is where it hangs (a SIGTERM before that would end it: the default action).
    await waitFor(
      async () => (await fs.readFile(errFile, 'utf8').catch(() => '')).includes('Viewfinder frame 1'),
      10_000,
      'frame 1',
    );
    await new Promise((r) => setTimeout(r, 500));
    process.kill(pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    expect(isAlive(pid)).toBe(true);
    sh.kill('SIGKILL');
    await waitFor(() => !isAlive(pid), 15_000, 'orphan exit');
  });
});

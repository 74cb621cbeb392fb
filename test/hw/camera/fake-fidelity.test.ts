/**
 * The simulated rpicam apps against the behaviours FIDELITY.md lists (each from a named upstream file and version).
 * Real processes, real files; small frames so the suite stays cheap. Each test starts several app processes one
 * after another, hence the generous timeouts: a saturated 2-core machine takes seconds per Node start.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseRpicamArgv } from '../../../src/config/rpicam-cli.js';
import { cFormat } from '../../../src/hw/camera/sim/c-format.js';
import { handShake, SHAKE } from '../../../src/hw/camera/sim/render.js';
import { readExifSegments } from '../../../src/store/exif.js';
import { entryText, find, TAG } from '../../../src/util/exif-tiff.js';
import { ensureBuilt, fakeStill, fakeVid, tempDir, waitFor } from './helpers.js';

interface Run {
  code: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: string;
}

let dir: string;
let env: NodeJS.ProcessEnv;
const children: ChildProcess[] = [];
beforeAll(() => ensureBuilt());
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function setup(extra: NodeJS.ProcessEnv = {}) {
  dir = await tempDir('pinhole-fid-');
  env = { ...process.env, PINHOLE_FAKE_CAMERA_STATE_DIR: path.join(dir, 'state'), ...extra };
  delete env.PINHOLE_FAKE_CAMERA_FAULT;
  Object.assign(env, extra);
}

function run(cmd: string, args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = execFile(
      cmd,
      args,
      { env: { ...env, ...extra }, encoding: 'buffer', maxBuffer: 64 << 20 },
      (_err, stdout, stderr) => resolve({ code: p.exitCode, signal: p.signalCode, stdout, stderr: stderr.toString() }),
    );
  });
}

/** A long-running app with its stderr collected. */
function start(cmd: string, args: string[], extra: NodeJS.ProcessEnv = {}) {
  const p = spawn(cmd, args, { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(p);
  const out = { stderr: '', stdoutBytes: 0 };
  p.stderr?.on('data', (d) => {
    out.stderr += d;
  });
  p.stdout?.on('data', (d: Buffer) => {
    out.stdoutBytes += d.length;
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
    p.once('exit', (code, signal) => r({ code, signal })),
  );
  return { p, out, exited };
}

const small = ['--width', '64', '--height', '48'];

describe('argv as Boost reads it (core/options.cpp, boost unix_style)', { timeout: 90_000 }, () => {
  it('accepts -v2, -q90, -t0, unique prefixes and --opt=value; rejects ambiguity and repeats with the real messages', async () => {
    await setup();
    const out = path.join(dir, 'a.jpg');
    const ok = await run(fakeStill, ['-v2', '-q90', '-t0', '--wid=64', '--heig', '48', '--immed', '-n', '-o', out]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await sharp(out).metadata()).toMatchObject({ width: 64, height: 48 });
    const amb = await run(fakeStill, ['--h', '1']);
    expect([amb.code, amb.stderr.trim()]).toEqual([
      255,
      "ERROR: *** option '--h' is ambiguous and matches '--hdr', '--height', '--help', and '--hflip' ***",
    ]);
    const twice = await run(fakeStill, ['-q90', '--quality=80']);
    expect(twice.stderr.trim()).toBe("ERROR: *** option '--quality' cannot be specified more than once ***");
    const unknown = await run(fakeStill, ['-w100']);
    expect(unknown.stderr.trim()).toBe("ERROR: *** unrecognised option '-w100' ***");
    // An implicit-value switch takes a following bare word (Boost's second pass), so this is a bad bool.
    expect(() => parseRpicamArgv('still', ['--hflip', 'maybe'])).toThrow(
      "the argument ('maybe') for option '--hflip' is invalid. Valid choices are 'on|off', 'yes|no', '1|0' and 'true|false'",
    );
    expect(parseRpicamArgv('vid', ['-v', '-o', '-']).map((p) => [p.name, p.value])).toEqual([
      ['verbose', 2],
      ['output', '-'],
    ]);
  });

  it('rpicam-vid: --codec is case-insensitive and --libav-format exists (another app’s default command line)', async () => {
    await setup();
    const h264 = await run(fakeVid, ['-t', '300', '--codec', 'H264', '--libav-format', 'mpegts', '-o', '-']);
    expect(h264.code, h264.stderr).toBe(0);
    const mj = await run(fakeVid, ['-t', '300', '--codec', 'MJPEG', ...small, '-o', '-']);
    expect(mj.code).toBe(0);
    expect(mj.stdout.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    const bad = await run(fakeVid, ['--codec', 'vp9']);
    expect([bad.code, bad.stderr.trim()]).toEqual([255, 'ERROR: *** unrecognised codec vp9 ***']);
  });
});

describe('signals per app (apps/rpicam_vid.cpp, apps/rpicam_still.cpp)', { timeout: 90_000 }, () => {
  it('rpicam-vid ignores SIGUSR1/SIGUSR2 without --signal and stops cleanly on SIGINT', async () => {
    await setup();
    const v = start(fakeVid, ['-t', '0', '--codec', 'mjpeg', ...small, '-o', '-']);
    await waitFor(() => v.out.stdoutBytes > 0, 20_000, 'frames');
    v.p.kill('SIGUSR2');
    v.p.kill('SIGUSR1');
    await waitFor(() => v.out.stderr.includes('Received signal 10'), 5000, 'logged');
    const before = v.out.stdoutBytes;
    await waitFor(() => v.out.stdoutBytes > before, 5000, 'still streaming');
    v.p.kill('SIGINT');
    expect(await v.exited).toEqual({ code: 0, signal: null });
  });

  it('rpicam-vid --signal: SIGUSR1 pauses the output, SIGUSR2 ends it', async () => {
    await setup();
    const v = start(fakeVid, ['-t', '0', '--signal', '--codec', 'mjpeg', ...small, '-o', '-']);
    await waitFor(() => v.out.stdoutBytes > 0, 20_000, 'frames');
    v.p.kill('SIGUSR1');
    await waitFor(() => v.out.stderr.includes('Received signal 10'), 5000, 'paused');
    // Frames already in the pipe may still arrive; after a second nothing new is written.
    await new Promise((r) => setTimeout(r, 1000));
    const paused = v.out.stdoutBytes;
    await new Promise((r) => setTimeout(r, 1000));
    expect(v.out.stdoutBytes).toBe(paused);
    v.p.kill('SIGUSR2');
    expect(await v.exited).toEqual({ code: 0, signal: null });
  });

  it('rpicam-still does not handle SIGINT: the default action ends it, even in signal mode', async () => {
    await setup();
    const s = start(fakeStill, ['-t', '0', '--signal', '-v', '2', ...small, '-o', path.join(dir, 'x%d.jpg')]);
    await waitFor(() => s.out.stderr.includes('Viewfinder frame'), 20_000, 'viewfinder');
    s.p.kill('SIGINT');
    expect(await s.exited).toEqual({ code: null, signal: 'SIGINT' });
  });
});

describe('stderr lines and verbosity (core/logging.hpp LOG(level))', { timeout: 90_000 }, () => {
  it('-v 0 prints nothing on success; -v 1 libcamera lines and "Still capture image received"; -v 2 frames and saves', async () => {
    await setup();
    const q = await run(fakeStill, ['--immediate', '-v', '0', ...small, '-o', path.join(dir, 'q.jpg')]);
    expect([q.code, q.stderr]).toEqual([0, '']);
    const one = await run(fakeStill, ['--immediate', ...small, '-o', path.join(dir, 'o.jpg')]);
    expect(one.stderr).toMatch(/\] \[\d+\]\s+INFO Camera camera_manager\.cpp:\d+ libcamera v/);
    expect(one.stderr).toContain('Still capture image received');
    expect(one.stderr).not.toContain('Saved image');
    const two = await run(fakeStill, ['-t', '400', '-v', '2', ...small, '-o', path.join(dir, 't.jpg')]);
    expect(two.stderr).toMatch(/^Viewfinder frame 0$/m);
    expect(two.stderr).toContain(`Saved image 64 x 48 to file ${path.join(dir, 't.jpg')}`);
  });
});

describe('stills: EXIF and IFD1 thumbnail as image/jpeg.cpp writes them; -o - and -o FILE', { timeout: 90_000 }, () => {
  it('Make/Model/Software/dates/exposure/ISO in one Exif segment, a 320×240 thumbnail, the same bytes on stdout', async () => {
    await setup();
    const file = path.join(dir, 'e.jpg');
    const r = await run(fakeStill, ['--immediate', ...small, '--shutter', '12345', '--gain', '2.5', '-o', file]);
    expect(r.code, r.stderr).toBe(0);
    const jpeg = await fs.readFile(file);
    expect(jpeg.subarray(0, 4)).toEqual(Buffer.from([0xff, 0xd8, 0xff, 0xe1])); // SOI then APP1, no JFIF
    const all = readExifSegments(jpeg);
    expect(all).toHaveLength(1);
    const x = all[0];
    expect(x.ifd0).toEqual([]); // libexif keeps only the Exif IFD pointer in IFD0 for these tags
    expect(entryText(find(x.exif, TAG.Make))).toBe('Raspberry Pi');
    expect(entryText(find(x.exif, TAG.Model))).toBe('imx477');
    expect(entryText(find(x.exif, TAG.Software))).toBe('rpicam-apps');
    expect(entryText(find(x.exif, TAG.DateTimeOriginal))).toMatch(/^\d{4}:\d\d:\d\d \d\d:\d\d:\d\d$/);
    expect(find(x.exif, TAG.ExposureTime)?.data.readUInt32LE(0)).toBe(12345);
    expect(find(x.exif, TAG.ExposureTime)?.data.readUInt32LE(4)).toBe(1_000_000);
    expect(find(x.exif, TAG.ISOSpeedRatings)?.data.readUInt16LE(0)).toBe(250);
    expect(await sharp(x.thumbnail as Buffer).metadata()).toMatchObject({ width: 320, height: 240 });
    const none = await run(fakeStill, ['--immediate', ...small, '--thumb', 'none', '-o', path.join(dir, 'n.jpg')]);
    expect(none.code).toBe(0);
    expect(readExifSegments(await fs.readFile(path.join(dir, 'n.jpg')))[0].thumbnail).toBeUndefined();
    const stdout = await run(fakeStill, ['--immediate', ...small, '-o', '-']);
    expect(stdout.code).toBe(0);
    expect(await sharp(stdout.stdout).metadata()).toMatchObject({ format: 'jpeg', width: 64, height: 48 });
  });

  it('rpicam-vid -o FILE writes the stream to a file (snprintf into 256 bytes: %d numbers the segments)', async () => {
    await setup();
    // --frames: exactly 3 frames; a frame's timestamp is the sensor's, so each is > 1 ms after the last.
    const args = [
      '--frames',
      '3',
      '--codec',
      'mjpeg',
      ...small,
      '--segment',
      '1',
      '-o',
      path.join(dir, 'seg%02d.mjpeg'),
    ];
    const r = await run(fakeVid, args);
    expect(r.code, r.stderr).toBe(0);
    const names = (await fs.readdir(dir)).filter((n) => n.startsWith('seg')).sort();
    expect(names).toEqual(['seg00.mjpeg', 'seg01.mjpeg', 'seg02.mjpeg']);
    for (const n of names) expect(await sharp(path.join(dir, n)).metadata()).toMatchObject({ width: 64, height: 48 });
  });
});

describe('output names: snprintf into a 128-byte buffer (apps/rpicam_still.cpp generate_filename)', {
  timeout: 90_000,
}, () => {
  it('% directives are expanded with the frame number, %% is a percent sign, and longer names are cut', async () => {
    expect(cFormat('/d/img%04d.jpg', 7, 128).bytes.toString()).toBe('/d/img0007.jpg');
    expect(cFormat('/d/100%%-%x.jpg', 255, 128).bytes.toString()).toBe('/d/100%-ff.jpg');
    expect(cFormat('/d/My 100%d photos/a%04d.jpg', 3, 128)).toMatchObject({ undefinedBehaviour: 'missing-argument' });
    expect(cFormat('/d/%s.jpg', 3, 128).undefinedBehaviour).toBe('pointer');
    await setup();
    const deep = path.join(dir, 'a'.repeat(60));
    await fs.mkdir(deep);
    const name = path.join(deep, `${'b'.repeat(100)}.jpg`);
    const r = await run(fakeStill, ['--immediate', ...small, '-o', name]);
    // Cut to 127 bytes: the app writes a file with the shortened name, and says nothing.
    expect(r.code, r.stderr).toBe(0);
    const cut = Buffer.from(name).subarray(0, 127).toString();
    await expect(fs.stat(cut)).resolves.toBeDefined();
    await expect(fs.stat(name)).rejects.toThrow();
  });
});

describe('frame pacing by exposure (core/rpicam_app.cpp StartCamera: FrameDurationLimits)', { timeout: 90_000 }, () => {
  it('with a still stream (ZSL) a frame lasts the shutter time; the video stream keeps its frame rate', async () => {
    await setup();
    const intervals = async (args: string[]) => {
      const s = start(args[0], args.slice(1));
      const times: number[] = [];
      let seen = 0;
      await waitFor(
        () => {
          const n = (s.out.stderr.match(/Viewfinder frame \d+/g) ?? []).length;
          for (; seen < n; seen++) times.push(Date.now());
          return n >= 4;
        },
        30_000,
        'frames',
      );
      s.p.kill('SIGKILL');
      return times.slice(1).map((t, i) => t - times[i]);
    };
    const zsl = await intervals([
      fakeStill,
      '-t',
      '0',
      '--signal',
      '--zsl',
      '-v',
      '2',
      ...small,
      '--shutter',
      '400ms',
      '-o',
      path.join(dir, 'z%d.jpg'),
    ]);
    // Sleeps only get longer on a busy machine: a lower bound is safe.
    expect(Math.min(...zsl.slice(1))).toBeGreaterThanOrEqual(300);
    const vid = await run(fakeVid, [
      '-t',
      '1000',
      '-v',
      '2',
      '--codec',
      'mjpeg',
      ...small,
      '--shutter',
      '400ms',
      '--framerate',
      '20',
      '-o',
      '-',
    ]);
    // 1/20 s frames: the 400 ms exposure is clipped to the frame, not the other way round.
    expect((vid.stderr.match(/Viewfinder frame/g) ?? []).length).toBeGreaterThanOrEqual(5);
  });
});

describe('exit codes and error strings', { timeout: 90_000 }, () => {
  it('a failed write, an unopenable file, camera memory: the real messages, exit status 255', async () => {
    await setup();
    const full = await run(fakeStill, ['--immediate', ...small, '-o', path.join(dir, 'f.jpg')], {
      PINHOLE_FAKE_CAMERA_FAULT: 'disk-full',
    });
    expect([full.code, full.stderr.trim().split('\n').pop()]).toEqual([
      255,
      'ERROR: *** failed to write file - output probably corrupt ***',
    ]);
    const open = await run(fakeStill, ['--immediate', ...small, '-o', path.join(dir, 'no', 'such', 'x.jpg')]);
    expect(open.stderr.trim().split('\n').pop()).toBe(
      `ERROR: *** failed to open file ${path.join(dir, 'no', 'such', 'x.jpg')} ***`,
    );
    // 12 MP ZSL with 4 buffers per stream (≈170 MB) in 50 MB of camera memory.
    const zsl = await run(fakeStill, ['-t', '0', '--signal', '--zsl', '-o', path.join(dir, 'z%d.jpg')], {
      PINHOLE_FAKE_CAMERA_FAULT: 'cma:50',
    });
    expect(zsl.code).toBe(255);
    expect(zsl.stderr).toMatch(/^dmaHeap allocation failure for rpicam-apps2$/m);
    expect(zsl.stderr.trim().split('\n').pop()).toBe('ERROR: *** failed to allocate capture buffers for stream ***');
  });
});

describe('burst frames: sensor-like noise and a seeded hand-shake', { timeout: 90_000 }, () => {
  it('noise grows with gain at the same brightness; the shake is sub-pixel, ≤ 1°, and the same for the same seed', async () => {
    for (const f of [1, 2, 5, 9]) {
      const s = handShake(42, f, 4056);
      expect(Math.abs(s.rotationDeg)).toBeLessThanOrEqual(1);
      expect(Math.abs(s.dx)).toBeLessThanOrEqual(SHAKE.maxShiftFraction * 4056);
      expect(s).toEqual(handShake(42, f, 4056));
    }
    expect(handShake(42, 0, 4056)).toEqual({ dx: 0, dy: 0, rotationDeg: 0 });
    expect(handShake(42, 3, 4056)).not.toEqual(handShake(43, 3, 4056));
    await setup({ PINHOLE_FAKE_CAMERA_SCENE: 'static' });
    // Frame 0 (no shake) twice with different seeds: the difference is the noise alone.
    const noiseStd = async (gain: number) => {
      const shots: Buffer[] = [];
      for (const seed of ['1', '2']) {
        const out = path.join(dir, `g${gain}-${seed}.jpg`);
        const args = ['--immediate', '--width', '320', '--height', '240', '-q', '100'];
        args.push('--shutter', String(Math.round(40000 / gain)), '--gain', String(gain), '-o', out);
        const r = await run(fakeStill, args, { PINHOLE_FAKE_CAMERA_SEED: seed });
        expect(r.code, r.stderr).toBe(0);
        shots.push(await sharp(out).greyscale().raw().toBuffer());
      }
      let sum = 0;
      let sq = 0;
      for (let i = 0; i < shots[0].length; i++) {
        const d = shots[0][i] - shots[1][i];
        sum += d;
        sq += d * d;
      }
      const n = shots[0].length;
      return Math.sqrt(sq / n - (sum / n) ** 2);
    };
    const low = await noiseStd(1);
    const high = await noiseStd(8);
    expect(low).toBeGreaterThan(0.2);
    expect(high).toBeGreaterThan(2 * low);
  });
});

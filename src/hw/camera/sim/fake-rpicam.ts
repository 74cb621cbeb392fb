/**
 * The simulated camera: stand-ins for `rpicam-vid` and `rpicam-still` run through scripts/sim-bin/ by the very
 * same driver code as the real apps (`camera.backend: sim`). Usage: `node fake-rpicam.js vid|still ARGS...`.
 *
 * Behaviour copied from rpicam-apps: argv checked (unknown flags → `ERROR: *** unrecognised option ... ***`, exit
 * 255), one camera owner at a time (a second process gets `failed to acquire camera`, exit 255), MJPEG frames back
 * to back on stdout, SIGUSR1 = capture (still, signal mode) or pause toggle (vid), SIGUSR2 = clean exit. Timings
 * are modelled (camera open, still-mode switch, exposure) so that strategies compare as they would on a Pi.
 *
 * Environment:
 *   PINHOLE_SIM_IMAGES               folder of photos to show (else a generated scene)
 *   PINHOLE_FAKE_CAMERA_FAULT        busy | busy:N | absent | crash-after:N | hang-after:N | garbage | slow-start:MS
 *   PINHOLE_FAKE_CAMERA_STATE_DIR    holds the camera lock and the busy:N counter (default: a folder in tmpdir)
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { type App, ArgError, formatOutputName, type ParsedArgs, parseArgs } from './fake-args.js';
import { type Fault, parseFault } from './fault.js';
import { Scene } from './scene.js';

export const SENSOR = { width: 4056, height: 3040 } as const;
/** Modelled delays (ms) of a Pi HQ camera: open + configure, switch to still mode, still-mode frame interval. */
export const TIMING = { openMs: 150, stillModeSwitchMs: 250, stillFrameMs: 100 } as const;
const CAMERA_ID = '/base/soc/i2c0mux/i2c@1/imx477@1a';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const elog = (line: string) => process.stderr.write(`${line}\n`);

function die(message: string, code = 255): never {
  elog(`ERROR: *** ${message} ***`);
  process.exit(code);
}

function stateDir(): string {
  const dir =
    process.env.PINHOLE_FAKE_CAMERA_STATE_DIR ||
    path.join(os.tmpdir(), `pinhole-fake-camera-${process.getuid?.() ?? 0}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The camera is exclusive: the lock holds the owner's pid; a dead owner's lock is stale and taken over. The lock is a
 * symlink whose target is the pid: created atomically and stored in the inode, so it works on a full disk (a regular
 * file would be created empty and then fail to take the pid with ENOSPC, and the preview would die with the disk).
 */
function acquireCamera(dir: string): boolean {
  const lock = path.join(dir, 'camera.lock');
  const owner = (): number => {
    try {
      return Number(fs.readlinkSync(lock));
    } catch {
      try {
        return Number(fs.readFileSync(lock, 'utf8').trim()); // a lock file left by an older fake
      } catch {
        return Number.NaN;
      }
    }
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.symlinkSync(String(process.pid), lock);
      process.on('exit', () => {
        try {
          if (owner() === process.pid) fs.unlinkSync(lock);
        } catch {
          /* already gone */
        }
      });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = owner();
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) return false;
      fs.rmSync(lock, { force: true });
    }
  }
  return false;
}

function failBusy(): never {
  elog(
    `[0:00:00.${String(Date.now() % 1000).padStart(3, '0')}] [${process.pid}]  INFO Camera camera_manager.cpp:327 libcamera v0.3.2+rpt20240927`,
  );
  elog(
    `[0:00:00.${String(Date.now() % 1000).padStart(3, '0')}] [${process.pid}] ERROR RPI pipeline_base.cpp:1069 Pipeline handler in use by another process`,
  );
  die(`failed to acquire camera ${CAMERA_ID}`);
}

/** busy:N: the counter of starts still to fail lives in the state dir so it spans processes. */
function consumeBusy(dir: string, n: number): boolean {
  const file = path.join(dir, 'busy-remaining');
  let left = n;
  try {
    left = Number(fs.readFileSync(file, 'utf8'));
  } catch {
    /* first start under this fault */
  }
  if (!Number.isFinite(left) || left <= 0) {
    fs.writeFileSync(file, '0');
    return false;
  }
  fs.writeFileSync(file, String(left - 1));
  return true;
}

/** Exit with the parent: the daemon may be SIGKILLed, and a camera held by an orphan would lock it out. */
function watchParent(): void {
  const parent = process.ppid;
  const t = setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 300);
  t.unref();
}

function hang(): Promise<never> {
  // A wedged camera process: no output, deaf to TERM/USR1/USR2; only SIGKILL (or the parent's death) ends it.
  for (const s of ['SIGTERM', 'SIGINT', 'SIGUSR1', 'SIGUSR2'] as const) process.on(s, () => {});
  setInterval(() => {}, 1 << 30);
  return new Promise<never>(() => {});
}

function crash(n: number): never {
  elog("terminate called after throwing an instance of 'std::runtime_error'");
  elog(`  what():  simulated crash after ${n} frames (PINHOLE_FAKE_CAMERA_FAULT)`);
  process.exit(134);
}

function num(a: ParsedArgs, k: string, dflt: number): number {
  return typeof a[k] === 'number' ? (a[k] as number) : dflt;
}

async function runVid(a: ParsedArgs, fault: Fault): Promise<void> {
  if ((a.codec ?? 'h264') !== 'mjpeg') die('the Pinhole simulator only implements --codec mjpeg');
  const out = a.output as string | undefined;
  if (out !== '-') die('the Pinhole simulator only implements -o - (stdout)');
  const width = num(a, 'width', 640) || 640;
  const height = num(a, 'height', 480) || 480;
  const fps = num(a, 'framerate', 30);
  const quality = num(a, 'quality', 50);
  const timeout = num(a, 'timeout', 5000);
  const scene = new Scene(width, height, process.env.PINHOLE_SIM_IMAGES || undefined);
  await scene.init();
  let paused = false;
  let quit = false;
  process.on('SIGUSR1', () => {
    paused = !paused;
  });
  process.on('SIGUSR2', () => {
    quit = true;
  });
  let writable = true;
  process.stdout.on('drain', () => {
    writable = true;
  });
  process.stdout.on('error', () => process.exit(0)); // broken pipe: the reader is gone
  const start = Date.now();
  const interval = 1000 / fps;
  let frames = 0;
  let next = Date.now();
  while (!quit && (timeout === 0 || Date.now() - start < timeout)) {
    next += interval;
    if (!paused && writable) {
      if (fault.kind === 'crash-after' && frames >= fault.n) crash(frames);
      if (fault.kind === 'hang-after' && frames >= fault.n) await hang();
      let jpeg = await scene.jpeg(quality);
      if (fault.kind === 'garbage') {
        writable = process.stdout.write(randomBytes(50 + (frames % 7) * 100));
        if (frames % 4 === 3) jpeg = jpeg.subarray(0, Math.floor(jpeg.length / 2)); // truncated frame
      }
      writable = process.stdout.write(jpeg) && writable;
      frames++;
      if (num(a, 'verbose', 1) >= 2) elog(`#${frames} (${fps.toFixed(2)} fps) exp 20000.00 ag 1.00 dg 1.00`);
    }
    await sleep(Math.max(0, next - Date.now()));
  }
  process.exit(0);
}

interface StillOpts {
  width: number;
  height: number;
  quality: number;
}

async function writeStill(file: string, o: StillOpts, fault: Fault): Promise<void> {
  if (fault.kind === 'garbage') {
    fs.writeFileSync(file, randomBytes(4096));
    return;
  }
  // Compose at a quarter of the size, upscale: a 12 MP raw canvas in JS would be slow and pointless.
  const scale = o.width > 1600 ? 4 : 1;
  const scene = new Scene(
    Math.max(16, Math.round(o.width / scale)),
    Math.max(16, Math.round(o.height / scale)),
    process.env.PINHOLE_SIM_IMAGES || undefined,
  );
  await scene.init();
  const raw = await scene.raw();
  let img = sharp(raw, { raw: { width: scene.width, height: scene.height, channels: 3 } });
  if (scale !== 1) img = img.resize(o.width, o.height, { kernel: 'linear' });
  // Plain fwrite like the real app: not atomic, the caller must not trust a file before the process says so.
  fs.writeFileSync(file, await img.jpeg({ quality: o.quality }).toBuffer());
}

async function runStill(a: ParsedArgs, fault: Fault): Promise<void> {
  const out = a.output as string | undefined;
  if (!out) die('the Pinhole simulator needs -o FILE');
  if (a.encoding !== undefined && a.encoding !== 'jpg') die('the Pinhole simulator only implements jpg encoding');
  const o: StillOpts = {
    width: num(a, 'width', 0) || SENSOR.width,
    height: num(a, 'height', 0) || SENSOR.height,
    quality: num(a, 'quality', 93),
  };
  const exposureMs = Math.max(10, num(a, 'shutter', 20));
  const verbose = num(a, 'verbose', 1);
  const timeout = num(a, 'timeout', 5000);
  let captures = 0;
  const capture = async (modeSwitch: boolean) => {
    // Frames are counted per process; a one-shot still sees a single frame.
    if (fault.kind === 'hang-after' && a.immediate && fault.n === 0) await hang();
    if (modeSwitch) await sleep(TIMING.stillModeSwitchMs);
    await sleep(exposureMs + TIMING.stillFrameMs);
    elog('Still capture image received');
    const file = formatOutputName(out, captures);
    await writeStill(file, o, fault);
    captures++;
  };

  if (a.immediate) {
    await capture(true);
    process.exit(0);
  }

  // Viewfinder loop: with --signal a capture happens on SIGUSR1; otherwise one capture when the timeout expires.
  let pending = 0;
  let quit = false;
  process.on('SIGUSR1', () => {
    pending++;
  });
  process.on('SIGUSR2', () => {
    quit = true;
  });
  const start = Date.now();
  let frames = 0;
  while (!quit) {
    if (fault.kind === 'crash-after' && frames >= fault.n) crash(frames);
    if (fault.kind === 'hang-after' && frames >= fault.n) await hang();
    await sleep(TIMING.stillFrameMs);
    frames++;
    if (verbose >= 2) elog(`Viewfinder frame ${frames}`);
    if (a.signal) {
      if (pending > 0) {
        pending--;
        await capture(!a.zsl);
      }
      if (timeout !== 0 && Date.now() - start >= timeout) break;
    } else if (Date.now() - start >= timeout) {
      await capture(!a.zsl);
      break;
    }
  }
  process.exit(0);
}

async function main(): Promise<void> {
  const app = process.argv[2] as App;
  if (app !== 'vid' && app !== 'still') die('usage: fake-rpicam vid|still ARGS...');
  let args: ParsedArgs;
  try {
    args = parseArgs(app, process.argv.slice(3));
  } catch (e) {
    if (e instanceof ArgError) die(e.message);
    throw e;
  }
  if (args.help) {
    process.stdout.write(
      `rpicam-${app} (Pinhole simulator) — see https://www.raspberrypi.com/documentation/computers/camera_software.html\n`,
    );
    process.exit(0);
  }
  if (args.version) {
    process.stdout.write('rpicam-apps build: pinhole-sim\nlibcamera build: v0.3.2+rpt20240927\n');
    process.exit(0);
  }
  const fault = parseFault(process.env.PINHOLE_FAKE_CAMERA_FAULT);
  if (fault.kind === 'invalid') die(`PINHOLE_FAKE_CAMERA_FAULT: ${fault.message}`, 2);
  if (args['list-cameras']) {
    if (fault.kind === 'absent') process.stdout.write('No cameras available!\n');
    else
      process.stdout.write(
        `Available cameras\n-----------------\n0 : imx477 [${SENSOR.width}x${SENSOR.height} 12-bit RGGB] (${CAMERA_ID})\n`,
      );
    process.exit(0);
  }
  watchParent();
  const dir = stateDir();
  if (fault.kind === 'absent') die('no cameras available');
  if (fault.kind === 'busy') failBusy();
  if (fault.kind === 'busy-n' && consumeBusy(dir, fault.n)) failBusy();
  if (!acquireCamera(dir)) failBusy();
  await sleep(TIMING.openMs + (fault.kind === 'slow-start' ? fault.n : 0));
  if (app === 'vid') await runVid(args, fault);
  else await runStill(args, fault);
}

main().catch((e: unknown) => die(e instanceof Error ? e.message : String(e)));

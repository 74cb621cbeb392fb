/**
 * The simulated camera: stand-ins for `rpicam-vid` and `rpicam-still`, run through scripts/sim-bin/ by the same
 * driver code as the real apps (`camera.backend: sim`). Usage: `node fake-rpicam.js vid|still ARGS...`.
 *
 * Every behaviour is copied from a named upstream file and version; FIDELITY.md beside this file lists them, with what
 * the simulator does differently where it cannot do the same (no H.264 encoder, no preview window, no DNG).
 *
 * Environment:
 *   PINHOLE_SIM_IMAGES               folder of photos to show (else a generated scene)
 *   PINHOLE_FAKE_CAMERA_FAULT        see fault.ts (busy, absent, crash-after:N, hang-after:N, garbage, slow-start:MS,
 *                                    cma:MB, disk-full)
 *   PINHOLE_FAKE_CAMERA_STATE_DIR    holds the camera lock and the busy:N counter (default: a folder in tmpdir)
 *   PINHOLE_FAKE_CAMERA_SEED         seed of the sensor noise and hand-shake of stills (default: random per process)
 *   PINHOLE_FAKE_CAMERA_SCENE        `static`: the scene's moving square and clock stand still (a tripod scene)
 */
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { cFormat } from './c-format.js';
import { type App, ArgError, DENOISE_MODES, type FakeOptions, parseArgs } from './fake-args.js';
import { type Fault, parseFault } from './fault.js';
import { encodeStill, writeLikeFwrite } from './jpeg-writer.js';
import { exposeAndAddNoise, handShake, rgbToI420, warp } from './render.js';
import { Scene } from './scene.js';
import {
  AUTO_EXPOSURE,
  type Configuration,
  effectiveExposure,
  frameDurationMs,
  SENSOR,
  type SensorMode,
  selectMode,
  streamsFor,
  TIMING,
  viewfinderSize,
  yuvStride,
} from './sensor.js';

export { SENSOR, TIMING };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const elog = (line: string) => process.stderr.write(`${line}\n`);
const started = process.hrtime.bigint();

let opts: FakeOptions;
let fault: Fault = { kind: 'none' };

/** LOG(level, text) of core/logging.hpp: stderr when the verbosity is at least `level`. */
function LOG(level: number, text: string): void {
  if ((opts?.verbose ?? 1) >= level) elog(text);
}

/** libcamera's own log lines: none at -v 0 (logSetTarget(None)), INFO and up otherwise. */
function libcam(severity: 'INFO' | 'WARN' | 'ERROR', category: string, where: string, text: string): void {
  if ((opts?.verbose ?? 1) === 0) return;
  const ns = process.hrtime.bigint() - started + 2_000_000_000n;
  const s = Number(ns / 1_000_000_000n);
  const stamp = `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
  elog(`[${stamp}] [${process.pid}] ${severity.padStart(5)} ${category} ${where} ${text}`);
}

/** main()'s catch: `ERROR: *** <what()> ***`, return -1 (exit status 255). */
function die(message: string, code = 255): never {
  elog(`ERROR: *** ${message} ***`);
  process.exit(code);
}

/** An exception escaping a worker thread (the encoder's output thread): std::terminate, SIGABRT. */
function terminate(what: string): never {
  elog("terminate called after throwing an instance of 'std::runtime_error'");
  elog(`  what():  ${what}`);
  process.kill(process.pid, 'SIGABRT');
  process.exit(134);
}

// ---- signals -----------------------------------------------------------------------------------------------------

const SIGNUM: Record<string, number> = { SIGINT: 2, SIGUSR1: 10, SIGUSR2: 12, SIGPIPE: 13 };
let signalReceived = 0;

/**
 * Before the apps install their handlers a signal has its default action: the process dies. Node starts its
 * inspector on SIGUSR1 instead, so that one is emulated (exit status 128+10); SIGUSR2 and SIGINT keep Node's (the
 * kernel's) default.
 */
function emulateDefaultSigusr1(): void {
  process.on('SIGUSR1', onEarlyUsr1);
}
function onEarlyUsr1(): void {
  process.exit(128 + 10);
}

/** `signal(sig, default_signal_handler)`: remember the last signal, log it at -v 1. */
function installHandlers(sigs: readonly string[]): void {
  for (const s of sigs) {
    if (s === 'SIGUSR1') process.removeListener('SIGUSR1', onEarlyUsr1);
    process.on(s as NodeJS.Signals, () => {
      signalReceived = SIGNUM[s];
      LOG(1, `Received signal ${SIGNUM[s]}`);
    });
  }
}

/** apps/rpicam_vid.cpp get_key_or_signal (keypress input is not read: stdin is the daemon's /dev/null). */
function vidKey(): string {
  if (signalReceived === SIGNUM.SIGINT) return 'x';
  let key = '';
  if (opts.signal) {
    if (signalReceived === SIGNUM.SIGUSR1) key = '\n';
    else if (signalReceived === SIGNUM.SIGUSR2 || signalReceived === SIGNUM.SIGPIPE) key = 'x';
    signalReceived = 0;
  }
  return key;
}

/** apps/rpicam_still.cpp get_key_or_signal: SIGINT is not handled at all (the default action kills the app). */
function stillKey(): string {
  let key = '';
  if (opts.signal) {
    if (signalReceived === SIGNUM.SIGUSR1) key = '\n';
    else if (signalReceived === SIGNUM.SIGUSR2) key = 'x';
    signalReceived = 0;
  }
  return key;
}

// ---- the camera: lock, open, configure ---------------------------------------------------------------------------

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
 * symlink whose target is the pid: created atomically and stored in the inode, so it works on a full disk.
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
  // A wedged camera process: no output, deaf to TERM/INT/USR1/USR2; only SIGKILL (or the parent's death) ends it.
  for (const s of ['SIGTERM', 'SIGINT', 'SIGUSR1', 'SIGUSR2'] as const) process.on(s, () => {});
  setInterval(() => {}, 1 << 30);
  return new Promise<never>(() => {});
}

function crash(n: number): never {
  elog("terminate called after throwing an instance of 'std::runtime_error'");
  elog(`  what():  simulated crash after ${n} frames (PINHOLE_FAKE_CAMERA_FAULT)`);
  process.exit(134);
}

/** RPiCamApp::OpenCamera (core/rpicam_app.cpp). */
async function openCamera(): Promise<void> {
  LOG(2, 'Opening camera...');
  libcam('INFO', 'Camera', 'camera_manager.cpp:340', 'libcamera v0.5.0+rpt20250429');
  const dir = stateDir();
  if (fault.kind === 'absent') die('no cameras available');
  libcam(
    'INFO',
    'RPI',
    'vc4.cpp:445',
    `Registered camera ${SENSOR.id} to Unicam device /dev/media3 and ISP device /dev/media0`,
  );
  if (opts.camera >= 1) die('selected camera is not available');
  const busy = () => {
    libcam('INFO', 'Camera', 'camera.cpp:1022', 'Pipeline handler in use by another process');
    die(`failed to acquire camera ${SENSOR.id}`);
  };
  if (fault.kind === 'busy') busy();
  if (fault.kind === 'busy-n' && consumeBusy(dir, fault.n)) busy();
  if (!acquireCamera(dir)) busy();
  LOG(2, `Acquired camera ${SENSOR.id}`);
  await sleep(TIMING.openMs + (fault.kind === 'slow-start' ? fault.n : 0));
}

/** Configure{Viewfinder,Zsl,Still,Video} + setupCapture: mode choice, denoise check, buffer allocation. */
function configure(kind: Configuration): SensorMode {
  LOG(
    2,
    {
      viewfinder: 'Configuring viewfinder...',
      zsl: 'Configuring ZSL...',
      still: 'Configuring still capture...',
      video: 'Configuring video...',
    }[kind],
  );
  const streams = streamsFor(kind, opts, (l) => LOG(1, l));
  const size =
    kind === 'viewfinder'
      ? viewfinderSize(opts)
      : kind === 'video'
        ? { width: opts.width, height: opts.height }
        : { width: opts.width || SENSOR.width, height: opts.height || SENSOR.height };
  const mode = selectMode({ ...size, framerate: opts.framerate });
  // configureDenoise() runs before setupCapture().
  if (!(DENOISE_MODES as readonly string[]).includes(opts.denoise))
    throw new Error(`Invalid denoise mode ${opts.denoise}`);
  libcam(
    'INFO',
    'Camera',
    'camera.cpp:1215',
    `configuring streams:${streams.map((s, i) => ` (${i}) ${s.format}`).join('')}`,
  );
  LOG(2, 'Camera streams configured');
  // setupCapture: one dma-heap allocation per buffer, named rpicam-apps<i>; the CMA model of `cma:MB` decides.
  const budget = fault.kind === 'cma' ? fault.n * 1024 * 1024 : Number.POSITIVE_INFINITY;
  let used = 0;
  for (const s of streams) {
    for (let i = 0; i < s.count; i++) {
      if (used + s.bytes > budget) {
        elog(`dmaHeap allocation failure for rpicam-apps${i}`);
        throw new Error('failed to allocate capture buffers for stream');
      }
      used += s.bytes;
    }
  }
  LOG(2, 'Buffers allocated and mapped');
  return mode;
}

/** A frame clock: frames every `duration` ms; a busy event loop gets the queued ones at once, up to `depth`. */
class FrameClock {
  private next: number;
  /** When the frame just waited for left the sensor (ms, Date.now() scale): its timestamp, not when we got to it. */
  sensorTime = 0;
  constructor(
    private duration: number,
    private depth: number,
    firstAfterMs: number,
  ) {
    this.next = Date.now() + firstAfterMs;
  }
  async wait(): Promise<void> {
    const now = Date.now();
    if (this.next - now > 0) await sleep(this.next - now);
    else if (now - this.next > this.depth * this.duration) this.next = now - this.depth * this.duration;
    this.sensorTime = this.next;
    this.next += this.duration;
  }
  get frameMs(): number {
    return this.duration;
  }
}

function optionsDump(): void {
  if (opts.verbose < 2) return;
  elog('Options:');
  elog(`    verbose: ${opts.verbose}`);
  elog(`    info_text:${opts.infoText}`);
  elog(`    timeout: ${opts.timeoutMs}ms`);
  elog(`    width: ${opts.width}`);
  elog(`    height: ${opts.height}`);
  elog(`    output: ${opts.output ?? ''}`);
  elog(`    preview: ${opts.nopreview ? 'none' : 'default'}`);
  if (opts.shutterUs) elog(`    shutter: ${opts.shutterUs}us`);
  if (opts.gain) elog(`    gain: ${opts.gain}`);
  elog(`    metering: ${opts.metering}`);
  elog(`    exposure: ${opts.exposure}`);
  elog(`    ev: ${opts.ev}`);
  elog(`    awb: ${opts.awb}`);
  elog(`    denoise: ${opts.denoise}`);
  if (opts.bufferCount) elog(`    buffer-count: ${opts.bufferCount}`);
  if (opts.app === 'vid') elog(`    codec: ${opts.codec}`);
  else elog(`    encoding: ${opts.encoding}`);
}

/** write_metadata (output/output.cpp): one JSON object, or `Name=value` lines and a blank line. */
function metadataText(m: Record<string, number | number[]>, fmt: 'json' | 'txt', first: boolean): string {
  const val = (v: number | number[]) =>
    Array.isArray(v) ? `[ ${v.map((x) => x.toFixed(6)).join(', ')} ]` : Number.isInteger(v) ? String(v) : v.toFixed(6);
  if (fmt === 'txt')
    return `${Object.entries(m)
      .map(([k, v]) => `${k}=${val(v)}`)
      .join('\n')}\n\n`;
  return `${first ? '' : ',\n'}{${Object.entries(m)
    .map(([k, v]) => `\n    "${k}": ${val(v)}`)
    .join(',')}\n}`;
}

function frameMetadata(exp: { shutterUs: number; analogueGain: number; digitalGain: number }, frameMs: number) {
  return {
    SensorTimestamp: Number(process.hrtime.bigint()),
    ExposureTime: Math.round(exp.shutterUs),
    AnalogueGain: exp.analogueGain,
    DigitalGain: exp.digitalGain,
    ColourGains: opts.awbGains[0] && opts.awbGains[1] ? [...opts.awbGains] : [...AUTO_EXPOSURE.colourGains],
    FrameDuration: Math.round(frameMs * 1000),
    Lux: 400,
    ColourTemperature: 4500,
  };
}

// ---- rpicam-still ------------------------------------------------------------------------------------------------

const seed = (() => {
  const s = Number(process.env.PINHOLE_FAKE_CAMERA_SEED);
  return Number.isFinite(s) && process.env.PINHOLE_FAKE_CAMERA_SEED ? s >>> 0 : randomInt(2 ** 31);
})();
const staticScene = process.env.PINHOLE_FAKE_CAMERA_SCENE === 'static';

/** The picture of one still: the scene at full size, moved by the hand-shake, exposed, with sensor noise. */
async function stillPixels(
  width: number,
  height: number,
  exposure: { shutterUs: number; analogueGain: number; digitalGain: number },
  frame: number,
): Promise<Buffer> {
  // Compose at a quarter of the size, upscale: a 12 MP canvas drawn in JS would be slow and pointless.
  const scale = width > 1600 ? 4 : 1;
  const scene = new Scene(
    Math.max(16, Math.round(width / scale)),
    Math.max(16, Math.round(height / scale)),
    process.env.PINHOLE_SIM_IMAGES || undefined,
  );
  await scene.init();
  const shake = handShake(seed, frame, width);
  const raw = warp(await scene.raw(staticScene ? 0 : Date.now()), scene.width, scene.height, {
    dx: (shake.dx * scene.width) / width,
    dy: (shake.dy * scene.height) / height,
    rotationDeg: shake.rotationDeg,
  });
  let base = raw;
  if (scale !== 1)
    base = await sharp(raw, { raw: { width: scene.width, height: scene.height, channels: 3 } })
      .resize(width, height, { kernel: 'linear', fit: 'fill' })
      .raw()
      .toBuffer();
  const gain = exposure.analogueGain * exposure.digitalGain;
  return exposeAndAddNoise(base, {
    brightness: (exposure.shutterUs * gain) / (AUTO_EXPOSURE.shutterUs * AUTO_EXPOSURE.analogueGain),
    gain,
    seed,
    frame,
  });
}

/** generate_filename (apps/rpicam_still.cpp): snprintf into char filename[128]. */
function stillFilename(): Buffer {
  let folder = opts.output ?? '';
  if (folder && !folder.endsWith('/')) folder += '/';
  const p = (n: number) => String(n).padStart(2, '0');
  let text: string;
  if (opts.datetime) {
    const d = new Date();
    text = `${folder}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}.${opts.encoding}`;
  } else if (opts.timestamp) {
    text = `${folder}${Math.floor(Date.now() / 1000)}.${opts.encoding}`;
  } else {
    const f = cFormat(opts.output ?? '', opts.framestart, 128);
    if (f.undefinedBehaviour === 'pointer') {
      // snprintf dereferencing a garbage pointer for %s/%n.
      process.kill(process.pid, 'SIGSEGV');
    }
    return f.bytes;
  }
  const b = Buffer.from(text, 'utf8');
  return b.length > 127 ? b.subarray(0, 127) : b;
}

async function saveStill(exposure: { shutterUs: number; analogueGain: number; digitalGain: number }): Promise<void> {
  const name = stillFilename();
  const width = opts.width || SENSOR.width;
  const height = opts.height || SENSOR.height;
  const toStdout = name.toString('latin1') === '-';
  const failAfter = fault.kind === 'disk-full' ? 4096 : undefined;
  let data: Buffer;
  if (fault.kind === 'garbage') data = randomBytes(4096);
  else {
    const rgb = await stillPixels(width, height, exposure, opts.framestart);
    switch (opts.encoding) {
      case 'jpg':
        data = await encodeStill(
          rgb,
          width,
          height,
          opts.quality,
          {
            model: SENSOR.model,
            exposureUs: exposure.shutterUs,
            analogueGain: exposure.analogueGain,
            digitalGain: exposure.digitalGain,
            extra: opts.exif,
            thumb: opts.thumb,
          },
          elog,
        );
        break;
      case 'yuv420':
        data = rgbToI420(rgb, width, height, yuvStride(width));
        break;
      case 'png':
        data = await sharp(rgb, { raw: { width, height, channels: 3 } })
          .png()
          .toBuffer();
        break;
      default:
        throw new Error(`the Pinhole simulator does not write --encoding ${opts.encoding}`);
    }
  }
  if (toStdout) process.stdout.write(data);
  else writeLikeFwrite(name, data, `failed to open file ${opts.output ?? ''}`, failAfter);
  LOG(2, `Saved image ${width} x ${height} to file ${name.toString('utf8')}`);
  if (opts.latest) {
    fs.rmSync(opts.latest, { force: true });
    fs.symlinkSync(name.toString('utf8'), opts.latest);
    LOG(2, `Link ${opts.latest} created`);
  }
  opts.framestart++;
  if (opts.wrap) opts.framestart %= opts.wrap;
  if (opts.metadata) {
    const text = metadataText(frameMetadata(exposure, 0), opts.metadataFormat, true);
    if (opts.metadata === '-') process.stdout.write(text);
    else fs.writeFileSync(opts.metadata, text);
  }
}

/** apps/rpicam_still.cpp event_loop. */
async function runStill(): Promise<void> {
  const output = !!opts.output || opts.datetime || opts.timestamp;
  const keypress = opts.keypress || opts.signal;
  await openCamera();
  installHandlers(['SIGUSR1', 'SIGUSR2']);
  let kind: Configuration;
  let mode: SensorMode;
  let firstFrameAfter = 0;
  if (opts.immediate) {
    kind = 'still';
    mode = configure(kind);
    firstFrameAfter = TIMING.stillModeSwitchMs;
    while (keypress) {
      const key = stillKey();
      if (key === 'x') return;
      if (key === '\n') break;
      await sleep(10);
    }
  } else {
    kind = opts.zsl ? 'zsl' : 'viewfinder';
    mode = configure(kind);
  }
  const clockFor = (k: Configuration, m: SensorMode, after: number) => {
    const exp = effectiveExposure(k, opts, m);
    const depth =
      k === 'zsl' ? opts.bufferCount || 4 : k === 'still' ? opts.bufferCount || 1 : opts.viewfinderBufferCount || 4;
    const d = frameDurationMs(k, m, exp.shutterUs, k === 'viewfinder' ? opts.framerate : undefined);
    return { exp, clock: new FrameClock(d, Math.max(0, depth - 1), after + d) };
  };
  LOG(2, 'Camera started!');
  let { exp, clock } = clockFor(kind, mode, firstFrameAfter);
  const start = Date.now();
  let timelapseTime = start;
  let timelapseFrames = 0;
  let keypressed = false;
  let want = opts.immediate;
  for (let count = 0; ; count++) {
    await clock.wait();
    if (fault.kind === 'crash-after' && count >= fault.n) crash(count);
    if (fault.kind === 'hang-after' && count >= fault.n) await hang();
    const now = Date.now();
    const key = stillKey();
    if (key === 'x' || key === 'X') return;
    if (key === '\n') keypressed = true;
    const viewfinder = kind === 'viewfinder' || kind === 'zsl';
    const still = kind === 'still' || kind === 'zsl';
    if (viewfinder && !want) {
      LOG(2, `Viewfinder frame ${count}`);
      timelapseFrames++;
      const timedOut = opts.timeoutMs > 0 && now - start > opts.timeoutMs;
      const timelapseDue = opts.timelapseMs > 0 && now - timelapseTime > opts.timelapseMs && timelapseFrames >= 6;
      if (timedOut || keypressed || timelapseDue) {
        if ((timedOut && opts.timelapseMs > 0) || (!keypressed && keypress)) return;
        keypressed = false;
        want = true;
      }
      if (want) {
        if (!output) return;
        keypressed = false;
        timelapseTime = Date.now();
        if (!opts.zsl) {
          // StopCamera, Teardown, ConfigureStill, StartCamera: the mode switch of a non-ZSL capture.
          kind = 'still';
          mode = configure(kind);
          ({ exp, clock } = clockFor(kind, mode, TIMING.stillModeSwitchMs));
        }
      } else if (opts.infoText) {
        LOG(
          1,
          `#${count} (${(1000 / clock.frameMs).toFixed(2)} fps) exp ${exp.shutterUs.toFixed(2)} ag ${exp.analogueGain.toFixed(2)} dg ${exp.digitalGain.toFixed(2)}`,
        );
      }
    } else if (still && want) {
      want = false;
      LOG(1, 'Still capture image received');
      await saveStill(exp);
      timelapseFrames = 0;
      if (!opts.immediate && (opts.timelapseMs > 0 || opts.signal || opts.keypress)) {
        if (!opts.zsl) {
          kind = 'viewfinder';
          mode = configure(kind);
          ({ exp, clock } = clockFor(kind, mode, TIMING.stillModeSwitchMs));
        }
      } else return;
    }
  }
}

// ---- rpicam-vid --------------------------------------------------------------------------------------------------

/** output/file_output.cpp (+ Output::Create): stdout, or files named by snprintf into char filename[256]. */
class VideoOutput {
  private fd?: number;
  private count = 0;
  private fileStartMs = 0;
  private enabled: boolean;
  private state: 'waiting' | 'running' | 'disabled' = 'waiting';
  private stdoutWritable = true;

  constructor() {
    this.enabled = !opts.pause;
    if (opts.output === '-') {
      process.stdout.on('drain', () => {
        this.stdoutWritable = true;
      });
      // The reader is gone: fwrite fails in the encoder's output thread, which nothing catches.
      process.stdout.on('error', () => terminate('failed to write output bytes'));
    }
  }

  /** Output::Signal: SIGUSR1 with --signal toggles recording. */
  toggle(): void {
    this.enabled = !this.enabled;
  }

  /** Output::OutputReady + FileOutput::outputBuffer; every MJPEG/YUV frame is a key frame. */
  write(data: Buffer, timestampMs: number): void {
    let restart = false;
    if (!this.enabled) this.state = 'disabled';
    else if (this.state === 'disabled') this.state = 'waiting';
    if (this.state === 'waiting') {
      this.state = 'running';
      restart = true;
    }
    if (this.state !== 'running' || !opts.output) return;
    if (opts.output === '-') {
      if (!this.stdoutWritable) return; // a full pipe: the app's buffers run out and frames are dropped
      this.stdoutWritable = process.stdout.write(data);
      return;
    }
    if (
      this.fd === undefined ||
      (opts.segment && timestampMs - this.fileStartMs > opts.segment) ||
      (opts.split && restart)
    ) {
      if (this.fd !== undefined) fs.closeSync(this.fd);
      const f = cFormat(opts.output, this.count++, 256);
      if (opts.wrap) this.count %= opts.wrap;
      if (f.undefinedBehaviour === 'pointer') process.kill(process.pid, 'SIGSEGV');
      try {
        this.fd = fs.openSync(f.bytes, 'w');
      } catch {
        terminate(`failed to open output file ${f.bytes.toString('utf8')}`);
      }
      LOG(2, `FileOutput: opened output file ${f.bytes.toString('utf8')}`);
      this.fileStartMs = timestampMs;
    }
    try {
      if (fault.kind === 'disk-full') throw new Error('ENOSPC');
      fs.writeSync(this.fd as number, data);
    } catch {
      terminate('failed to write output bytes');
    }
  }
}

async function runVid(): Promise<void> {
  const out = opts.output ?? '';
  const libav = opts.codec === 'libav';
  if (!libav && (out.startsWith('udp://') || out.startsWith('tcp://')))
    die('the Pinhole simulator does not implement network output');
  if (opts.circular) die('the Pinhole simulator does not implement --circular');
  await openCamera();
  const mode = configure('video');
  const exp = effectiveExposure('video', opts, mode);
  const frameMs = frameDurationMs('video', mode, exp.shutterUs, opts.framerate);
  LOG(2, 'Camera started!');
  const output = new VideoOutput();
  installHandlers(['SIGUSR1', 'SIGUSR2', 'SIGINT', 'SIGPIPE']);
  const scene = new Scene(opts.width, opts.height, process.env.PINHOLE_SIM_IMAGES || undefined);
  await scene.init();
  const metaFile = opts.metadata && opts.metadata !== '-' ? fs.openSync(opts.metadata, 'w') : undefined;
  const metaWrite = (s: string) => (metaFile !== undefined ? fs.writeSync(metaFile, s) : process.stdout.write(s));
  if (opts.metadata && opts.metadataFormat === 'json') metaWrite('[\n');
  let firstMeta = true;
  const clock = new FrameClock(frameMs, Math.max(0, (opts.bufferCount || 6) - 1), frameMs);
  const start = Date.now();
  const stride = yuvStride(opts.width);
  for (let count = 0; ; count++) {
    await clock.wait();
    if (fault.kind === 'crash-after' && count >= fault.n) crash(count);
    if (fault.kind === 'hang-after' && count >= fault.n) await hang();
    const key = vidKey();
    if (key === '\n') output.toggle();
    LOG(2, `Viewfinder frame ${count}`);
    const now = Date.now();
    const ts = clock.sensorTime - start;
    const timeout = !opts.frames && opts.timeoutMs > 0 && now - start > opts.timeoutMs;
    const frameout = opts.frames > 0 && count >= opts.frames;
    if (timeout || frameout || key === 'x' || key === 'X') {
      if (timeout) LOG(1, `Halting: reached timeout of ${opts.timeoutMs} milliseconds.`);
      break;
    }
    let data: Buffer | undefined;
    if (opts.codec === 'mjpeg') {
      data = await scene.jpeg(opts.quality, staticScene ? 0 : now);
      if (fault.kind === 'garbage') {
        output.write(randomBytes(50 + (count % 7) * 100), ts);
        if (count % 4 === 3) data = data.subarray(0, Math.floor(data.length / 2)); // truncated frame
      }
    } else if (opts.codec === 'yuv420') {
      data = rgbToI420(await scene.raw(staticScene ? 0 : now), opts.width, opts.height, stride);
    }
    // h264 / libav: the simulator has no video encoder; the frame is counted, nothing is written.
    if (data) output.write(data, ts);
    if (opts.metadata) {
      metaWrite(metadataText(frameMetadata(exp, frameMs), opts.metadataFormat, firstMeta));
      firstMeta = false;
    }
    if (opts.infoText)
      LOG(
        1,
        `#${count} (${(1000 / frameMs).toFixed(2)} fps) exp ${exp.shutterUs.toFixed(2)} ag ${exp.analogueGain.toFixed(2)} dg ${exp.digitalGain.toFixed(2)}`,
      );
  }
  if (opts.metadata && opts.metadataFormat === 'json') metaWrite('\n]\n');
}

// ---- main --------------------------------------------------------------------------------------------------------

function helpText(app: App): string {
  return `rpicam-${app} (Pinhole simulator of rpicam-apps)\nValid options are: see https://www.raspberrypi.com/documentation/computers/camera_software.html\n`;
}

async function main(): Promise<void> {
  emulateDefaultSigusr1();
  const app = process.argv[2] as App;
  if (app !== 'vid' && app !== 'still') die('usage: fake-rpicam vid|still ARGS...');
  try {
    opts = parseArgs(app, process.argv.slice(3));
  } catch (e) {
    if (e instanceof ArgError) die(e.message);
    throw e;
  }
  if (opts.help) {
    process.stdout.write(helpText(app));
    process.exit(0);
  }
  if (opts.version) {
    process.stdout.write(
      'rpicam-apps build: pinhole-sim\nrpicam-apps capabilites: egl:0 qt:0 drm:0 libav:0\nlibcamera build: v0.5.0+rpt20250429\n',
    );
    process.exit(0);
  }
  fault = parseFault(process.env.PINHOLE_FAKE_CAMERA_FAULT);
  if (fault.kind === 'invalid') die(`PINHOLE_FAKE_CAMERA_FAULT: ${fault.message}`, 2);
  if (opts.listCameras) {
    if (fault.kind === 'absent') process.stdout.write('No cameras available!\n');
    else {
      const modes = SENSOR.modes.map(
        (m) =>
          `'${m.format}' : ${m.width}x${m.height} [${m.fps.toFixed(2)} fps - (0, 0)/${SENSOR.width}x${SENSOR.height} crop]`,
      );
      process.stdout.write(
        `Available cameras\n-----------------\n0 : ${SENSOR.model} [${SENSOR.width}x${SENSOR.height} 12-bit RGGB] (${SENSOR.id})\n    Modes: ${modes.join('\n           ')}\n\n`,
      );
    }
    process.exit(0);
  }
  optionsDump();
  watchParent();
  try {
    if (app === 'vid') await runVid();
    else await runStill();
  } catch (e) {
    die(e instanceof Error ? e.message : String(e));
  }
  LOG(2, 'Camera stopped!');
  LOG(2, 'Camera closed');
  process.exit(0);
}

main().catch((e: unknown) => die(e instanceof Error ? e.message : String(e)));

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { ConfigSchema, type PinholeConfig } from '../../src/config/schema.js';
import { validateConfigText } from '../../src/config/validate.js';
import { type ConfigEdit, editConfigFile } from '../../src/config/writer.js';
import { ConflictError, NotFoundError, UnavailableError } from '../../src/util/errors.js';
import type {
  CameraState,
  CaptureRequest,
  ConfigSnapshot,
  JobRecord,
  JobRequest,
  PhotoRecord,
  StatusReport,
  WebEvent,
  WebServices,
} from '../../src/web/services.js';

/** Real small JPEGs (sharp), distinct colours so frames differ. */
export async function makeJpeg(width: number, height: number, hue: number, text = ''): Promise<Buffer> {
  const r = Math.round(128 + 127 * Math.sin(hue));
  const g = Math.round(128 + 127 * Math.sin(hue + 2));
  const b = Math.round(128 + 127 * Math.sin(hue + 4));
  const svg = `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg"><rect width="100%" height="100%" fill="rgb(${r},${g},${b})"/><circle cx="${width / 2}" cy="${height / 2}" r="${Math.min(width, height) / 4}" fill="white"/><text x="10" y="30" font-size="24">${text}</text></svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 70 }).toBuffer();
}

export class FakeEvents {
  readonly listeners = new Set<(e: WebEvent) => void>();
  subscribe(l: (e: WebEvent) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  emit(e: WebEvent): void {
    for (const l of this.listeners) l(e);
  }
}

export class FakeCamera {
  state: CameraState = 'streaming';
  lastError?: string;
  readonly subscribers = new Set<(jpeg: Buffer) => void>();
  private latest?: Buffer;
  private timer?: NodeJS.Timeout;

  status() {
    return { state: this.state, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }
  subscribe(cb: (jpeg: Buffer) => void): () => void {
    this.subscribers.add(cb);
    return () => this.subscribers.delete(cb);
  }
  latestFrame(): Buffer | undefined {
    return this.latest;
  }
  emit(jpeg: Buffer): void {
    this.latest = jpeg;
    for (const s of this.subscribers) s(jpeg);
  }
  /** Cycles through `frames` at `fps`. */
  play(frames: Buffer[], fps: number): void {
    let i = 0;
    this.timer = setInterval(() => this.emit(frames[i++ % frames.length]), 1000 / fps);
  }
  stopPlaying(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/** A gallery on disk in a temp dir, with the same id rules as the real one is expected to have. */
export class FakeGallery {
  readonly photos: PhotoRecord[] = [];
  private seq = 0;
  constructor(readonly dir: string) {}

  async add(jpeg: Buffer): Promise<PhotoRecord> {
    const seq = ++this.seq;
    const id = `p${String(seq).padStart(6, '0')}`;
    await fs.mkdir(path.join(this.dir, id), { recursive: true });
    await fs.writeFile(path.join(this.dir, id, 'original.jpg'), jpeg);
    await fs.writeFile(path.join(this.dir, id, 'thumb.jpg'), await sharp(jpeg).resize(96).jpeg().toBuffer());
    const photo: PhotoRecord = {
      id,
      seq,
      takenAt: new Date(Date.UTC(2025, 0, 1, 0, 0, seq)).toISOString(),
      width: 64,
      height: 48,
      variants: [],
    };
    this.photos.push(photo);
    return photo;
  }
  async addVariant(id: string, name: string, jpeg: Buffer): Promise<void> {
    const p = await this.get(id);
    await fs.writeFile(path.join(this.dir, id, `${name}.jpg`), jpeg);
    p.variants = [...(p.variants ?? []), { name }];
  }
  async list(opts: { cursor?: string; limit: number }) {
    this.lastLimit = opts.limit;
    const sorted = [...this.photos].sort((a, b) => (b.seq ?? 0) - (a.seq ?? 0));
    const start = opts.cursor ? sorted.findIndex((p) => String(p.seq) === opts.cursor) + 1 : 0;
    const photos = sorted.slice(start, start + opts.limit);
    const next = start + opts.limit < sorted.length ? String(photos[photos.length - 1].seq) : null;
    return { photos, nextCursor: next };
  }
  lastLimit?: number;
  async get(id: string): Promise<PhotoRecord> {
    const p = this.photos.find((x) => x.id === id);
    if (!p) throw new NotFoundError(`no photo ${id}`, 'photo-not-found');
    return p;
  }
  async filePath(id: string, variant: string): Promise<string> {
    const p = await this.get(id);
    if (variant !== 'original' && !p.variants?.some((v) => v.name === variant))
      throw new NotFoundError(`no variant ${variant}`, 'variant-not-found');
    return path.join(this.dir, id, `${variant}.jpg`);
  }
  async thumbPath(id: string): Promise<string> {
    await this.get(id);
    return path.join(this.dir, id, 'thumb.jpg');
  }
  async delete(id: string): Promise<void> {
    await this.get(id);
    this.photos.splice(
      this.photos.findIndex((p) => p.id === id),
      1,
    );
    await fs.rm(path.join(this.dir, id), { recursive: true, force: true });
  }
}

export class FakeConfig {
  snapshot: ConfigSnapshot;
  constructor(
    readonly file: string,
    config: PinholeConfig,
    private readonly events: FakeEvents,
  ) {
    this.snapshot = { config, errors: [], file };
  }
  get(): ConfigSnapshot {
    return this.snapshot;
  }
  async update(edits: ConfigEdit[]): Promise<PinholeConfig> {
    const next = await editConfigFile(this.file, edits);
    this.snapshot = { config: { ...next, dataDir: this.snapshot.config.dataDir }, errors: [], file: this.file };
    this.events.emit({ type: 'config', data: { errors: [] } });
    return this.snapshot.config;
  }
  schema(): unknown {
    return ConfigSchema;
  }
  /** Simulates the daemon's file watcher noticing a hand edit. */
  async reloadFromDisk(): Promise<void> {
    const r = validateConfigText(await fs.readFile(this.file, 'utf8'));
    this.snapshot = { ...this.snapshot, errors: r.errors };
    this.events.emit({ type: 'config', data: { errors: r.errors } });
  }
}

export interface Fakes {
  services: WebServices;
  camera: FakeCamera;
  gallery: FakeGallery;
  events: FakeEvents;
  config: FakeConfig;
  calls: { capture: CaptureRequest[]; jobs: { photoId: string; req: JobRequest }[]; system: string[]; time: number[] };
  captureError?: Error;
  dir: string;
  cleanup(): Promise<void>;
}

export async function makeFakes(config: PinholeConfig, opts: { jobDelayMs?: number } = {}): Promise<Fakes> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-web-'));
  const events = new FakeEvents();
  const camera = new FakeCamera();
  const gallery = new FakeGallery(path.join(dir, 'gallery'));
  const configFile = path.join(dir, 'config.yaml');
  await fs.writeFile(configFile, '# owner comment\nweb:\n  maxViewers: 20\n');
  const cfgService = new FakeConfig(configFile, config, events);
  const calls: Fakes['calls'] = { capture: [], jobs: [], system: [], time: [] };
  let jobSeq = 0;
  const fakes: Fakes = {
    camera,
    gallery,
    events,
    config: cfgService,
    calls,
    dir,
    services: undefined as unknown as WebServices,
    async cleanup() {
      camera.stopPlaying();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
  fakes.services = {
    camera,
    gallery,
    events,
    config: cfgService,
    async capture(req) {
      calls.capture.push(req);
      if (fakes.captureError) throw fakes.captureError;
      if (camera.state === 'absent') throw new UnavailableError('no camera', 'camera-absent');
      if (camera.state === 'capturing') throw new ConflictError('a capture is running');
      events.emit({ type: 'capture', data: { phase: 'started' } });
      const photo = await gallery.add(await makeJpeg(64, 48, calls.capture.length, 'photo'));
      events.emit({ type: 'capture', data: { phase: 'done', photoId: photo.id } });
      return photo;
    },
    jobs: {
      async enqueue(photoId, req) {
        await gallery.get(photoId);
        const name = req.recipe ?? req.filter ?? 'x';
        if (name === 'nosuch') throw new NotFoundError(`unknown filter ${name}`, 'filter-not-found');
        calls.jobs.push({ photoId, req });
        const job: JobRecord = { id: `j${++jobSeq}`, photoId, state: 'queued', progress: 0, variant: name };
        const delay = opts.jobDelayMs ?? 50;
        setTimeout(() => {
          events.emit({ type: 'job', data: { ...job, state: 'running', progress: 0.5 } });
          setTimeout(() => {
            void (async () => {
              const src = await fs.readFile(await gallery.filePath(photoId, 'original'));
              await gallery.addVariant(photoId, name, await sharp(src).grayscale().jpeg().toBuffer());
              events.emit({ type: 'job', data: { ...job, state: 'done', progress: 1 } });
            })();
          }, delay);
        }, delay);
        return job;
      },
      async catalog() {
        return {
          filters: [
            { name: 'grayscale', title: 'Black & white' },
            { name: 'denoise', title: 'Denoise' },
          ],
          recipes: [{ name: 'night', title: 'Night' }],
        };
      },
    },
    system: {
      async status(): Promise<StatusReport> {
        return {
          storage: { freeBytes: 150e6, totalBytes: 16e9, minFreeBytes: 200e6, photoCount: gallery.photos.length },
          system: { cpuTempC: 51.2, throttled: [], uptimeS: 1234, loadAvg: [0.1, 0.2, 0.3] },
          models: [{ name: 'yunet', present: true, loaded: true }],
          versions: { pinhole: '0.1.0', node: process.version },
          clock: { now: Date.now() - 3 * 86_400_000, synced: false },
          gpio: {
            backend: 'onoff',
            error: null,
            filter: {
              kind: 'software',
              us: 2000,
              detail: 'in software from edge arrival times (onoff has no spike filter)',
            },
            warnings: [
              'button "shutter" on BCM 26 wants a pull-up but the onoff backend cannot set pulls, and BCM 26 has a pull-down at boot: a button to ground there reads 0 pressed or not, so it never fires. Add `gpio=26=ip,pu` to /boot/firmware/config.txt and reboot',
            ],
          },
        };
      },
      async shutdown() {
        calls.system.push('shutdown');
      },
      async reboot() {
        calls.system.push('reboot');
      },
      async setTime(ms) {
        calls.time.push(ms);
      },
    },
  };
  return fakes;
}

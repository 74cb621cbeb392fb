import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { App } from './app.js';
import { appRoot } from './config/locate.js';
import { ConfigSchema } from './config/schema.js';
import type { ConfigStore } from './config/store.js';
import { editConfigFile } from './config/writer.js';
import type { EventBus } from './events.js';
import { filterDepsFromConfig } from './filters/setup.js';
import { allModelStatus } from './models/manifest.js';
import type { MqttComponent } from './mqtt/mqtt-component.js';
import type { PhotoRecord as StorePhoto } from './store/types.js';
import { diskSpace, loadAvg, type PowerActions, type SystemProbe } from './system/status.js';
import { NotFoundError } from './util/errors.js';
import type { JobRecord, PhotoRecord, WebEvent, WebServices } from './web/services.js';
import { modesWebService, peopleWebService } from './web-services-faces.js';

export function toWebPhoto(p: StorePhoto, app?: App): PhotoRecord {
  const m = p.meta;
  return {
    sync: app?.sync()?.photoState(p.id) ?? null,
    id: p.id,
    seq: p.seq,
    takenAt: m.capturedAt,
    width: m.width,
    height: m.height,
    bytes: m.bytes,
    source: m.source,
    lag: m.lag,
    faces: m.faces,
    ...(m.bestShot ? { bestShot: m.bestShot } : {}),
    ...(m.night ? { night: m.night } : {}),
    variants: Object.entries(m.variants ?? {}).map(([name, v]) => ({ name, ...v })),
  };
}

function versions(): Record<string, string> {
  const pkg = (name: string) => {
    try {
      return (
        JSON.parse(readFileSync(path.join(appRoot(), 'node_modules', name, 'package.json'), 'utf8')) as {
          version: string;
        }
      ).version;
    } catch {
      return 'unknown';
    }
  };
  let pinhole = 'unknown';
  try {
    pinhole = (JSON.parse(readFileSync(path.join(appRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {}
  return {
    pinhole,
    node: process.version,
    onnxruntime: pkg('onnxruntime-node'),
    sharp: sharp.versions.sharp ?? 'unknown',
    libvips: sharp.versions.vips,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

/**
 * Adapts the daemon's real components to what the web server asks for (src/web/services.ts). Every call looks the
 * component up anew, so a component restarted by a config change is picked up.
 */
export function createWebServices(
  app: App,
  store: ConfigStore,
  bus: EventBus,
  probe: SystemProbe,
  power: PowerActions,
): WebServices {
  const gallery = () => app.camera().gallery;
  const jobRecord = (j: {
    id: string;
    photoId: string;
    state: JobRecord['state'];
    progress: number;
    recipe: string;
    error?: string;
  }): JobRecord => ({
    id: j.id,
    photoId: j.photoId,
    state: j.state,
    progress: j.progress,
    variant: j.recipe,
    ...(j.error ? { error: j.error } : {}),
  });
  const staticVersions = versions();

  return {
    camera: {
      status: () => {
        try {
          return { ...app.camera().cameraStatus() };
        } catch {
          return { state: 'stopped', lastError: 'the camera component is not running' };
        }
      },
      subscribe: (cb) => app.camera().frames.subscribe((f) => cb(f.data)),
      latestFrame: () => app.lifecycle.get<ReturnType<App['camera']>>('camera')?.frames.latest()?.data,
    },

    async capture(req) {
      // The exposure dial works like a camera's: it stays where it was turned. A new value is saved to the config
      // (the owner's file, comments kept) and applied before the shot.
      if (req.ev !== undefined && req.ev !== store.config.camera.controls.ev) {
        await editConfigFile(store.file, [{ path: ['camera', 'controls', 'ev'], value: req.ev }]);
        await store.reload();
        await app.lifecycle.settled();
      }
      const r = await app.capture('web', req.recipe ?? null);
      return toWebPhoto(gallery().get(r.id), app);
    },

    gallery: {
      async list({ cursor, limit }) {
        const page = gallery().list({ cursor, limit });
        return { photos: page.items.map((p) => toWebPhoto(p, app)), nextCursor: page.nextCursor ?? null };
      },
      async get(id) {
        return toWebPhoto(gallery().get(id), app);
      },
      async filePath(id, variant) {
        if (variant === 'original') return gallery().filePath(id);
        const known = gallery().listVariants(id);
        if (!Object.hasOwn(known, variant)) throw new NotFoundError(`photo ${id} has no variant "${variant}"`);
        return gallery().variantPath(id, variant);
      },
      async thumbPath(id) {
        return gallery().thumbPath(id);
      },
      async delete(id) {
        await gallery().delete(id);
      },
    },

    jobs: {
      async enqueue(photoId, req) {
        gallery().get(photoId); // 404 before queueing for an unknown photo
        const name = req.recipe ?? req.filter;
        if (!name) throw new NotFoundError('no filter or recipe named');
        return jobRecord(await app.filters().enqueue(photoId, name, req.params ?? {}));
      },
      async get(jobId) {
        const s = app.filters().status();
        const j = [...s.running, ...s.queued, ...s.recent].find((x) => x.id === jobId);
        if (!j) throw new NotFoundError(`no filter job ${jobId}`);
        return jobRecord(j);
      },
      async catalog() {
        const deps = filterDepsFromConfig(store.config, { workDir: os.tmpdir() });
        const info = await deps.registry.info(deps.models, deps.faces);
        return {
          filters: info.map((f) => ({
            name: f.name,
            title: f.title,
            description: f.description,
            params: f.params as Record<string, unknown>,
            available: f.available,
            problems: f.problems,
          })),
          recipes: deps.registry
            .recipeNames()
            .map((name) => ({ name, title: name, description: JSON.stringify(deps.registry.recipe(name)) })),
        };
      },
    },

    config: {
      get: () => ({ config: store.config, errors: store.status().errors, file: store.file }),
      async update(edits) {
        const next = await editConfigFile(store.file, edits);
        await store.reload();
        return next;
      },
      schema: () => ConfigSchema,
    },

    sync: () => {
      const s = app.sync();
      if (!s) return undefined;
      return {
        status: () => ({ ...s.status(), mqtt: app.lifecycle.get<MqttComponent>('mqtt')?.status() ?? null }),
        now: () => s.syncNow(),
        retry: () => s.retry(),
        pause: () => s.pause(),
        resume: () => s.resume(),
      };
    },

    system: {
      async status() {
        const cfg = store.config;
        const [disk, health, cpuTempC, throttled, synced, clockOwner] = await Promise.all([
          diskSpace(cfg.dataDir),
          app.lifecycle.get<ReturnType<App['camera']>>('camera')?.gallery.health(),
          probe.cpuTempC(),
          probe.throttled(),
          probe.clockSynced(),
          probe.clockOwner(),
        ]);
        let models: { name: string; present: boolean; error?: string; state: string }[] = [];
        try {
          models = (await allModelStatus(cfg.models.dir)).map((m) => ({
            name: m.name,
            present: m.state === 'verified' || m.state === 'present',
            state: m.state,
            ...(m.reason ? { error: m.reason } : {}),
          }));
        } catch (e) {
          models = [{ name: 'manifest', present: false, state: 'missing', error: (e as Error).message }];
        }
        let photoCount: number | undefined;
        try {
          photoCount = gallery().count;
        } catch {}
        return {
          storage: {
            ...disk,
            minFreeBytes: cfg.storage.minFreeMB * 1024 * 1024,
            photoCount,
            writable: health?.writable,
            error: health?.error,
          },
          system: {
            cpuTempC,
            throttled,
            uptimeS: Math.round(os.uptime()),
            loadAvg: loadAvg(),
            memory: { totalBytes: os.totalmem(), freeBytes: os.freemem(), rssBytes: process.memoryUsage().rss },
          },
          camera: app.lifecycle.get<ReturnType<App['camera']>>('camera')?.cameraStatus(),
          faces: app.faces()?.status(),
          filters: app.lifecycle.get<ReturnType<App['filters']>>('filters')?.status(),
          gpio: app.gpio()?.status(),
          look: app.look,
          sync: app.sync()?.status() ?? null,
          mqtt: app.lifecycle.get<MqttComponent>('mqtt')?.status() ?? null,
          models,
          versions: staticVersions,
          clock: { now: Date.now(), synced, owner: clockOwner.owner, message: clockOwner.message },
          configErrors: store.status().errors,
        };
      },
      shutdown: () => power.shutdown(),
      reboot: () => power.reboot(),
      setTime: (ms) => power.setTime(ms),
    },

    modes: modesWebService(app, bus, toWebPhoto),
    people: peopleWebService(app, toWebPhoto),

    events: {
      subscribe(listener) {
        const send = (e: WebEvent) => listener(e);
        const offs = [
          bus.on('faces', (data) => send({ type: 'faces', data })),
          bus.on('job.progress', (j) =>
            send({
              type: 'job',
              data: {
                id: j.jobId,
                photoId: j.photoId,
                state: j.state,
                progress: j.progress,
                variant: j.recipe,
                ...(j.error ? { error: j.error } : {}),
              },
            }),
          ),
          bus.on('config.invalid', ({ errors }) => send({ type: 'config', data: { errors } })),
          bus.on('config.changed', () => send({ type: 'config', data: { errors: [] } })),
          bus.on('camera.state', (s) => send({ type: 'camera', data: s })),
          bus.on('photo.captured', (p) => send({ type: 'capture', data: { phase: 'done', photoId: p.id } })),
          bus.on('look.selected', (l) => send({ type: 'status', data: l })),
          bus.on('capture.mode', (m) => send({ type: 'mode', data: m })),
          bus.on('scan.outline', (o) => send({ type: 'scan', data: o })),
          bus.on('people.changed', (c) => send({ type: 'people', data: c })),
          bus.on('sync.changed', (c) => send({ type: 'sync', data: c })),
          bus.on('mqtt.state', (m) => send({ type: 'status', data: { mqtt: m } })),
        ];
        return () => {
          for (const off of offs) off();
        };
      },
    },
  };
}

import { promises as fs } from 'node:fs';
import { decodeForAnalysis } from './analysis/analyzer.js';
import type { AnalysisComponent } from './analysis/component.js';
import type { App } from './app.js';
import { nightDeps } from './app-night.js';
import { scanDeps } from './app-scan.js';
import { alternateRecipe } from './capture/alternates.js';
import type { BurstResult, FrameFindings } from './capture/best-shot.js';
import { handRaisedOrNobody, startLivePoses } from './capture/gesture-shutter.js';
import type { ModeRecord } from './capture/modes.js';
import { ModesComponent } from './capture/modes-component.js';
import { version } from './cli/version.js';
import type { EventBus } from './events.js';
import type { FilterJobs } from './filters/jobs.js';
import type { ComponentFactory } from './lifecycle.js';
import { PeopleComponent } from './people/component.js';
import type { DescribedPhoto } from './people/store.js';
import { withExif } from './store/exif.js';
import { errorMessage, UnavailableError } from './util/errors.js';
import { createLogger } from './util/logger.js';
import type { Face } from './vision/face.js';

/**
 * The composition root's part for the features built on face analysis: the capture modes (smile shutter, best
 * shot, gesture shutter) and People. Only wiring: each adapter turns a module's small interface into calls on the
 * camera, live faces, the analysis engine and the gallery. app.ts lists the factories.
 */

const log = createLogger('app');

/** Burst frames are analysed at most this large: enough for smiles and blur, one decode per frame. */
const BEST_SHOT_ANALYSIS_SIDE = 1600;
/** Preview frames are decoded this large for the pose model (MoveNet's input is 192×192). */
const POSE_DECODE_SIDE = 320;

function analysis(app: App): AnalysisComponent {
  const a = app.lifecycle.get<AnalysisComponent>('analysis');
  if (!a) throw new UnavailableError('face analysis is not running', 'analysis-stopped');
  return a;
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

export function modesFactory(app: App, bus: EventBus): ComponentFactory {
  return {
    name: 'modes',
    optional: true,
    create: async (cfg) => {
      return new ModesComponent({
        config: cfg,
        bus,
        smile: {
          startAnalysis: () => {
            const faces = app.faces();
            if (!faces) throw new UnavailableError('face detection is not running', 'faces-unavailable');
            const analyzer = analysis(app).analyzer;
            faces.setAnalysis(async (jpeg, r) => {
              const res = await analyzer.analyzeImage(jpeg, r.faces, { expression: true, priority: 'live' });
              return res.faces.map((a) => (a.smile === undefined ? a.face : { ...a.face, smile: round3(a.smile) }));
            });
            // Nobody may be watching (a button armed it): keep the preview running while armed.
            const off = app.camera().frames.subscribe(() => {});
            return () => {
              off();
              app.faces()?.setAnalysis(undefined);
            };
          },
          onFrame: (cb) =>
            bus.on('faces', (e) =>
              cb({ faces: e.faces as { smile?: number }[], analysed: e.analysed === true, frameAt: e.frameAt }),
            ),
        },
        gesture: {
          startPoses: (onPose) => {
            const analyzer = analysis(app).analyzer;
            return startLivePoses(
              {
                subscribe: (cb) =>
                  app.camera().frames.subscribe((f) => {
                    if (!f.placeholder) cb(f.data, f.at);
                  }),
                estimate: async (jpeg) => {
                  const { img } = await decodeForAnalysis(jpeg, POSE_DECODE_SIDE);
                  return handRaisedOrNobody(await analyzer.pose(img, { priority: 'live' }));
                },
                fps: () => app.config.camera.capture.gesture.fps,
                onError: (e) => log.debug('pose failed', { error: errorMessage(e) }),
              },
              onPose,
            );
          },
        },
        bestShot: {
          burst: (req) => burst(app, req),
          analyse: (file) => analyseFrame(app, file),
          commit: async (b, frame, req) => {
            const now = performance.now();
            const lag = b.lags?.[frame] ?? { commandIssuedMs: 0, exposureDoneMs: 0, writtenMs: 0 };
            // burst frames come from the still process kept open in signal mode
            return app
              .camera()
              .captures.importFrame(
                b.files[frame],
                { source: req.source, meta: { bestShot: req.bestShot } },
                { strategy: 'signal', ...lag },
                b.trigger ?? now,
              );
          },
          addAlternate: async (id, name, file, score) => {
            const gallery = app.camera().gallery;
            // the same EXIF as the photo (capture time, Pinhole): an alternate may become the photo one day
            const jpeg = withExif(await fs.readFile(file), {
              dateTime: new Date(gallery.get(id).meta.capturedAt),
              make: 'Raspberry Pi',
              model: 'Pinhole camera',
              software: `Pinhole ${version()}`,
            });
            await gallery.writeVariant(id, name, jpeg, alternateRecipe(score));
          },
        },
        night: nightDeps(app),
        scan: scanDeps(app),
        outline: {
          latestFrame: () => app.lifecycle.get<ReturnType<App['camera']>>('camera')?.frames.latest()?.data,
          emit: (e) => bus.emit('scan.outline', e),
        },
        capture: async (source, record) => {
          const r = await app.capture(source);
          await app
            .camera()
            .gallery.update(r.id, { mode: modeRecord(record, r.lag.commandIssuedMs) })
            .catch(() => {});
          return r;
        },
        problem: async (mode) => {
          if (mode === 'best-shot') return undefined; // without analysis it still ranks frames by sharpness
          const a = app.lifecycle.get<AnalysisComponent>('analysis');
          if (!a) return 'face analysis is not running';
          if (mode === 'smile-shutter') {
            const f = app.faces()?.status();
            if (!f || (f.state !== 'running' && f.state !== 'disabled'))
              return `face detection is ${f?.state ?? 'not running'}${f?.reason ? ` (${f.reason})` : ''}`;
            return a.analyzer.problem('expression');
          }
          return a.analyzer.problem('pose');
        },
      });
    },
  };
}

const round1 = (v: number) => Math.round(v * 10) / 10;

/**
 * The sidecar's `mode`: what the mode decided on, and for the smile shutter how long the decision took — from the
 * first and from the last all-smiling frame's arrival to the capture the shutter commands (`…ToCaptureMs`; the
 * issue's goal: first → capture ≤ (frames − 1) analysis intervals + 50 ms, i.e. last → capture ≤ 50 ms with the
 * intervals as they were), and on to the camera's still command (`…ToCommandMs`: adds the camera's own path, which
 * with the preview running is the `switch` path's preview stop, the shutter lag every capture has).
 */
function modeRecord(record: ModeRecord, commandIssuedMs: number): Record<string, unknown> {
  const { firedAt, smilingFramesAt, ...rest } = record;
  const commandAt = firedAt + commandIssuedMs;
  const times = Array.isArray(smilingFramesAt) ? (smilingFramesAt as number[]) : [];
  if (times.length === 0) return rest;
  const intervals = times.slice(1).map((t, i) => round1(t - times[i]));
  return {
    ...rest,
    firstFrameToCaptureMs: round1(firedAt - times[0]),
    lastFrameToCaptureMs: round1(firedAt - (times.at(-1) as number)),
    firstFrameToCommandMs: round1(commandAt - times[0]),
    lastFrameToCommandMs: round1(commandAt - (times.at(-1) as number)),
    analysisIntervalsMs: intervals,
  };
}

/** N full-resolution frames from the capture service's burst (queued like a capture; the shutter goes first). */
export async function burst(app: App, req: { source: string; frames: number }): Promise<BurstResult> {
  const trigger = performance.now();
  const r = await app.camera().captures.captureBurst({ source: req.source, frames: req.frames });
  return {
    files: r.frames.map((f) => f.path),
    trigger,
    lags: r.frames.map((f) => f.lag),
    cleanup: () => fs.rm(r.dir, { recursive: true, force: true }),
  };
}

/** One burst frame: faces (YuNet on a small decode) with smiles, and a grey copy for the sharpness measures. */
async function analyseFrame(app: App, file: string): Promise<FrameFindings> {
  const { img, width } = await decodeForAnalysis(file, BEST_SHOT_ANALYSIS_SIDE);
  const scale = img.width / width;
  let faces: Face[] = [];
  const detected = await app.faces()?.detectPhoto(file);
  if (detected) faces = detected.faces;
  let smiles: (number | undefined)[] = faces.map(() => undefined);
  const a = app.lifecycle.get<AnalysisComponent>('analysis');
  if (a && faces.length) {
    const scaled = faces.map((f) => ({
      ...f,
      box: f.box.map((v) => v * scale) as Face['box'],
      landmarks: f.landmarks.map(([x, y]) => [x * scale, y * scale] as [number, number]),
    }));
    const res = await a.analyzer.analyze(img, scaled, { expression: true, priority: 'photo' });
    smiles = res.map((r) => r.smile);
  }
  const grey = new Uint8Array(img.width * img.height);
  const d = img.data;
  for (let i = 0, p = 0; i < grey.length; i++, p += 3)
    grey[i] = (d[p] * 299 + d[p + 1] * 587 + d[p + 2] * 114 + 500) / 1000;
  return {
    grey: { data: grey, width: img.width, height: img.height },
    scale,
    faces: faces.map((f, i) => ({ box: f.box, ...(smiles[i] === undefined ? {} : { smile: smiles[i] }) })),
  };
}

export function peopleFactory(app: App, bus: EventBus): ComponentFactory {
  return {
    name: 'people',
    optional: true,
    create: (cfg) =>
      new PeopleComponent({
        config: cfg,
        bus,
        gallery: () => {
          const g = app.lifecycle.get<ReturnType<App['camera']>>('camera')?.gallery;
          if (!g) return undefined;
          return {
            ids: () => g.idsNewestFirst(),
            has: (id) => g.has(id),
            filePath: (id) => g.filePath(id),
          };
        },
        describer: { describe: (id, file) => describePhoto(app, id, file) },
        busy: () => {
          const cam = app.lifecycle.get<ReturnType<App['camera']>>('camera');
          const filters = app.lifecycle.get<FilterJobs>('filters')?.status();
          return (
            (cam?.captures.busy ?? false) ||
            (app.lifecycle.get<ModesComponent>('modes')?.active ?? false) ||
            (filters ? filters.running.length + filters.queued.length > 0 : false)
          );
        },
      }),
  };
}

/** Faces of a photo (its sidecar's, else detected now) and their descriptors, for People only. */
async function describePhoto(app: App, id: string, file: string): Promise<DescribedPhoto> {
  const a = app.lifecycle.get<AnalysisComponent>('analysis');
  if (!a) throw new UnavailableError('face analysis is not running', 'analysis-stopped');
  const problem = await a.analyzer.problem('descriptor');
  if (problem) throw new UnavailableError(`face descriptors unavailable: ${problem}`, 'model-unavailable');
  const meta = app.camera().gallery.get(id).meta;
  const recorded = (meta.faces as { items?: Face[] } | undefined)?.items;
  let faces = Array.isArray(recorded) ? recorded : undefined;
  if (!faces) {
    const detected = await app.faces()?.detectPhoto(file);
    if (!detected) throw new UnavailableError('face detection is not running', 'faces-unavailable');
    faces = detected.faces;
  }
  const res = await a.photoDescriptors(file, faces, 'background');
  return {
    width: res.width,
    height: res.height,
    faces: res.faces.map((f) => ({
      box: f.face.box,
      ...(f.descriptor ? { descriptor: f.descriptor } : {}),
      ...(f.skipped?.descriptor ? { skipped: f.skipped.descriptor } : {}),
    })),
  };
}

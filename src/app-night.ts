import { promises as fs } from 'node:fs';
import type { App } from './app.js';
import { burst } from './app-faces.js';
import type { NightShotDeps } from './capture/night-shot.js';
import { version } from './cli/version.js';
import { DENOISE_MODELS } from './filters/model-filters.js';
import { withExif } from './store/exif.js';
import { isExifSegment, jpegHeaderSegments } from './util/exif-tiff.js';

/**
 * The composition root's part for night mode (src/capture/night-shot.ts): the burst from the capture service, the
 * merge (src/night) as a filter job (JobSpec.night, run by the low-priority filter worker with its models and work
 * folder), the merged photo stored like a capture. Only wiring.
 */
export function nightDeps(app: App): Omit<NightShotDeps, 'config'> {
  const filterDeps = () => app.filters().pipelineDeps;
  return {
    burst: (req) => burst(app, req),
    enqueue: (task) => app.filters().enqueueTask('night', '', task),
    denoiseProblem: async () => filterDeps().models.problem(DENOISE_MODELS.normal),
    commit: async (merged, b, req) => {
      // the reference frame's EXIF (exposure, gain, the camera's make and model) describes the merged photo too
      const withRef = carryExif(await fs.readFile(b.files[0]), await fs.readFile(merged));
      await fs.writeFile(merged, withRef);
      const lag = b.lags?.[0] ?? { commandIssuedMs: 0, exposureDoneMs: 0, writtenMs: 0 };
      return app
        .camera()
        .captures.importFrame(
          merged,
          { source: req.source, meta: { night: req.night } },
          { strategy: 'signal', ...lag },
          b.trigger ?? performance.now(),
        );
    },
    addFrame: async (id, name, file) => {
      const gallery = app.camera().gallery;
      const jpeg = withExif(await fs.readFile(file), {
        dateTime: new Date(gallery.get(id).meta.capturedAt),
        make: 'Raspberry Pi',
        model: 'Pinhole camera',
        software: `Pinhole ${version()}`,
      });
      await gallery.writeVariant(id, name, jpeg, { nightFrame: Number(name.replace(/\D+/g, '')) });
    },
  };
}

/**
 * `to` (a JPEG without EXIF, as sharp writes it) with the Exif APP1 segment of `from` inserted after its JFIF
 * header; `to` unchanged when `from` has none.
 */
export function carryExif(from: Buffer, to: Buffer): Buffer {
  try {
    return insertExif(from, to);
  } catch {
    // an unreadable camera header: the photo without the camera's EXIF rather than no photo
    return to;
  }
}

function insertExif(from: Buffer, to: Buffer): Buffer {
  const seg = jpegHeaderSegments(from).segments.find((s) => isExifSegment(from, s));
  if (!seg) return to;
  const target = jpegHeaderSegments(to).segments;
  if (target.some((s) => isExifSegment(to, s))) return to;
  const at = target[0]?.marker === 0xe0 ? target[0].end : 2;
  return Buffer.concat([to.subarray(0, at), from.subarray(seg.start, seg.end), to.subarray(at)]);
}

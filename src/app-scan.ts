import { promises as fs } from 'node:fs';
import type { App } from './app.js';
import type { ScanShotDeps } from './capture/scan-shot.js';
import { toFractions, toPixels } from './scan/corners-input.js';

/**
 * The composition root's part for scan mode (src/capture/scan-shot.ts): the photo through the normal capture path,
 * the restoration as a filter job (JobSpec.scan, run by the low-priority filter worker with its models and work
 * folder), the result stored as the photo's `scan` variant. Only wiring.
 */
export function scanDeps(app: App): ScanShotDeps {
  return {
    capture: async (source, record) => {
      const r = await app.capture(source);
      // the sidecar says the photo was taken as a scan (the restoration is its `scan` variant)
      await app
        .camera()
        .gallery.update(r.id, { mode: { name: record.name } })
        .catch(() => {});
      return r;
    },
    photo: async (id) => {
      const gallery = app.camera().gallery;
      const p = gallery.get(id);
      return { path: gallery.filePath(id), width: p.meta.width, height: p.meta.height };
    },
    enqueue: (photoId, task) => app.filters().enqueueTask('scan', photoId, task),
    writeVariant: async (photoId, name, file, info) => {
      await app.camera().gallery.writeVariant(photoId, name, await fs.readFile(file), info);
    },
    toPixels,
    toFractions,
  };
}

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { dirResolver, FilterModels } from '../filters/models.js';
import { runPipeline } from '../filters/pipeline.js';
import { FilterRegistry } from '../filters/registry.js';
import type { FaceFinder } from '../filters/types.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The repo root whether this runs from src/ (vitest) or dist/src/ (npm run bench). */
async function sharedDir(): Promise<string> {
  for (const up of ['../../..', '../../../..']) {
    const d = path.resolve(here, up, 'shared');
    if (await fs.stat(path.join(d, 'models')).catch(() => undefined)) return d;
  }
  throw new Error('cannot find ../shared next to the repo');
}

/** A face finder with a fixed face in the middle: the bench measures the filters, not the detector. */
const centreFace = (w: number, h: number): FaceFinder => ({
  find: async () => [{ box: [w * 0.4, h * 0.3, w * 0.2, h * 0.3], score: 1, landmarks: [] }],
});

/**
 * ms per megapixel of every filter at 1 and 2 onnxruntime/libvips threads, and for the model filters the tiling
 * overhead: whole filter time / sum of onnxruntime run() times on the same photo (goal ≤ 1.25).
 */
export async function run(opts: { quick: boolean }): Promise<Record<string, unknown>> {
  const shared = await sharedDir();
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-bench-filters-'));
  const side = opts.quick ? 256 : 768;
  const input = path.join(work, 'in.png');
  await sharp(path.join(shared, 'images/two_people.jpg')).resize(side, side, { fit: 'cover' }).png().toFile(input);
  const mp = (side * side) / 1e6;
  const registry = new FilterRegistry();
  const results: Record<string, Record<string, unknown>> = {};
  try {
    for (const threads of [1, 2]) {
      sharp.concurrency(threads);
      const models = new FilterModels(
        dirResolver(path.join(shared, 'models')),
        { threads, optimization: 'all', memArena: false },
        0,
      );
      const deps = {
        registry,
        models,
        faces: centreFace(side, side),
        limits: { maxInputMegapixels: 50, maxOutputMegapixels: 48, tileSize: 256 },
        workDir: work,
      };
      for (const f of registry.list()) {
        const steps = registry.resolve(f.name, f.name === 'denoise' ? { strength: 'strong' } : {});
        const src = f.name === 'upscale' ? await smaller(input, work, side / 4) : input;
        const srcMp = f.name === 'upscale' ? mp / 16 : mp;
        await runPipeline(deps, steps, src, path.join(work, 'warm.jpg')); // load models, warm caches
        let runMs = 0;
        const t0 = performance.now();
        await runPipeline(deps, steps, src, path.join(work, 'out.jpg'), {
          onRunMs: (ms) => {
            runMs += ms;
          },
        });
        const total = performance.now() - t0;
        results[f.name] ??= { kind: f.kind };
        const r = results[f.name];
        r[`msPerMP_${threads}t`] = Math.round(total / srcMp);
        if (f.kind === 'model') r[`tilingOverhead_${threads}t`] = Number((total / runMs).toFixed(3));
      }
      await models.releaseAll();
    }
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
  return {
    imageSide: side,
    upscaleInputSide: side / 4,
    note: 'msPerMP of input megapixels; tilingOverhead = filter total / sum of ORT run() (includes decode+encode)',
    filters: results,
  };
}

async function smaller(input: string, dir: string, side: number): Promise<string> {
  const out = path.join(dir, `small-${side}.png`);
  await sharp(input).resize(side, side).png().toFile(out);
  return out;
}

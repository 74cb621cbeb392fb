import path from 'node:path';
import sharp from 'sharp';
import { filterDepsFromConfig } from '../../filters/setup.js';
import { nightOutputFormat, runNight } from '../../night/night.js';
import { ValidationError } from '../../util/errors.js';
import { configureLogging } from '../../util/logger.js';
import { resolveCliConfig } from '../config.js';
import { needsSmallHeap, reexecWithSmallHeap } from '../small-heap.js';
import type { CliCommand } from '../types.js';

export const command: CliCommand = {
  name: 'night',
  summary: 'Merge a burst of frames into one low-noise photo (night mode, in this process)',
  usage: 'OUT FRAME... [--tone] [--denoise] [--json] [--models DIR]',
  help: [
    'The first FRAME is the reference: every other frame is aligned to it tile by tile (sub-pixel, so a slight',
    'rotation lines up) and merged where it agrees with it, so what moved does not ghost. OUT has the size of the',
    'reference; its extension picks the format (.png, .jpg). Frames of another size or exposure are refused. When',
    'nothing lines up, OUT is the reference frame alone, and the command says so on stderr.',
    '--tone adds the adaptive tone curve of the lowlight filter; --denoise a light IRCNN pass (needs the models).',
    'With --json, stdout is {"out", "frames", "shifts": [[dx, dy, angleDeg] per frame], "rejectedTiles", "ms"}:',
    "shifts are where the frame's content sits relative to the reference at the image centre, in pixels, and its",
    'rotation in degrees (positive = clockwise as displayed); rejectedTiles counts (frame, 32×32 tile) pairs left',
    'out of the merge.',
  ].join('\n'),
  options: {
    tone: { type: 'boolean' },
    denoise: { type: 'boolean' },
    json: { type: 'boolean' },
    models: { type: 'string' },
  },
  allowPositionals: true,
  async run({ values, positionals }, ctx) {
    if (positionals.length < 2)
      throw new ValidationError(
        `expected OUT FRAME..., got ${positionals.length} argument(s); see pinhole night --help`,
        undefined,
        'usage',
      );
    const [out, ...frames] = positionals;
    nightOutputFormat(out);
    if (needsSmallHeap()) return reexecWithSmallHeap();
    // stdout carries only the JSON (or the summary line): every log line goes to stderr
    configureLogging({ sink: (line) => process.stderr.write(`${line}\n`) });
    sharp.cache(false);
    const { config } = await resolveCliConfig(ctx);
    const modelsDir = typeof values.models === 'string' ? path.resolve(values.models) : undefined;
    // Decoded frames go beside the output: same disk, and never a RAM-backed /tmp on the Pi.
    const workDir = path.dirname(path.resolve(out));
    const deps = filterDepsFromConfig(config, { modelsDir, workDir });
    try {
      const r = await runNight({
        frames: frames.map((f) => path.resolve(f)),
        out: path.resolve(out),
        tone: Boolean(values.tone),
        denoise: Boolean(values.denoise),
        workDir,
        models: deps.models,
        tileSize: config.filters.tileSize,
        maxInputMegapixels: config.filters.maxInputMegapixels,
      });
      if (r.fellBack || r.reason) ctx.err(`pinhole night: ${r.reason}`);
      if (values.json)
        ctx.out(JSON.stringify({ out, frames: r.frames, shifts: r.shifts, rejectedTiles: r.rejectedTiles, ms: r.ms }));
      else
        ctx.out(
          `wrote ${out} (${r.width}x${r.height}) from ${r.frames} frames in ${r.ms} ms; ${r.rejectedTiles} of ${r.tilesPerFrame * (r.frames - 1)} tiles rejected${r.fellBack ? ' (fell back to the reference frame)' : ''}`,
        );
    } finally {
      await deps.models.releaseAll();
    }
    return 0;
  },
};

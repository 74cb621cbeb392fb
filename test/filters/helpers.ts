import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { dirResolver, FilterModels } from '../../src/filters/models.js';
import type { PipelineDeps } from '../../src/filters/pipeline.js';
import { FilterRegistry } from '../../src/filters/registry.js';
import type { FaceFinder } from '../../src/filters/types.js';
import { mulberry32 } from '../../src/util/prng.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const shared = path.resolve(repoRoot, '../shared');
export const modelsDir = path.join(shared, 'models');
export const astronaut = path.join(shared, 'images/astronaut.png');
export const twoPeople = path.join(shared, 'images/two_people.jpg');

export const sessionOpts = { threads: 2, optimization: 'all' as const, memArena: false };

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pinhole-filters-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function makeDeps(
  workDir: string,
  opts: Partial<PipelineDeps> & { modelsDir?: string } = {},
): PipelineDeps & { models: FilterModels } {
  return {
    registry: opts.registry ?? new FilterRegistry(),
    models:
      (opts.models as FilterModels | undefined) ??
      new FilterModels(dirResolver(opts.modelsDir ?? modelsDir), sessionOpts, 0),
    faces: opts.faces,
    limits: opts.limits ?? { maxInputMegapixels: 50, maxOutputMegapixels: 48, tileSize: 256 },
    workDir,
  };
}

export interface Raw {
  data: Buffer;
  width: number;
  height: number;
}

export async function readRaw(file: string): Promise<Raw> {
  const { data, info } = await sharp(file)
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

export async function crop(file: string, left: number, top: number, width: number, height: number): Promise<Raw> {
  const { data, info } = await sharp(file)
    .removeAlpha()
    .extract({ left, top, width, height })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

export async function writeRaw(r: Raw, file: string): Promise<void> {
  await sharp(r.data, { raw: { width: r.width, height: r.height, channels: 3 } })
    .png()
    .toFile(file);
}

export function psnr(a: Raw, b: Raw): number {
  if (a.data.length !== b.data.length)
    throw new Error(`size mismatch ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  let se = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = a.data[i] - b.data[i];
    se += d * d;
  }
  const mse = se / a.data.length;
  return mse === 0 ? 99 : 10 * Math.log10((255 * 255) / mse);
}

/** Gaussian noise of std `sigma` (0..255 scale) from a fixed seed. */
export function addNoise(r: Raw, sigma: number, seed: number): Raw {
  const rnd = mulberry32(seed);
  const out = Buffer.allocUnsafe(r.data.length);
  for (let i = 0; i < r.data.length; i++) {
    const g = Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
    out[i] = Math.max(0, Math.min(255, Math.round(r.data[i] + sigma * g)));
  }
  return { ...r, data: out };
}

export function mapPixels(r: Raw, fn: (v: number) => number): Raw {
  const out = Buffer.allocUnsafe(r.data.length);
  for (let i = 0; i < r.data.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(fn(r.data[i] / 255) * 255)));
  return { ...r, data: out };
}

export function mean(r: Raw): number {
  let s = 0;
  for (let i = 0; i < r.data.length; i++) s += r.data[i];
  return s / r.data.length;
}

/** Mean squared gradient of luma: higher = more fine detail. */
export function gradientEnergy(r: Raw): number {
  const { width: w, height: h, data } = r;
  const l = (x: number, y: number) => {
    const i = (y * w + x) * 3;
    return 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
  };
  let s = 0;
  for (let y = 0; y < h - 1; y++) {
    for (let x = 0; x < w - 1; x++) {
      const gx = l(x + 1, y) - l(x, y);
      const gy = l(x, y + 1) - l(x, y);
      s += gx * gx + gy * gy;
    }
  }
  return s / ((w - 1) * (h - 1));
}

/** A FaceFinder that returns fixed faces and counts calls. */
export class FakeFaceFinder implements FaceFinder {
  calls = 0;
  constructor(private readonly faces: { box: [number, number, number, number] }[]) {}
  async find(): Promise<{ box: [number, number, number, number]; score: number; landmarks: [number, number][] }[]> {
    this.calls++;
    return this.faces.map((f) => ({ box: f.box, score: 0.9, landmarks: [] }));
  }
}

/**
 * Runs `pinhole filter NAME INPUT OUTPUT --models …` under /usr/bin/time -v, which reports the largest max RSS of
 * the process tree, and returns it in MB with the exit status and stderr.
 */
export function filterPeakRss(
  name: string,
  input: string,
  output: string,
): { status: number | null; mb: number; stderr: string } {
  const r = spawnSync(
    '/usr/bin/time',
    [
      '-v',
      process.execPath,
      path.join(repoRoot, 'dist/src/cli/main.js'),
      'filter',
      name,
      input,
      output,
      '--models',
      modelsDir,
    ],
    { encoding: 'utf8', env: { ...process.env, PINHOLE_LOG_LEVEL: 'warn' } },
  );
  const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1]);
  return { status: r.status, mb: kb / 1024, stderr: r.stderr };
}

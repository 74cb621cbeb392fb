import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { appRoot } from '../config/locate.js';
import { NotFoundError, ValidationError } from '../util/errors.js';

export type ModelKind =
  | 'face-detection'
  | 'denoise'
  | 'upscale'
  | 'expression'
  | 'face-descriptor'
  | 'person-mask'
  | 'pose';

export interface ModelEntry {
  name: string;
  aliases?: string[];
  file: string;
  kind: ModelKind;
  description: string;
  /** Upstream download address (https). Absent for the project's own bundled files. */
  url?: string;
  /**
   * Path of a copy shipped with Pinhole, relative to the manifest's folder (`seed/x.onnx`): conversions with no
   * upstream ONNX address. Used in place when models.dir has no copy of its own.
   */
  bundled?: string;
  sha256: string;
  size: number;
  license: string;
  attribution: string;
  /** Face detectors: a fixed input size, or dynamic with sides that are multiples of `multipleOf`. */
  input?: { width: number; height: number } | { multipleOf: number };
  /** Restoration models: output scale factor. */
  scale?: number;
}

export interface Manifest {
  version: number;
  models: ModelEntry[];
}

export function manifestPath(): string {
  return path.join(appRoot(), 'models', 'manifest.json');
}

let cached: Manifest | undefined;

/** The manifest shipped with the code (models/manifest.json), validated once and cached. */
export async function loadManifest(file = manifestPath()): Promise<Manifest> {
  if (file === manifestPath() && cached) return cached;
  const raw = JSON.parse(await fs.readFile(file, 'utf8')) as Manifest;
  validateManifest(raw, file);
  if (file === manifestPath()) cached = raw;
  return raw;
}

function validateManifest(m: Manifest, file: string): void {
  const bad = (why: string) => {
    throw new ValidationError(`${file}: ${why}`);
  };
  if (!m || !Array.isArray(m.models)) bad('no "models" array');
  const seen = new Set<string>();
  for (const e of m.models) {
    for (const key of ['name', 'file', 'kind', 'sha256', 'license'] as const) {
      if (typeof e[key] !== 'string' || e[key].length === 0) bad(`model ${e.name ?? '?'}: "${key}" missing`);
    }
    if (typeof e.url !== 'string' && typeof e.bundled !== 'string') bad(`model ${e.name}: needs "url" or "bundled"`);
    if (
      e.bundled !== undefined &&
      (typeof e.bundled !== 'string' || path.isAbsolute(e.bundled) || e.bundled.split(/[\\/]/).includes('..'))
    )
      bad(`model ${e.name}: "bundled" must be a relative path inside the models folder`);
    if (!/^[0-9a-f]{64}$/.test(e.sha256)) bad(`model ${e.name}: sha256 is not 64 hex digits`);
    if (!Number.isInteger(e.size) || e.size <= 0) bad(`model ${e.name}: bad size`);
    if (path.basename(e.file) !== e.file) bad(`model ${e.name}: file must be a plain file name`);
    for (const n of [e.name, ...(e.aliases ?? [])]) {
      if (seen.has(n)) bad(`duplicate model name ${n}`);
      seen.add(n);
    }
  }
}

/** Where the copy of a bundled model ships (models/<bundled> beside the manifest), or undefined. */
export function bundledPath(entry: ModelEntry): string | undefined {
  return entry.bundled ? path.join(path.dirname(manifestPath()), entry.bundled) : undefined;
}

export function findModel(manifest: Manifest, name: string): ModelEntry | undefined {
  return manifest.models.find((m) => m.name === name || m.aliases?.includes(name) || m.file === name);
}

export interface ResolvedModel {
  /** Absolute path of the ONNX file. */
  path: string;
  /** The manifest entry when the model is a manifest model (by name, alias or file name). */
  entry?: ModelEntry;
}

/**
 * A model given as a manifest name (`yunet_s_dynamic`) lives in `modelsDir`; anything that looks like a path (has a
 * slash or ends in .onnx) is used as given, so `--model ./my.onnx` works for models outside the manifest.
 */
export async function resolveModel(nameOrPath: string, modelsDir: string, manifest?: Manifest): Promise<ResolvedModel> {
  const m = manifest ?? (await loadManifest());
  const looksLikePath = nameOrPath.includes('/') || nameOrPath.includes(path.sep) || nameOrPath.endsWith('.onnx');
  if (!looksLikePath) {
    const entry = findModel(m, nameOrPath);
    if (!entry) {
      throw new NotFoundError(
        `unknown model "${nameOrPath}" (known: ${m.models.map((x) => x.name).join(', ')})`,
        'unknown-model',
      );
    }
    return { path: path.resolve(modelsDir, entry.file), entry };
  }
  const abs = path.resolve(nameOrPath);
  return { path: abs, entry: m.models.find((x) => x.file === path.basename(abs)) };
}

/** Read size for hashing: one buffer for the whole file, above glibc's mmap threshold so it goes back at once. */
const HASH_CHUNK = 1 << 20;

/**
 * The file's sha256, read through one reused buffer. A read stream hands out a fresh 64 KB Buffer per chunk: the
 * daemon checks 31 MB of analysis models at start, and those chunks, below the unit's mmap threshold, filled glibc's
 * heap until a collection came (+21 MB RSS measured, against +4 MB this way), and the heap kept the pages.
 */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafeSlow(HASH_CHUNK);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

export type ModelState = 'verified' | 'present' | 'missing' | 'corrupt';

export interface ModelStatus {
  name: string;
  file: string;
  path: string;
  state: ModelState;
  /** Why the model is missing or corrupt, in words for `pinhole status` / doctor. */
  reason?: string;
  /** `bundled`: the copy shipped with Pinhole is used (models.dir has none of its own). */
  source?: 'installed' | 'bundled';
}

/**
 * Status of one model in `dir`. `verify` hashes the file (a 240 kB YuNet hashes in about a millisecond; the 2.4 MB
 * upscaler in a few); without it only presence and size are checked.
 */
export async function modelStatus(
  entry: ModelEntry,
  dir: string,
  opts: { verify?: boolean } = {},
): Promise<ModelStatus> {
  const installed = await fileStatus(entry, path.join(dir, entry.file), opts);
  const bundled = bundledPath(entry);
  // A copy in models.dir is authoritative (a corrupt one is reported, not silently replaced); without one, a
  // bundled model is used from where the app ships it.
  if (installed.state !== 'missing' || !bundled) {
    if (installed.state === 'missing' && installed.reason?.endsWith(' not found'))
      installed.reason = `not installed in ${dir} (run: pinhole models install)`;
    return { ...installed, ...(bundled ? { source: 'installed' as const } : {}) };
  }
  const own = await fileStatus(entry, bundled, opts);
  if (own.state === 'missing')
    own.reason = `not in ${dir}, and the copy bundled with Pinhole (${bundled}) is missing (reinstall Pinhole)`;
  else if (own.state === 'corrupt') own.reason = `bundled copy: ${own.reason} (reinstall Pinhole)`;
  return { ...own, source: 'bundled' };
}

async function fileStatus(entry: ModelEntry, file: string, opts: { verify?: boolean }): Promise<ModelStatus> {
  const base = { name: entry.name, file: entry.file, path: file };
  let st: import('node:fs').Stats;
  try {
    st = await fs.stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      ...base,
      state: 'missing',
      reason: code === 'ENOENT' ? `${file} not found` : `cannot read ${file}: ${code}`,
    };
  }
  if (!st.isFile()) return { ...base, state: 'corrupt', reason: `${file} is not a regular file` };
  if (st.size !== entry.size) {
    return {
      ...base,
      state: 'corrupt',
      reason: `${file} has ${st.size} bytes, expected ${entry.size} (reinstall: pinhole models install)`,
    };
  }
  if (!opts.verify) return { ...base, state: 'present' };
  const sum = await sha256File(file);
  if (sum !== entry.sha256) {
    return {
      ...base,
      state: 'corrupt',
      reason: `${file} sha256 ${sum.slice(0, 12)}… does not match the manifest ${entry.sha256.slice(0, 12)}… (reinstall: pinhole models install)`,
    };
  }
  return { ...base, state: 'verified' };
}

export async function allModelStatus(
  dir: string,
  opts: { verify?: boolean } = {},
  manifest?: Manifest,
): Promise<ModelStatus[]> {
  const m = manifest ?? (await loadManifest());
  return Promise.all(m.models.map((e) => modelStatus(e, dir, opts)));
}

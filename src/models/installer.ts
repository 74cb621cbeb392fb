import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { commitFile, tempPathFor } from '../util/atomic-write.js';
import { errorMessage } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { bundledPath, type Manifest, type ModelEntry, modelStatus, sha256File } from './manifest.js';

const log = createLogger('models.install');

/**
 * `bundled`: a model Pinhole ships itself (no upstream ONNX address) that models.dir does not hold: it is used from
 * where the app ships it, so nothing needs copying and it counts as a success.
 */
export type InstallAction = 'installed' | 'unchanged' | 'bundled' | 'failed';

export interface InstallResult {
  name: string;
  file: string;
  action: InstallAction;
  source?: string;
  error?: string;
}

/** Opens the bytes of a model from upstream; injectable so tests need no network. */
export type Downloader = (url: string) => Promise<Readable>;

export interface InstallOptions {
  dir: string;
  manifest: Manifest;
  /** Copy from this folder, where files are recognised by sha256 whatever their names. Absent: download. */
  from?: string;
  /** Only these manifest names (default: all). */
  names?: string[];
  download?: Downloader;
  onResult?: (r: InstallResult) => void;
}

export async function installModels(opts: InstallOptions): Promise<InstallResult[]> {
  const entries = opts.names?.length
    ? opts.manifest.models.filter((m) => opts.names?.includes(m.name))
    : opts.manifest.models;
  await fs.mkdir(opts.dir, { recursive: true });
  const index = opts.from ? await indexBySha(opts.from, new Set(entries.map((e) => e.size))) : undefined;
  const results: InstallResult[] = [];
  for (const entry of entries) {
    const r = await installOne(entry, opts, index);
    results.push(r);
    opts.onResult?.(r);
  }
  return results;
}

async function installOne(
  entry: ModelEntry,
  opts: InstallOptions,
  index?: Map<string, string>,
): Promise<InstallResult> {
  const base = { name: entry.name, file: entry.file };
  const target = path.join(opts.dir, entry.file);
  const status = await modelStatus(entry, opts.dir, { verify: true });
  if (status.state === 'verified') {
    if (status.source !== 'bundled') return { ...base, action: 'unchanged' };
    // a bundled model works from where it ships; a copy is installed only when --from DIR holds one
    if (!index?.has(entry.sha256)) return { ...base, action: 'bundled', source: status.path };
  }
  try {
    let source: string;
    let stream: Readable;
    const found = index?.get(entry.sha256) ?? (await verifiedBundle(entry));
    if (found) {
      // from DIR, or — for a bundled model whose copy in models.dir is damaged — from the copy Pinhole ships
      source = found;
      stream = createReadStream(found);
    } else if (index) {
      throw new Error(`no file with sha256 ${entry.sha256.slice(0, 12)}… in ${opts.from}`);
    } else if (entry.url) {
      source = entry.url;
      stream = await (opts.download ?? httpsDownload)(entry.url);
    } else {
      // bundled, and the shipped copy is missing or corrupt: there is nowhere to download it from
      throw new Error(status.reason ?? `${entry.name} is bundled with Pinhole and its copy is unusable`);
    }
    await writeVerified(target, stream, entry);
    log.debug('installed', { model: entry.name, source });
    return { ...base, action: 'installed', source };
  } catch (e) {
    log.debug('install failed', { model: entry.name, error: e });
    return { ...base, action: 'failed', error: errorMessage(e) };
  }
}

/** The shipped copy of a bundled model when it is intact. */
async function verifiedBundle(entry: ModelEntry): Promise<string | undefined> {
  const own = bundledPath(entry);
  if (!own) return undefined;
  const st = await fs.stat(own).catch(() => undefined);
  return st?.size === entry.size && (await sha256File(own)) === entry.sha256 ? own : undefined;
}

/**
 * Streams into a temp file beside the target while hashing, and renames it into place only when size and sha256
 * match: a bad download or a power cut never leaves a half-written or wrong model under the real name.
 */
async function writeVerified(target: string, source: Readable, entry: ModelEntry): Promise<void> {
  const tmp = tempPathFor(target);
  const hash = createHash('sha256');
  let bytes = 0;
  const fh = await fs.open(tmp, 'wx', 0o644);
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > entry.size) throw new Error(`more than the expected ${entry.size} bytes`);
      hash.update(chunk);
      await fh.write(chunk);
    }
    const sum = hash.digest('hex');
    if (bytes !== entry.size) throw new Error(`got ${bytes} bytes, expected ${entry.size}`);
    if (sum !== entry.sha256) throw new Error(`sha256 mismatch: got ${sum}, expected ${entry.sha256}`);
    await fh.close();
  } catch (e) {
    source.destroy();
    await fh.close().catch(() => {});
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await commitFile(tmp, target);
}

/** Hashes the regular files in `dir` whose size matches a wanted model (others cannot match, so are skipped). */
async function indexBySha(dir: string, sizes: Set<number>): Promise<Map<string, string>> {
  const index = new Map<string, string>();
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    throw new Error(`cannot read ${dir}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`);
  }
  for (const name of names.sort()) {
    const file = path.join(dir, name);
    const st = await fs.stat(file).catch(() => undefined);
    if (!st?.isFile() || !sizes.has(st.size)) continue;
    index.set(await sha256File(file), file);
  }
  return index;
}

const MAX_REDIRECTS = 5;

/** GET over https only, following up to 5 redirects (GitHub raw and release URLs redirect to a CDN). */
export function httpsDownload(url: string, redirects = 0): Promise<Readable> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new Error(`bad URL ${url}`));
      return;
    }
    if (u.protocol !== 'https:') {
      reject(new Error(`refusing non-https URL ${url}`));
      return;
    }
    const req = https.get(u, { headers: { 'user-agent': 'pinhole-models' }, timeout: 30_000 }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects >= MAX_REDIRECTS) {
          reject(new Error(`too many redirects for ${url}`));
          return;
        }
        httpsDownload(new URL(res.headers.location, u).toString(), redirects + 1).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        reject(new Error(`HTTP ${status} from ${u.host}`));
        return;
      }
      resolve(res);
    });
    req.on('timeout', () => req.destroy(new Error(`timed out downloading ${url}`)));
    req.on('error', reject);
  });
}

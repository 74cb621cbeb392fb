import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';

/**
 * Power-cut-safe writes for an SD card: write a temp file in the same directory, fsync it, rename it over the
 * target, fsync the directory. A reader sees the old file or the new one, never a mix. Temp files carry the
 * TEMP_MARK so startup cleanup can recognise and delete leftovers of a crash.
 */
export const TEMP_MARK = '.pinhole-tmp-';

export function tempPathFor(target: string): string {
  return path.join(
    path.dirname(target),
    `${TEMP_MARK}${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}`,
  );
}

export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_MARK);
}

export async function fsyncDir(dir: string): Promise<void> {
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    await fh.sync();
  } catch (e) {
    // Some filesystems (tmpfs on old kernels, network mounts) refuse fsync on directories; the rename is still atomic.
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL' && (e as NodeJS.ErrnoException).code !== 'EISDIR') throw e;
  } finally {
    await fh?.close();
  }
}

export interface AtomicWriteOptions {
  mode?: number;
  /** Refuse to replace an existing file (for `config init`). */
  exclusive?: boolean;
}

export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  await viaTemp(target, opts, (fh) => fh.writeFile(data));
}

/** Streams into a temp file and commits it atomically; on error the temp file is removed. */
export async function writeStreamAtomic(
  target: string,
  source: Readable | AsyncIterable<Uint8Array>,
  opts: AtomicWriteOptions = {},
): Promise<number> {
  let bytes = 0;
  await viaTemp(target, opts, async (fh) => {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      await fh.write(chunk);
      bytes += chunk.length;
    }
  });
  return bytes;
}

/** Writes through `fill` into a fresh temp file, fsyncs it and commits it; any failure removes the temp file. */
async function viaTemp(
  target: string,
  opts: AtomicWriteOptions,
  fill: (fh: fs.FileHandle) => Promise<unknown>,
): Promise<void> {
  const tmp = tempPathFor(target);
  const fh = await fs.open(tmp, 'wx', opts.mode ?? 0o644);
  try {
    await fill(fh);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await commitTemp(tmp, target, opts.exclusive);
}

/** Moves an already-written file (e.g. rpicam-still output in the same directory) into place durably. */
export async function commitFile(src: string, target: string): Promise<void> {
  const fh = await fs.open(src, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await commitTemp(src, target, false);
}

async function commitTemp(tmp: string, target: string, exclusive?: boolean): Promise<void> {
  try {
    if (exclusive) {
      // link() fails with EEXIST instead of replacing: no window where an existing file could be clobbered.
      await fs.link(tmp, target);
      await fs.unlink(tmp);
    } else {
      await fs.rename(tmp, target);
    }
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(path.dirname(target));
}

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Where the camera apps write: a folder on the data disk, reached through a path that is short and free of `%`.
 * rpicam-still formats -o with snprintf into a 128-byte buffer (apps/rpicam_still.cpp generate_filename) and
 * rpicam-vid into 256 bytes (output/file_output.cpp): a longer path is cut silently and every `%` is a printf
 * directive. A data folder anywhere (`/media/usb/My 100% photos/…`) must not reach that format string, so when the
 * real folder's path is not safe, the apps get a symlink in a private temporary folder instead.
 */
export interface CameraOutputDir {
  /** The folder on the data disk. */
  readonly real: string;
  /** What the camera apps are given: `real` itself, or the link to it. */
  readonly short: string;
  readonly viaLink: boolean;
  shortPath(name: string): string;
  realPath(name: string): string;
  /** Deletes files left in the folder whose names match (a killed app's half-written capture). */
  clean(names: RegExp): Promise<void>;
  close(): Promise<void>;
}

/** Longest folder we hand to the apps: leaves room for a name like `a0000.jpg` in 127 bytes with margin. */
export const MAX_SHORT_DIR = 64;

export function safeForFormat(p: string): boolean {
  return !p.includes('%') && Buffer.byteLength(p) <= MAX_SHORT_DIR;
}

export async function openOutputDir(
  real: string,
  tmpBases: readonly string[] = [os.tmpdir(), '/tmp'],
): Promise<CameraOutputDir> {
  await fs.mkdir(real, { recursive: true });
  let short = real;
  let linkDir: string | undefined;
  if (!safeForFormat(real)) {
    for (const base of tmpBases) {
      if (!safeForFormat(path.join(base, 'pinhole-XXXXXX', 'o'))) continue;
      try {
        // mkdtemp: a fresh folder only we can write (0700), so nobody can swap the link.
        linkDir = await fs.mkdtemp(path.join(base, 'pinhole-'));
        short = path.join(linkDir, 'o');
        await fs.symlink(real, short);
        break;
      } catch {
        linkDir = undefined;
        short = real;
      }
    }
    if (!linkDir)
      throw new Error(
        `the camera output folder ${real} is not usable by rpicam-apps (a % or more than ${MAX_SHORT_DIR} bytes) and no temporary folder for a short link`,
      );
  }
  return {
    real,
    short,
    viaLink: linkDir !== undefined,
    shortPath: (name) => path.join(short, name),
    realPath: (name) => path.join(real, name),
    async clean(names) {
      for (const n of await fs.readdir(real).catch(() => [] as string[]))
        if (names.test(n)) await fs.rm(path.join(real, n), { force: true });
    },
    async close() {
      if (linkDir) await fs.rm(linkDir, { recursive: true, force: true });
    },
  };
}

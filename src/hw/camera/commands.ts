import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CameraCommands {
  vid: string;
  still: string;
}

/** The repo (or installed package) root: the folder holding package.json and scripts/sim-bin. */
export function packageRoot(from = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'scripts', 'sim-bin'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the Pinhole package root above ${from}`);
    dir = up;
  }
}

/** `rpicam`: the apps from PATH. `sim`: the fakes the project ships (they need `npm run build`). */
export function cameraCommands(backend: 'rpicam' | 'sim'): CameraCommands {
  if (backend === 'rpicam') return { vid: 'rpicam-vid', still: 'rpicam-still' };
  const bin = path.join(packageRoot(), 'scripts', 'sim-bin');
  return { vid: path.join(bin, 'rpicam-vid'), still: path.join(bin, 'rpicam-still') };
}

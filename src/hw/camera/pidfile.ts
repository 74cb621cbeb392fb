import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { createLogger } from '../../util/logger.js';
import { killGroup } from './process.js';

const log = createLogger('camera.pidfile');

/**
 * Records the pid of the process that owns the camera, so that a daemon started after a SIGKILL (or a power
 * glitch of the daemon alone) finds a camera process its predecessor left running and stops it: otherwise the
 * new daemon would only ever see "camera busy".
 */
export class CameraPidFile {
  /** Writes and clears run in call order: a slow write must not resurrect a pid file cleared after it. */
  private chain: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  write(pid: number): Promise<void> {
    return this.enqueue(async () => {
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      await writeFileAtomic(this.file, `${pid}\n`);
    });
  }

  clear(): Promise<void> {
    return this.enqueue(() => fs.rm(this.file, { force: true }));
  }

  /** Resolves when every queued write/clear is done. */
  settled(): Promise<void> {
    return this.chain;
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    const r = this.chain.then(op, op);
    this.chain = r.catch(() => undefined);
    return r;
  }

  /** Stops a leftover camera process named in the pid file. Returns its pid if one was found and stopped. */
  async reapLeftover(graceMs = 2000): Promise<number | undefined> {
    let pid: number;
    try {
      pid = Number((await fs.readFile(this.file, 'utf8')).trim());
    } catch {
      return undefined;
    }
    await this.clear();
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return undefined;
    // Only kill what is really a camera app: the pid may have been reused by something else since.
    let cmdline: string;
    try {
      cmdline = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ');
    } catch {
      return undefined;
    }
    if (!/rpicam|libcamera/.test(cmdline)) return undefined;
    log.warn('stopping a camera process left by a previous daemon', { pid, cmdline: cmdline.slice(0, 200) });
    killGroup(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      if (!isAlive(pid)) return pid;
      await new Promise((r) => setTimeout(r, 50));
    }
    killGroup(pid, 'SIGKILL');
    while (isAlive(pid) && Date.now() < deadline + graceMs) await new Promise((r) => setTimeout(r, 50));
    return pid;
  }
}

/** True for a running process; a zombie (exited, not yet reaped) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (not yet reaped by its own parent) no longer holds the camera.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

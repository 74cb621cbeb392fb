import { accessSync, constants, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * CPU priority classes of the daemon's work, highest first: the shutter and the preview run at the daemon's own
 * priority; live analysis, filter jobs and background work (sync, people) run below it, so the kernel's scheduler,
 * not our code, keeps them out of the way whenever the CPU is contended, and gives them every idle cycle otherwise.
 *
 * - `normal`: nice 0, like the daemon.
 * - `analysis`: nice 5 (CFS weight 335 against 1024: about a quarter of a contended core).
 * - `jobs`: nice 19 (weight 15: about 1.5 % of a contended core).
 * - `idle`: SCHED_IDLE (weight 3: runs only when nothing else wants the CPU).
 * Lowering a priority needs no privilege; raising it back would, and is never done.
 */
export type PriorityClass = 'normal' | 'analysis' | 'jobs' | 'idle';

export const NICE: Record<Exclude<PriorityClass, 'idle'>, number> = { normal: 0, analysis: 5, jobs: 19 };

/** A class, or a nice value 0–19 the owner chose (`filters.nice`). */
export type Priority = PriorityClass | number;

/** The nice value a priority runs at (SCHED_IDLE's fallback is nice 19). */
export function niceLevel(priority: Priority): number {
  if (typeof priority === 'number') return Math.min(19, Math.max(0, Math.round(priority)));
  return priority === 'idle' ? NICE.jobs : NICE[priority];
}

/** The class a nice value names, or the value itself: what status shows for a configured nice value. */
export function priorityOfNice(nice: number): Priority {
  const cls = (Object.keys(NICE) as (keyof typeof NICE)[]).find((k) => NICE[k] === nice);
  return cls ?? nice;
}

/** Where an executable is on PATH, or undefined. */
export function which(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '/usr/bin:/bin').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

export interface PrioritizedCommand {
  command: string;
  args: string[];
  /** How the priority is applied: through a wrapper, or (no wrapper found) to the child's pid after spawn. */
  via: 'nice' | 'chrt' | 'none' | 'setpriority';
}

/**
 * The command line that starts `command` at `priority`. The priority is set by `nice(1)` or `chrt(1)` before the
 * program runs, so every thread it ever starts (onnxruntime's and libvips' pools included) inherits it; Linux keeps
 * nice values per thread, which is why setting it on a pid after start would miss threads already running. Without
 * the tools (not the case on Raspberry Pi OS: coreutils and util-linux), the caller falls back to `setpriority`.
 */
export function prioritized(
  command: string,
  args: readonly string[],
  priority: Priority,
  env: NodeJS.ProcessEnv = process.env,
): PrioritizedCommand {
  if (priority !== 'idle' && niceLevel(priority) === 0) return { command, args: [...args], via: 'none' };
  if (priority === 'idle') {
    const chrt = which('chrt', env);
    if (chrt) return { command: chrt, args: ['--idle', '0', command, ...args], via: 'chrt' };
  }
  const nice = which('nice', env);
  const level = niceLevel(priority);
  if (nice) return { command: nice, args: ['-n', String(level), command, ...args], via: 'nice' };
  return { command, args: [...args], via: 'setpriority' };
}

/** The fallback of prioritized(): lowers a started process's main thread (and the threads it starts later). */
export function lowerAfterSpawn(pid: number | undefined, priority: Priority): void {
  if (!pid || niceLevel(priority) === 0) return;
  try {
    os.setPriority(pid, niceLevel(priority));
  } catch {
    /* the process is gone already */
  }
}

/**
 * Lowers the calling thread (Linux: the nice value is per thread, and `setpriority(PRIO_PROCESS, 0)` means the
 * calling thread). A worker thread calls this before it creates its onnxruntime session, whose thread pool then
 * inherits the value. Returns the nice value in effect, or undefined when it could not be set.
 */
export function lowerThisThread(priority: Exclude<Priority, 'idle'>): number | undefined {
  try {
    os.setPriority(0, niceLevel(priority));
    return os.getPriority(0);
  } catch {
    return undefined;
  }
}

/** The scheduling policy (0 normal, 5 SCHED_IDLE) and nice value of a thread, from /proc (Linux). */
export function schedOf(pid: number, tid = pid): { nice: number; policy: number } | undefined {
  try {
    // fields after the command's closing parenthesis start at field 3 (state); nice is field 19, policy 41
    const text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { nice: Number(rest[19 - 3]), policy: Number(rest[41 - 3]) };
  } catch {
    return undefined;
  }
}

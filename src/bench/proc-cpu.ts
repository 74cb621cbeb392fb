import { readdirSync, readFileSync } from 'node:fs';

/** Linux reports process times in USER_HZ ticks, 100 a second on every architecture Node supports. */
export const TICK_MS = 10;

interface Stat {
  pid: number;
  ppid: number;
  /** utime + stime, ms. */
  self: number;
  /** cutime + cstime (children already reaped), ms. */
  reaped: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command's closing parenthesis start at field 3 (state)
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const n = (field: number) => Number(f[field - 3]);
    return { pid, ppid: n(4), self: (n(14) + n(15)) * TICK_MS, reaped: (n(16) + n(17)) * TICK_MS };
  } catch {
    return undefined;
  }
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** Every live descendant of `root` (children, grandchildren, …). */
export function descendants(root: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (!s) continue;
    const list = byParent.get(s.ppid) ?? [];
    list.push(s.pid);
    byParent.set(s.ppid, list);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of byParent.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

/** CPU time (ms) of one process, reaped children included. */
export function processCpuMs(pid: number): number | undefined {
  const s = readStat(pid);
  return s ? s.self + s.reaped : undefined;
}

export interface TreeSample {
  at: number;
  /** The root and every descendant that is not `split` off, ms (cumulative). */
  tree: number;
  /** Descendants matched by `split` (the camera), ms (cumulative). */
  split: number;
}

/**
 * Cumulative CPU of a process tree, with some descendants (the camera) counted apart. Children that exit are
 * counted in their parent's reaped time; a window should not span a process's exit for exact figures.
 */
export function sampleTree(root: number, split: (pid: number) => boolean): TreeSample {
  const r = readStat(root);
  let tree = r ? r.self + r.reaped : 0;
  let other = 0;
  for (const pid of descendants(root)) {
    const s = readStat(pid);
    if (!s) continue;
    if (split(pid)) other += s.self + s.reaped;
    else tree += s.self + s.reaped;
  }
  return { at: performance.now(), tree, split: other };
}

/** CPU per second of wall time (ms/s) between two samples. */
export function perSecond(a: TreeSample, b: TreeSample): { tree: number; split: number } {
  const s = (b.at - a.at) / 1000;
  return { tree: (b.tree - a.tree) / s, split: (b.split - a.split) / s };
}

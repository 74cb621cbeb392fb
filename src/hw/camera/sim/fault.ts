/** PINHOLE_FAKE_CAMERA_FAULT values understood by the fake rpicam apps (and `pinhole sim fault`). */
export type Fault =
  | { kind: 'none' }
  | { kind: 'busy' }
  | { kind: 'busy-n'; n: number }
  | { kind: 'absent' }
  | { kind: 'crash-after'; n: number }
  | { kind: 'hang-after'; n: number }
  | { kind: 'garbage' }
  | { kind: 'slow-start'; n: number }
  /** Camera memory (CMA) of n MB: a configuration needing more fails to allocate its buffers, like on a Zero 2 W. */
  | { kind: 'cma'; n: number }
  /** The output disk is full: every file write fails part-way (fwrite short count, ENOSPC). */
  | { kind: 'disk-full' }
  | { kind: 'invalid'; message: string };

export const FAULT_SYNTAX =
  'busy | busy:N | absent | crash-after:N | hang-after:N | garbage | slow-start:MS | cma:MB | disk-full | none';

export function parseFault(raw: string | undefined): Fault {
  const v = (raw ?? '').trim();
  if (v === '' || v === 'none') return { kind: 'none' };
  if (v === 'busy' || v === 'absent' || v === 'garbage' || v === 'disk-full') return { kind: v };
  const m = /^(busy|crash-after|hang-after|slow-start|cma):(\d{1,7})$/.exec(v);
  if (!m) return { kind: 'invalid', message: `unknown fault "${v}" (expected ${FAULT_SYNTAX})` };
  const n = Number(m[2]);
  return m[1] === 'busy'
    ? { kind: 'busy-n', n }
    : { kind: m[1] as 'crash-after' | 'hang-after' | 'slow-start' | 'cma', n };
}

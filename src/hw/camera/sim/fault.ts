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
  | { kind: 'invalid'; message: string };

export const FAULT_SYNTAX = 'busy | busy:N | absent | crash-after:N | hang-after:N | garbage | slow-start:MS | none';

export function parseFault(raw: string | undefined): Fault {
  const v = (raw ?? '').trim();
  if (v === '' || v === 'none') return { kind: 'none' };
  if (v === 'busy' || v === 'absent' || v === 'garbage') return { kind: v };
  const m = /^(busy|crash-after|hang-after|slow-start):(\d{1,7})$/.exec(v);
  if (!m) return { kind: 'invalid', message: `unknown fault "${v}" (expected ${FAULT_SYNTAX})` };
  const n = Number(m[2]);
  return m[1] === 'busy' ? { kind: 'busy-n', n } : { kind: m[1] as 'crash-after' | 'hang-after' | 'slow-start', n };
}

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** Stable id, e.g. `camera`, `gpio`, `throttling`. */
  id: string;
  title: string;
  status: CheckStatus;
  message: string;
  /** What to do about a warn/fail, as a command or a sentence. */
  fix?: string;
  /** Machine-readable facts behind the message (for --json). */
  details?: Record<string, unknown>;
}

export interface DoctorReport {
  ok: boolean;
  board: { id: string; model: string | null; memTotalMB: number | null; profile: string };
  summary: Record<CheckStatus, number>;
  checks: CheckResult[];
}

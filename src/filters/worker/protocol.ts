import type { PinholeConfig } from '../../config/schema.js';
import type { JobOutcome, JobSpec } from '../job-runner.js';

/**
 * Messages between the daemon and its filter worker process (JSON over the Node IPC channel). The worker asks the
 * daemon for faces (`call`): the daemon's detector is already loaded, and one YuNet in memory is enough.
 */
export type ToWorker =
  | { t: 'init'; config: PinholeConfig; workDir: string }
  | { t: 'run'; job: JobSpec }
  | { t: 'cancel'; id: string; reason: string }
  | { t: 'reply'; req: number; value?: unknown; error?: string }
  /** Thread mode's disconnect: finish and exit. */
  | { t: 'close' };

export type FromWorker =
  | { t: 'ready'; pid: number }
  | { t: 'progress'; id: string; fraction: number }
  | { t: 'done'; id: string; outcome: JobOutcome }
  | { t: 'failed'; id: string; error: WireError; aborted: boolean }
  | { t: 'call'; req: number; method: 'faces.find' | 'faces.problem'; args: unknown[] };

/** An error as it crosses the process boundary: enough to rebuild a PinholeError (code, HTTP status). */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  status?: number;
}

import type { PriorityClass } from '../../util/low-priority.js';
import type { FaceModelOptions } from '../face-model.js';
import type { DetectFrameResult, DetectImageResult } from '../yunet.js';

/** Messages between the daemon's main thread and its face-detector thread (worker_threads, structured clone). */
export interface DetectorThreadInit {
  model: FaceModelOptions;
  priority: Exclude<PriorityClass, 'idle'>;
}

export type ToDetector =
  | { t: 'frame'; req: number; jpeg: Uint8Array; opts: { maxSide: number; threshold: number } }
  | { t: 'image'; req: number; input: string | Uint8Array; opts: { maxSide: number; threshold: number } }
  | { t: 'release' };

export type FromDetector =
  | { t: 'ready'; nice?: number; tid?: number }
  | { t: 'load-failed'; error: WireError }
  | { t: 'result'; req: number; result: DetectImageResult | DetectFrameResult }
  | { t: 'error'; req: number; error: WireError }
  | { t: 'released' };

export interface WireError {
  name: string;
  message: string;
  code?: string;
  status?: number;
}

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ResourceLimits, Worker } from 'node:worker_threads';
import { appRoot } from '../../config/locate.js';
import { PinholeError, UnavailableError } from '../../util/errors.js';
import type { PriorityClass } from '../../util/low-priority.js';
import type { FaceModelOptions } from '../face-model.js';
import type { DetectFrameResult, DetectImageResult } from '../yunet.js';
import type { FromDetector, ToDetector, WireError } from './protocol.js';

/** What live faces and photo detection need from a detector (YuNetDetector itself, or one on its own thread). */
export interface FaceDetector {
  detectImage(input: string | Buffer, opts: { maxSide: number; threshold: number }): Promise<DetectImageResult>;
  detectFrame(jpeg: Buffer, opts: { maxSide: number; threshold: number }): Promise<DetectFrameResult>;
  release(): Promise<void>;
}

/**
 * The thread's V8 heap. Frames, tensors and outputs live outside it (Buffers, WebAssembly memory, onnxruntime), so
 * its JS heap stays a few MB; without limits V8 sizes a worker's heap like a main thread's, from the machine's RAM.
 */
const THREAD_HEAP: ResourceLimits = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 };

function threadEntry(): string {
  const beside = fileURLToPath(new URL('./detector-thread.js', import.meta.url));
  if (existsSync(beside)) return beside;
  // running from the TypeScript sources (tests): the built thread
  return path.join(appRoot(), 'dist', 'src', 'vision', 'thread', 'detector-thread.js');
}

function fromWire(e: WireError): Error {
  if (e.code && e.status) return new PinholeError(e.message, { code: e.code, status: e.status });
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

/**
 * YuNet on a worker thread of the daemon, at `analysis` priority by default (below the camera, the preview and the
 * shutter; above filter jobs). Calls are answered in order; a frame is copied to the thread (a preview JPEG is tens
 * of kB), photos go by path.
 */
export class ThreadedDetector implements FaceDetector {
  private readonly pending = new Map<number, { resolve: (v: never) => void; reject: (e: Error) => void }>();
  private nextReq = 1;
  private gone?: Error;
  private released = false;
  /** The thread's nice value and Linux thread id, as it reported them (status, tests). */
  nice?: number;
  tid?: number;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: FromDetector) => this.onMessage(m));
    const fail = (why: string) => {
      this.gone = new UnavailableError(`the face detector thread stopped (${why})`, 'faces-unavailable');
      for (const p of this.pending.values()) p.reject(this.gone);
      this.pending.clear();
    };
    worker.on('error', (e) => fail(e.message));
    worker.on('exit', (code) => fail(`exit ${code}`));
  }

  static load(
    model: FaceModelOptions,
    priority: Exclude<PriorityClass, 'idle'> = 'analysis',
    resourceLimits: ResourceLimits = THREAD_HEAP,
  ): Promise<ThreadedDetector> {
    const worker = new Worker(threadEntry(), { workerData: { model, priority }, resourceLimits });
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromDetector) => {
        if (m.t === 'ready') {
          worker.off('message', onMessage);
          worker.off('error', onError);
          const d = new ThreadedDetector(worker);
          d.nice = m.nice;
          d.tid = m.tid;
          resolve(d);
        } else if (m.t === 'load-failed') {
          worker.off('message', onMessage);
          worker.off('error', onError);
          void worker.terminate();
          reject(fromWire(m.error));
        }
      };
      const onError = (e: Error) => reject(e);
      worker.on('message', onMessage);
      worker.once('error', onError);
    });
  }

  detectFrame(jpeg: Buffer, opts: { maxSide: number; threshold: number }): Promise<DetectFrameResult> {
    return this.call<DetectFrameResult>((req) => ({ t: 'frame', req, jpeg, opts }));
  }

  detectImage(input: string | Buffer, opts: { maxSide: number; threshold: number }): Promise<DetectImageResult> {
    return this.call<DetectImageResult>((req) => ({ t: 'image', req, input, opts }));
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.gone) return;
    const done = new Promise<void>((resolve) => {
      this.worker.on('message', (m: FromDetector) => {
        if (m.t === 'released') resolve();
      });
      this.worker.once('exit', () => resolve());
    });
    this.worker.postMessage({ t: 'release' } satisfies ToDetector);
    await done;
    await this.worker.terminate();
  }

  private call<T>(make: (req: number) => ToDetector): Promise<T> {
    if (this.gone) return Promise.reject(this.gone);
    if (this.released)
      return Promise.reject(new UnavailableError('the face detector was released', 'faces-unavailable'));
    const req = this.nextReq++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(req, { resolve: resolve as (v: never) => void, reject });
      this.worker.postMessage(make(req));
    });
  }

  private onMessage(m: FromDetector): void {
    if (m.t !== 'result' && m.t !== 'error') return;
    const p = this.pending.get(m.req);
    if (!p) return;
    this.pending.delete(m.req);
    if (m.t === 'result') p.resolve(m.result as never);
    else p.reject(fromWire(m.error));
  }
}

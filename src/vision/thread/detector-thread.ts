/**
 * The face detector's own thread (worker_threads). onnxruntime-node runs inference synchronously on the calling
 * thread, so on the main thread every detection stalled the event loop (the preview's frames, the shutter's command)
 * for the whole run: a few ms here, hundreds on a Zero 2 W. Here it stalls only this thread, which lowers its own
 * priority before creating the session so that onnxruntime's pool threads inherit it: the camera, the preview and the
 * shutter win the CPU whenever it is contended.
 */
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { isPinholeError } from '../../util/errors.js';
import { lowerThisThread } from '../../util/low-priority.js';
import { loadFaceDetector } from '../face-model.js';
import type { YuNetDetector } from '../yunet.js';
import type { DetectorThreadInit, FromDetector, ToDetector, WireError } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('detector-thread.js runs as a worker thread');

const post = (m: FromDetector) => port.postMessage(m);

function wire(e: unknown): WireError {
  if (isPinholeError(e)) return { name: e.name, message: e.message, code: e.code, status: e.status };
  const err = e instanceof Error ? e : new Error(String(e));
  return { name: err.name, message: err.message };
}

function threadId(): number | undefined {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return undefined;
  }
}

const init = workerData as DetectorThreadInit;
const nice = lowerThisThread(init.priority);
let det: YuNetDetector | undefined;

try {
  det = await loadFaceDetector(init.model);
  post({ t: 'ready', nice, tid: threadId() });
} catch (e) {
  post({ t: 'load-failed', error: wire(e) });
}

port.on('message', (m: ToDetector) => {
  const d = det;
  if (m.t === 'release') {
    det = undefined;
    void (d?.release() ?? Promise.resolve())
      .catch(() => {})
      .finally(() => {
        post({ t: 'released' });
        port.close();
      });
    return;
  }
  if (!d) {
    post({ t: 'error', req: m.req, error: { name: 'Error', message: 'detector released' } });
    return;
  }
  const job =
    m.t === 'frame'
      ? d.detectFrame(Buffer.from(m.jpeg.buffer, m.jpeg.byteOffset, m.jpeg.byteLength), m.opts)
      : d.detectImage(typeof m.input === 'string' ? m.input : Buffer.from(m.input), m.opts);
  job.then(
    (result) => post({ t: 'result', req: m.req, result }),
    (e: unknown) => post({ t: 'error', req: m.req, error: wire(e) }),
  );
});

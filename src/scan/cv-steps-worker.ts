import { parentPort, workerData } from 'node:worker_threads';
import { type CvStepsInput, cvSteps } from './cv-steps.js';

/** Worker thread entry for src/scan/cv-steps.ts: runs the OpenCV steps, reports, ends. */
const port = parentPort;
if (port) {
  cvSteps(workerData as CvStepsInput, (progress) => port.postMessage({ progress }))
    .then((done) => port.postMessage({ done }))
    .catch((e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      port.postMessage({ error: { message: err.message, name: err.name } });
    });
}

/**
 * The filter worker: a child process of the daemon that runs filter jobs at low CPU priority (started through
 * nice/chrt by child-runner.ts). It builds the same filter registry and models as the CLI from the daemon's config,
 * so every filter runs here unchanged; faces come from the daemon's detector over IPC. It exits when the daemon
 * disconnects (idle, shutdown, or the daemon died), which releases every model session and all its memory.
 */
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { isPinholeError } from '../../util/errors.js';
import { configureLogging, createLogger } from '../../util/logger.js';
import { lowerThisThread, type Priority } from '../../util/low-priority.js';
import { InProcessRunner } from '../job-runner.js';
import type { PipelineDeps } from '../pipeline.js';
import { filterDepsFromConfig } from '../setup.js';
import type { FaceFinder } from '../types.js';
import type { FromWorker, ToWorker, WireError } from './protocol.js';

const log = createLogger('filters.worker');

// A child process (the daemon's choice) talks over the IPC channel; a worker thread (the priority benchmark's
// comparison) over its port, after lowering its own thread like nice(1) lowers a process.
const port = parentPort;
const send = (m: FromWorker): void => {
  if (port) port.postMessage(m);
  else process.send?.(m);
};

if (!port && !process.send) {
  process.stderr.write('the filter worker is started by the Pinhole daemon, not by hand\n');
  process.exit(2);
}
if (port) lowerThisThread((workerData as { priority: Exclude<Priority, 'idle'> }).priority);

// One job's strips and tiles are the working set; a decoded-image cache would only hold a second copy.
sharp.cache(false);

let runner: InProcessRunner | undefined;
let deps: (PipelineDeps & { models: { releaseAll(): Promise<void> } }) | undefined;
const running = new Map<string, AbortController>();
const calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let nextReq = 1;

function call(method: 'faces.find' | 'faces.problem', args: unknown[]): Promise<unknown> {
  const req = nextReq++;
  return new Promise((resolve, reject) => {
    calls.set(req, { resolve, reject });
    send({ t: 'call', req, method, args });
  });
}

const daemonFaces: FaceFinder = {
  find: async (file) => (await call('faces.find', [file])) as Awaited<ReturnType<FaceFinder['find']>>,
  problem: async () => (await call('faces.problem', [])) as string | undefined,
};

function wire(e: unknown): WireError {
  if (isPinholeError(e)) return { name: e.name, message: e.message, code: e.code, status: e.status };
  const err = e instanceof Error ? e : new Error(String(e));
  return { name: err.name, message: err.message };
}

async function runJob(m: Extract<ToWorker, { t: 'run' }>): Promise<void> {
  const id = m.job.id;
  if (!runner) {
    send({ t: 'failed', id, error: { name: 'Error', message: 'filter worker not initialised' }, aborted: false });
    return;
  }
  const abort = new AbortController();
  running.set(id, abort);
  let last = 0;
  try {
    const outcome = await runner.run(m.job, {
      signal: abort.signal,
      onProgress: (fraction) => {
        // The queue throttles its events itself; this only bounds the IPC traffic of fine-grained filters.
        const now = Date.now();
        if (now - last < 100 && fraction < 1) return;
        last = now;
        send({ t: 'progress', id, fraction });
      },
    });
    send({ t: 'done', id, outcome });
  } catch (e) {
    send({ t: 'failed', id, error: wire(e), aborted: abort.signal.aborted });
  } finally {
    running.delete(id);
  }
}

const onMessage = (m: ToWorker) => {
  switch (m.t) {
    case 'init': {
      configureLogging({ level: m.config.log.level, namespaces: m.config.log.namespaces });
      deps = filterDepsFromConfig(m.config, { workDir: m.workDir });
      if (deps.faces) deps.faces = daemonFaces;
      runner = new InProcessRunner(deps);
      send({ t: 'ready', pid: process.pid });
      break;
    }
    case 'run':
      void runJob(m);
      break;
    case 'cancel':
      running.get(m.id)?.abort(new Error(m.reason));
      break;
    case 'reply': {
      const c = calls.get(m.req);
      calls.delete(m.req);
      if (m.error !== undefined) c?.reject(new Error(m.error));
      else c?.resolve(m.value);
      break;
    }
    case 'close':
      finish();
      break;
  }
};
if (port) port.on('message', onMessage);
else process.on('message', onMessage);

// The daemon closed the channel (idle, shutdown) or died: stop whatever runs and go. Temp files of an aborted job
// are removed by the pipeline's finally blocks before the exit.
process.on('disconnect', () => finish());

function finish(): void {
  for (const a of running.values()) a.abort(new Error('the daemon closed the filter worker'));
  for (const c of calls.values()) c.reject(new Error('the daemon closed the filter worker'));
  const deadline = setTimeout(() => process.exit(0), 2000);
  deadline.unref();
  const wait = async () => {
    while (running.size) await new Promise((r) => setTimeout(r, 20));
    await deps?.models.releaseAll();
  };
  // in a worker thread, process.exit() ends the thread only
  void wait()
    .catch((e: unknown) => log.warn('release failed', { error: e }))
    .finally(() => process.exit(0));
}

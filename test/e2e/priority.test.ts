import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_TOKEN, sleep, TortureDaemon, waitFor } from '../../scripts/torture/harness.js';
import { callDaemon } from '../../src/control/client.js';
import { schedOf } from '../../src/util/low-priority.js';
import { unitMallocEnv } from '../../src/util/unit-env.js';
import { cliPath, sharedDir } from '../helpers/tmp.js';

/**
 * The priority rules in the real daemon (systemd's malloc settings, sim camera, real models): a 12 MP denoise in
 * the background does not slow the shutter; the filter worker runs at nice 19 and live faces at nice 5 below the
 * daemon; no child inherits the daemon's malloc tuning. Ratios against idle with bounds generous enough for a
 * machine shared with other suites.
 */
const environ = (pid: number) =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );

const threadNices = (pid: number) => readdirSync(`/proc/${pid}/task`).map((t) => schedOf(pid, Number(t))?.nice);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

describe('priorities in the running daemon', () => {
  const d = new TortureDaemon();
  const socket = path.join(d.root, 'control.sock');
  type Lag = { commandIssuedMs: number; durableMs: number };
  type Photo = { id: string; width: number; lag: Lag };

  beforeAll(async () => {
    expect(existsSync(cliPath)).toBe(true);
    writeFileSync(
      d.configFile,
      [
        'dataDir: ./data',
        'control:',
        `  socket: ${socket}`,
        'models:',
        `  dir: ${path.join(sharedDir, 'models')}`,
        'web:',
        '  host: 127.0.0.1',
        '  port: 0',
        '  auth:',
        `    apiTokens: [${API_TOKEN}]`,
        'gpio:',
        '  backend: none',
        'camera:',
        '  backend: sim',
        'storage:',
        '  minFreeMB: 0',
        '',
      ].join('\n'),
    );
    await d.start(90_000);
  }, 120_000);
  afterAll(() => d.cleanup());

  /** The parts of /api/status this test reads. */
  interface Status {
    camera?: { mode?: string };
    faces?: { state?: string; rate?: unknown };
    filters?: { runner?: { pid: number; priority: string } };
  }
  const status = async () => (await d.api<Status>('GET', '/api/status')).data;

  async function shots(n: number): Promise<Photo[]> {
    const photos: Photo[] = [];
    for (let i = 0; i < n; i++) {
      // the armed still camera and the previous photo's follow-up work (faces, thumbnail) settle first
      await waitFor('the armed camera', async () => (await status()).camera?.mode === 'armed', 60_000, 100);
      await sleep(1000);
      const r = await d.api<{ photo: Photo }>('POST', '/api/capture', {});
      expect(r.status, r.raw.body.toString()).toBe(201);
      photos.push(r.data.photo);
    }
    return photos;
  }

  it("no child gets the daemon's malloc tuning; live faces run at nice 5", async () => {
    const pid = d.pid as number;
    expect(environ(pid).MALLOC_MMAP_THRESHOLD_).toBe(unitMallocEnv().MALLOC_MMAP_THRESHOLD_);
    const cam = Number(readFileSync(path.join(d.dataDir, 'run', 'camera.pid'), 'utf8'));
    const env = environ(cam);
    expect(env.PINHOLE_FAKE_CAMERA_STATE_DIR).toBeTruthy();
    expect(Object.keys(env).filter((k) => k.startsWith('MALLOC_'))).toEqual([]);
    // the daemon's own threads at 0, the face detector's thread and its onnxruntime pool at 5
    await waitFor('face detection', async () => (await status()).faces?.state === 'running', 60_000, 200);
    const nices = threadNices(pid);
    expect(nices).toContain(0);
    expect(nices).toContain(5);
    expect((await status()).faces?.rate).toMatchObject({ targetFps: 4, fps: 4, reduced: false });
  }, 120_000);

  it('a 12 MP denoise in the worker at nice 19 does not delay the shutter', async () => {
    // the photo to denoise: a full-size 4056×3040 still of the simulated camera
    const [source] = await shots(1);
    expect(source.width).toBe(4056);
    const idle = (await shots(3)).map((s) => s.lag);

    const enq = await d.api<{ job: { id: string } }>('POST', `/api/photos/${source.id}/variants`, {
      filter: 'denoise',
    });
    expect(enq.status).toBe(202);
    const jobId = enq.data.job.id;
    const job = async () =>
      (await d.api<{ job: { state: string; progress: number } }>('GET', `/api/jobs/${jobId}`)).data.job;
    // decoded, tiles under way
    await waitFor('the denoise tiles', async () => (await job()).progress > 0.1, 240_000, 250);
    const worker = (await status()).filters?.runner as { pid: number; priority: string };
    expect(worker.priority).toBe('jobs');
    expect(new Set(threadNices(worker.pid))).toEqual(new Set([19]));
    const wenv = environ(worker.pid);
    expect(wenv.MALLOC_MMAP_THRESHOLD_).toBe('65536');

    const busy = (await shots(3)).map((s) => s.lag);
    expect((await job()).state).toBe('running');
    await callDaemon(socket, 'filters.cancel', { jobId });

    const p = (lags: Lag[], k: keyof Lag) => median(lags.map((l) => l[k]));
    const msg = `idle ${JSON.stringify(idle)} busy ${JSON.stringify(busy)}`;
    console.log(
      `shutter p50 idle / during a 12 MP denoise: command ${p(idle, 'commandIssuedMs')} / ${p(busy, 'commandIssuedMs')} ms, durable ${p(idle, 'durableMs')} / ${p(busy, 'durableMs')} ms`,
    );
    // In the daemon's own process, a tile's inference held the event loop for seconds: the press waited for it.
    expect(p(busy, 'commandIssuedMs'), msg).toBeLessThanOrEqual(2 * p(idle, 'commandIssuedMs') + 50);
    expect(p(busy, 'durableMs'), msg).toBeLessThanOrEqual(1.5 * p(idle, 'durableMs') + 250);
  }, 600_000);
});

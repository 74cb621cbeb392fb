import { callDaemon } from '../../src/control/client.js';
import {
  MjpegViewer,
  percentile,
  round,
  type ScenarioOptions,
  sleep,
  TortureDaemon,
  Violations,
  waitFor,
} from './harness.js';
import { decodeJpeg } from './power.js';

interface Step {
  mode: string;
  /** How long the fault stays on before it is cleared (0: it clears itself, recovery is timed from setting it). */
  holdMs: number;
  /** Camera state /api/health must show while the fault is on. */
  expectState?: string;
}

const SINGLE: Step[] = [
  { mode: 'busy', holdMs: 1500, expectState: 'busy' },
  { mode: 'busy:3', holdMs: 0 },
  { mode: 'absent', holdMs: 1500, expectState: 'absent' },
  { mode: 'crash-after:10', holdMs: 2000 },
  { mode: 'hang-after:10', holdMs: 2500 },
  { mode: 'garbage', holdMs: 1500 },
  { mode: 'slow-start:1500', holdMs: 0 },
];

/** Back to back without a recovery in between: the combination the issue names. */
const COMBINED: Step[] = [
  { mode: 'busy', holdMs: 1000, expectState: 'busy' },
  { mode: 'absent', holdMs: 1000, expectState: 'absent' },
  { mode: 'crash-after:5', holdMs: 1500 },
];

/**
 * Camera faults while viewers watch the preview: every fake-camera fault mode, repeated, and busy → absent → crash
 * back to back. After each: the daemon lives, the preview shows live frames again (not the placeholder) and a
 * capture succeeds. Figure: recovery time (fault cleared → first live frame at a viewer).
 */
export async function run(opts: ScenarioOptions): Promise<Record<string, unknown>> {
  const rounds = Number(opts.rounds ?? (opts.quick ? 1 : 3));
  // The short run holds each fault a little less (hang-after still needs frameTimeoutMs to pass).
  const holdScale = opts.quick ? 0.7 : 1;
  const v = new Violations();
  const d = new TortureDaemon({
    cameraYaml: ['  frameTimeoutMs: 1000', '  startTimeoutMs: 3000', '  preview:', '    fps: 15'].join('\n'),
  });
  const recoveries: number[] = [];
  const perMode: Record<string, number[]> = {};
  const viewers: MjpegViewer[] = [];
  const t0 = Date.now();
  let capturesAfter = 0;
  let capturesDuringFault = 0;
  const faultCaptureCodes: Record<string, number> = {};
  try {
    await d.start();
    for (let i = 0; i < 3; i++) {
      const w = new MjpegViewer(d.url, { keep: 3000 });
      await w.connect();
      viewers.push(w);
    }
    await waitFor(
      'live frames before the first fault',
      () => viewers.every((w) => w.firstLiveAfter(0) !== undefined),
      15_000,
    );

    const setFault = (mode: string) => callDaemon(d.socket, 'sim.fault', { mode }, 10_000);
    const sequence: { steps: Step[]; label: string }[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const s of SINGLE) sequence.push({ steps: [s], label: s.mode });
      sequence.push({ steps: COMBINED, label: 'busy>absent>crash' });
    }

    for (const { steps, label } of sequence) {
      let clearedAt = 0;
      for (const [k, step] of steps.entries()) {
        const setAt = Date.now();
        await setFault(step.mode);
        if (step.expectState) {
          const st = step.expectState;
          await waitFor(
            `camera state ${st} under fault ${step.mode}`,
            async () => (await d.api<{ camera: string }>('GET', '/api/health')).data.camera === st,
            8000,
          ).catch((e: unknown) => v.add(`${label}: ${String(e)}`));
        }
        // A capture while the fault is on: refused cleanly (503/409) or, if it answers 201, a complete photo.
        if (k === steps.length - 1 || step.expectState) {
          capturesDuringFault++;
          const c = await d.api<{ photo: { id: string } }>('POST', '/api/capture', {});
          faultCaptureCodes[c.status] = (faultCaptureCodes[c.status] ?? 0) + 1;
          if (c.status === 201) {
            const f = await d.req(`/api/photos/${c.data.photo.id}/file`);
            await decodeJpeg(f.body).catch((e: unknown) =>
              v.add(`${label}: photo taken under fault ${step.mode} is broken: ${String(e)}`),
            );
          } else if (![409, 503].includes(c.status))
            v.add(
              `${label}: capture under fault ${step.mode} answered ${c.status} ${c.raw.body.toString().slice(0, 200)}`,
            );
        }
        if (step.holdMs > 0) {
          const rest = step.holdMs * holdScale - (Date.now() - setAt);
          if (rest > 0) await sleep(rest);
          clearedAt = Date.now();
        } else clearedAt = setAt;
        if (!d.alive()) v.add(`${label}: daemon died under fault ${step.mode}`);
        const h = await d.req('/api/health', { auth: false });
        if (h.status !== 200) v.add(`${label}: /api/health → ${h.status} under fault ${step.mode}`);
      }
      const last = steps[steps.length - 1];
      if (last.holdMs > 0) {
        await setFault('none');
        clearedAt = Date.now();
      }
      // Recovery: every viewer sees live frames again.
      try {
        const at = await waitFor(
          `live preview after ${label}`,
          () => {
            const times = viewers.map((w) => w.firstLiveAfter(clearedAt));
            return times.every((t) => t !== undefined) ? Math.max(...(times as number[])) : undefined;
          },
          20_000,
        );
        const ms = at - clearedAt;
        recoveries.push(ms);
        perMode[label] = [...(perMode[label] ?? []), ms];
      } catch (e) {
        v.add(
          `${label}: ${String(e)}; viewers: ${viewers.map((w) => `${w.count} frames${w.closed ? ' closed' : ''}${w.error ? ` ${w.error}` : ''}`).join(', ')}`,
        );
      }
      if (last.holdMs === 0) await setFault('none');
      // A capture succeeds afterwards (409 only if one is still running; retried once).
      let c = await d.api<{ photo: { id: string } }>('POST', '/api/capture', {});
      if (c.status === 409 || c.status === 503) {
        await sleep(1500);
        c = await d.api<{ photo: { id: string } }>('POST', '/api/capture', {});
      }
      if (c.status !== 201)
        v.add(`${label}: capture after recovery answered ${c.status} ${c.raw.body.toString().slice(0, 200)}`);
      else {
        capturesAfter++;
        const f = await d.req(`/api/photos/${c.data.photo.id}/file`);
        await decodeJpeg(f.body).catch((e: unknown) => v.add(`${label}: photo after recovery is broken: ${String(e)}`));
      }
      // The preview comes back after the capture too.
      const afterCapture = Date.now();
      await waitFor(
        `live preview after the capture following ${label}`,
        () => viewers.every((w) => w.firstLiveAfter(afterCapture) !== undefined),
        15_000,
      ).catch((e: unknown) => v.add(String(e)));
      for (const w of viewers)
        if (w.closed || w.error) v.add(`${label}: a viewer was disconnected (${w.error ?? 'closed'})`);
      if (!d.alive()) {
        v.add(`${label}: daemon died`);
        break;
      }
    }
    // No camera process may be left running twice: the sim lock file would have made the fakes fail with busy.
    const log = d.output;
    const leaks = (log.match(/unhandled rejection|uncaught/gi) ?? []).length;
    if (leaks) v.add(`daemon log shows ${leaks} unhandled errors`);
  } finally {
    for (const w of viewers) w.close();
    await d.cleanup();
  }
  return {
    ok: v.ok,
    violations: v.list,
    rounds,
    faultsInjected: Object.values(perMode).reduce((a, x) => a + x.length, 0),
    recoveryMs: {
      p50: percentile(recoveries, 50),
      p99: percentile(recoveries, 99),
      max: recoveries.length ? Math.max(...recoveries) : null,
    },
    recoveryMsByMode: Object.fromEntries(Object.entries(perMode).map(([k, xs]) => [k, percentile(xs, 50)])),
    capturesDuringFault,
    captureStatusDuringFault: faultCaptureCodes,
    capturesAfterRecovery: capturesAfter,
    viewerFrames: viewers.map((w) => w.count),
    seconds: round((Date.now() - t0) / 1000),
  };
}

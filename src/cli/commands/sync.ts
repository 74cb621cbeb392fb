import { callDaemon } from '../../control/client.js';
import { errorMessage } from '../../util/errors.js';
import { resolveCliConfig } from '../config.js';
import type { CliCommand, CliContext } from '../types.js';

interface TargetLine {
  name: string;
  queued: number;
  uploading: number;
  done: number;
  failed: number;
  pendingBytes: number;
  lastSuccess: string | null;
  lastError: string | null;
}

/** The contract of `pinhole sync status --json` (exactly these keys, checked by other tools). */
export interface SyncStatusJson {
  targets: TargetLine[];
  mqtt: { connected: boolean; lastError: string | null } | null;
}

const KEYS = ['name', 'queued', 'uploading', 'done', 'failed', 'pendingBytes', 'lastSuccess', 'lastError'] as const;

function contract(sync: { targets?: unknown[] }, mqtt: unknown): SyncStatusJson {
  const targets = (sync.targets ?? []).map((t) => {
    const o = t as Record<string, unknown>;
    return Object.fromEntries(KEYS.map((k) => [k, o[k] ?? (k === 'lastSuccess' || k === 'lastError' ? null : 0)]));
  }) as unknown as TargetLine[];
  const m = mqtt as { connected?: unknown; lastError?: unknown } | null;
  return {
    targets,
    mqtt: m
      ? { connected: m.connected === true, lastError: typeof m.lastError === 'string' ? m.lastError : null }
      : null,
  };
}

const mb = (b: number) => (b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${Math.round(b / 1e3)} kB`);

function print(ctx: CliContext, s: SyncStatusJson, paused: boolean): void {
  if (!s.targets.length) ctx.out('sync: no targets (add sync.targets to the config)');
  if (paused) ctx.out('sync: paused (resume from the web UI Settings → Sync)');
  for (const t of s.targets) {
    ctx.out(
      `${t.name}: ${t.done} done, ${t.queued} queued, ${t.uploading} uploading, ${t.failed} failed, ${mb(t.pendingBytes)} pending; last success ${t.lastSuccess ?? 'never'}`,
    );
    if (t.lastError) ctx.out(`  last error: ${t.lastError}`);
  }
  if (s.mqtt)
    ctx.out(
      `mqtt: ${s.mqtt.connected ? 'connected' : 'not connected'}${s.mqtt.lastError ? ` (${s.mqtt.lastError})` : ''}`,
    );
  else ctx.out('mqtt: off');
}

function syncCommand(sub: 'status' | 'now' | 'retry', summary: string, help: string): CliCommand {
  return {
    name: `sync ${sub}`,
    summary,
    usage: '[--json]',
    help,
    options: { json: { type: 'boolean' } },
    async run({ values }, ctx) {
      const { config } = await resolveCliConfig(ctx);
      const sync = (await callDaemon(config.control.socket, `sync.${sub}`, {}, 15_000)) as {
        targets?: unknown[];
        paused?: boolean;
      };
      let mqtt: unknown = null;
      try {
        mqtt = await callDaemon(config.control.socket, 'mqtt.status', {}, 5000);
      } catch (e) {
        mqtt = config.mqtt.url ? { connected: false, lastError: `MQTT is not running: ${errorMessage(e)}` } : null;
      }
      const s = contract(sync, mqtt);
      if (values.json) ctx.out(JSON.stringify(s));
      else print(ctx, s, sync.paused === true);
      return 0;
    },
  };
}

export const statusCommand = syncCommand(
  'status',
  'Show the upload queue of each sync target and the MQTT connection',
  'Per target: queued, uploading, done (for good), failed, bytes pending, last success and last error.',
);
export const nowCommand = syncCommand(
  'now',
  'Start uploading at once (skips the retry wait)',
  'Forgets the retry backoff of every target and starts a pass; prints the status.',
);
export const retryCommand = syncCommand(
  'retry',
  'Queue failed uploads again and start at once',
  'Every failed upload goes back to the queue with its wait cleared; prints the status.',
);

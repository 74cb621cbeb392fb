import { callDaemon } from '../../control/client.js';
import { resolveCliConfig } from '../config.js';
import type { CliCommand } from '../types.js';

interface ComponentState {
  name: string;
  running: boolean;
  error?: string;
  status?: Record<string, unknown>;
}

interface DaemonStatus {
  version: string;
  pid: number;
  uptimeSeconds: number;
  config: { file: string; errors: string[]; loadedAt: string };
  components: ComponentState[];
}

function summary(s: unknown): string {
  if (!s || typeof s !== 'object') return '';
  const o = s as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of ['state', 'backend', 'reason', 'lastError', 'url', 'leds', 'queued']) {
    if (o[k] === undefined || o[k] === null) continue;
    parts.push(`${k}=${typeof o[k] === 'object' ? JSON.stringify(o[k]) : String(o[k])}`);
  }
  return parts.join(' ');
}

export const command: CliCommand = {
  name: 'status',
  summary: "Show the running daemon's state",
  usage: '[--json]',
  options: { json: { type: 'boolean' } },
  async run({ values }, ctx) {
    const { config } = await resolveCliConfig(ctx);
    const status = (await callDaemon(config.control.socket, 'status', {}, 10_000)) as DaemonStatus;
    if (values.json) {
      ctx.out(JSON.stringify(status, null, 2));
      return 0;
    }
    const up = status.uptimeSeconds;
    ctx.out(
      `Pinhole ${status.version} running (pid ${status.pid}, up ${Math.floor(up / 3600)}h${Math.floor((up % 3600) / 60)}m${up % 60}s)`,
    );
    ctx.out(`config: ${status.config.file}`);
    if (status.config.errors.length) {
      ctx.out(`config errors (${status.config.errors.length}) — the daemon keeps running on its last good config:`);
      for (const e of status.config.errors) ctx.out(`  ${e}`);
    } else {
      ctx.out('config: ok');
    }
    for (const c of status.components) {
      const state = c.running ? 'running' : 'not running';
      ctx.out(
        `${c.name.padEnd(8)} ${state}${c.error ? ` (${c.error})` : ''}${c.status ? `  ${summary(c.status)}` : ''}`,
      );
    }
    return 0;
  },
};

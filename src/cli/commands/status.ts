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
  look?: string | null;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});
const len = (v: unknown) => (Array.isArray(v) ? v.length : 0);

/** One readable line per component; `--json` has everything. */
function summary(name: string, s: unknown): string {
  const o = obj(s);
  switch (name) {
    case 'camera': {
      const c = obj(o.camera);
      const parts = [
        `${c.state ?? '?'}`,
        `mode=${c.mode ?? '-'}`,
        `restarts=${c.restarts ?? 0}`,
        `photos=${o.photos ?? 0}`,
        `viewers=${o.viewers ?? 0}`,
      ];
      const zsl = obj(c.zsl);
      if (zsl.mode) parts.push(`zsl=${zsl.mode}${zsl.bufferCount ? `/${zsl.bufferCount}` : ''}`);
      if (c.lastError) parts.push(`last error: ${String(c.lastError).split('\n')[0]}`);
      return parts.join(' ');
    }
    case 'faces':
      return [`${o.state ?? '?'}`, `model=${o.model ?? '?'}`, o.reason ? `(${o.reason})` : '']
        .filter(Boolean)
        .join(' ');
    case 'analysis': {
      // each feature: off with its reason, or resident/idle; then resident sessions against the cap
      const f = obj(o.features);
      const parts = Object.entries(f).map(([name, v]) => {
        const st = obj(v);
        return st.state === 'unavailable' ? `${name}=off (${st.reason ?? '?'})` : `${name}=${st.state ?? '?'}`;
      });
      return [...parts, `sessions=${o.resident ?? 0}/${o.maxSessions ?? '?'}`].join(' ');
    }
    case 'filters':
      return `running=${len(o.running)} queued=${len(o.queued)} workers=${o.workers ?? '?'}`;
    case 'gpio': {
      const leds = obj(o.leds);
      const filter = obj(o.filter);
      return [
        `backend=${o.backend ?? '?'}`,
        o.reason ? `(${o.reason})` : '',
        filter.kind ? `filter=${filter.kind}` : '',
        leds.state ? `leds=${leds.state}` : '',
        o.error ? `error: ${o.error}` : '',
        ...(Array.isArray(o.warnings) ? o.warnings.map((w) => `warning: ${w}`) : []),
      ]
        .filter(Boolean)
        .join(' ');
    }
    case 'web':
      return o.url ? `url=${o.url}` : '';
    case 'modes':
      return [o.state === 'idle' ? 'idle' : `${o.mode} ${o.state}`, o.message ? `(${o.message})` : '']
        .filter(Boolean)
        .join(' ');
    case 'people':
      return o.enabled
        ? `on people=${o.people} faces=${o.faces} queued=${o.queued} ${o.state}${o.reason ? ` (${o.reason})` : ''}`
        : 'off';
    default:
      return '';
  }
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
    ctx.out(`look for button captures: ${status.look ?? 'none'} (next-filter button)`);
    for (const c of status.components) {
      const state = c.running ? 'running' : 'not running';
      ctx.out(
        `${c.name.padEnd(8)} ${state}${c.error ? ` (${c.error})` : ''}${c.status ? `  ${summary(c.name, c.status)}` : ''}`,
      );
    }
    return 0;
  },
};

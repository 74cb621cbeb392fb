/**
 * One line per event on stdout, for journald. Under systemd (JOURNAL_STREAM set) each line starts with the
 * syslog priority `<N>` so `journalctl -p warning` works; elsewhere a timestamp and level name instead.
 * Levels are set globally and per namespace (`log.namespaces.camera: debug`).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const syslogPriority: Record<Exclude<LogLevel, 'silent'>, number> = { debug: 7, info: 6, warn: 4, error: 3 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly namespace: string;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(sub: string): Logger;
}

export type LogSink = (line: string) => void;

interface LogState {
  level: LogLevel;
  namespaces: Record<string, LogLevel>;
  journald: boolean;
  sink: LogSink;
}

const state: LogState = {
  level: (process.env.PINHOLE_LOG_LEVEL as LogLevel | undefined) ?? 'info',
  namespaces: {},
  journald: Boolean(process.env.JOURNAL_STREAM),
  sink: (line) => process.stdout.write(`${line}\n`),
};

export function configureLogging(opts: Partial<Pick<LogState, 'level' | 'namespaces' | 'journald' | 'sink'>>): void {
  Object.assign(state, opts);
}

function levelFor(ns: string): LogLevel {
  // The most specific configured prefix wins: `camera.supervisor` before `camera`.
  let best: string | undefined;
  for (const key of Object.keys(state.namespaces)) {
    if ((ns === key || ns.startsWith(`${key}.`)) && (!best || key.length > best.length)) best = key;
  }
  return best ? state.namespaces[best] : state.level;
}

function formatValue(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === 'string') return /^[\w./:@+-]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return '[unserialisable]';
  }
}

export function formatLine(level: Exclude<LogLevel, 'silent'>, ns: string, msg: string, fields?: LogFields): string {
  // Newlines would split one event into several journal entries.
  let line = `${ns}: ${msg.replace(/\r?\n/g, ' | ')}`;
  if (fields) {
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      line += ` ${k}=${formatValue(v).replace(/\r?\n/g, ' | ')}`;
    }
  }
  if (state.journald) return `<${syslogPriority[level]}>${line}`;
  return `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${line}`;
}

export function createLogger(namespace: string): Logger {
  const emit = (level: Exclude<LogLevel, 'silent'>, msg: string, fields?: LogFields) => {
    if (rank[level] < rank[levelFor(namespace)]) return;
    state.sink(formatLine(level, namespace, msg, fields));
  };
  return {
    namespace,
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (sub) => createLogger(`${namespace}.${sub}`),
  };
}

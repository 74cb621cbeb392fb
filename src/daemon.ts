import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { parse as parseYaml } from 'yaml';
import { App } from './app.js';
import {
  applyBoardProfile,
  type BoardPaths,
  boardPathsFromEnv,
  detectBoard,
  profileFor,
} from './config/board-profile.js';
import { defaultConfig, lenientConfig, loadConfigFile, resolvePaths } from './config/load.js';
import { locateConfig } from './config/locate.js';
import type { PinholeConfig } from './config/schema.js';
import { ConfigStore } from './config/store.js';
import { validateConfigText } from './config/validate.js';
import { EventBus } from './events.js';
import { writeFileAtomic } from './util/atomic-write.js';
import { ConfigError, errorMessage } from './util/errors.js';
import { configureLogging, createLogger } from './util/logger.js';
import { SdNotify } from './util/sd-notify.js';

const log = createLogger('daemon');

export interface DaemonOptions {
  configFlag?: string;
  version: string;
  dev: boolean;
  /** Upper bound for a clean shutdown before the process exits anyway. */
  shutdownTimeoutMs?: number;
  /** Where the board is read from (default /proc): the bench runs the daemon as a Zero 2 W on a fake /proc. */
  boardPaths?: BoardPaths;
}

const LAST_GOOD = 'config.last-good.yaml';

function applyLogConfig(cfg: PinholeConfig): void {
  configureLogging({ level: cfg.log.level, namespaces: cfg.log.namespaces });
}

/**
 * The config to start with. A valid file is used (and a copy kept as the last good one). An invalid file does not
 * stop the camera: the daemon starts on the last good copy (or defaults), reports the errors in status and
 * /api/health, and applies the file as soon as it is fixed.
 */
async function initialConfig(
  file: string,
  exists: boolean,
  adjust: Adjust,
): Promise<{ config: PinholeConfig; errors: string[] }> {
  if (!exists) return { config: adjust(defaultConfig(), ''), errors: [] };
  try {
    const { config, text } = await loadConfigFile(file);
    await saveLastGood(config, text);
    return { config: adjust(config, text), errors: [] };
  } catch (e) {
    const errors = e instanceof ConfigError ? e.errors : [`(file): ${errorMessage(e)}`];
    const fallback = await lastGood(file);
    return { config: adjust(fallback, ''), errors };
  }
}

async function saveLastGood(config: PinholeConfig, text: string): Promise<void> {
  try {
    const dir = path.join(config.dataDir, 'state');
    await fs.mkdir(dir, { recursive: true });
    await writeFileAtomic(path.join(dir, LAST_GOOD), text);
  } catch (e) {
    log.warn('cannot keep a copy of the last good config', { error: errorMessage(e) });
  }
}

async function lastGood(file: string): Promise<PinholeConfig> {
  // The broken file may still name the data folder and socket; look for the last good copy there.
  const lenient = await lenientConfig(file);
  const copy = path.join(lenient.dataDir, 'state', LAST_GOOD);
  try {
    const r = validateConfigText(await fs.readFile(copy, 'utf8'));
    if (r.config) {
      log.warn('starting on the last good config', { copy });
      return resolvePaths(r.config, path.dirname(file));
    }
  } catch {}
  log.warn('starting on the default config (with the data folder and socket of the broken file)');
  return lenient;
}

type Adjust = (config: PinholeConfig, text: string) => PinholeConfig;

export async function runDaemon(opts: DaemonOptions): Promise<App> {
  const loc = locateConfig(opts.configFlag);
  // The board profile (threads, caches, preview size for a 512 MB Zero 2 W ...) fills every key the owner did not
  // write, at start and on every reload.
  const profile = profileFor(await detectBoard(opts.boardPaths ?? boardPathsFromEnv()));
  let lastApplied = '';
  const adjust: Adjust = (cfg, text) => {
    let doc: unknown = null;
    try {
      doc = text ? parseYaml(text) : null;
    } catch {}
    const r = applyBoardProfile(cfg, profile, doc);
    const summary = r.applied.map((a) => `${a.path}=${JSON.stringify(a.value)}`).join(',');
    if (summary !== lastApplied)
      log.info('board profile', {
        profile: profile.name,
        model: profile.board.model ?? 'not a Pi',
        applied: summary || 'nothing',
      });
    lastApplied = summary;
    return r.config;
  };
  sharp.cache(profile.runtime.sharpCache);
  if (profile.runtime.sharpConcurrency) sharp.concurrency(profile.runtime.sharpConcurrency);

  const { config, errors } = await initialConfig(loc.file, loc.exists, adjust);
  applyLogConfig(config);
  log.info('starting', { version: opts.version, pid: process.pid, config: loc.exists ? loc.file : '(none: defaults)' });
  for (const n of profile.notes) log.warn(n);
  for (const line of errors) log.error(line);

  const notify = new SdNotify();
  const bus = new EventBus();
  const store = new ConfigStore(loc.file, config, bus, 150, adjust);
  store.setErrors(errors);
  bus.on('config.changed', async ({ config: next, sections }) => {
    applyLogConfig(next);
    if (sections.includes('control')) {
      if (process.env.NOTIFY_SOCKET) {
        // The control socket moves: systemd restarts us (Restart=on-failure) on the new path.
        log.warn('control.socket changed: restarting the daemon');
        shutdown('config', 75);
      } else {
        log.warn('control.socket changed: takes effect at the next start of the daemon');
      }
    }
    await notify.reloading();
    await notify.ready();
    await fs.readFile(loc.file, 'utf8').then(
      (text) => saveLastGood(next, text),
      () => {},
    );
  });

  const app = new App(store, bus, { version: opts.version, dev: opts.dev });
  let stopping = false;
  const shutdown = (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    const timeout = setTimeout(() => {
      log.error('clean shutdown took too long; exiting anyway');
      process.exit(1);
    }, opts.shutdownTimeoutMs ?? 15_000);
    timeout.unref();
    store.stop();
    notify.stopWatchdog();
    void notify.stopping();
    app.stop().then(
      () => {
        log.info('stopped');
        process.exit(exitCode);
      },
      (e: unknown) => {
        log.error('shutdown failed', { error: errorMessage(e) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('uncaughtException', (e) => {
    log.error('uncaught exception', { error: errorMessage(e), stack: e.stack });
    shutdown('uncaughtException', 1);
  });
  process.on('unhandledRejection', (e) =>
    log.error('unhandled rejection', { error: errorMessage(e), stack: (e as Error)?.stack }),
  );

  try {
    await app.start();
  } catch (e) {
    log.error('start failed', { error: errorMessage(e) });
    await app.stop().catch(() => {});
    throw e;
  }
  if (loc.exists) store.start();
  else log.warn('no config file found; running on defaults', { expected: loc.file });
  // READY once every component started and the web UI listens; a camera or GPIO failure does not block it.
  await notify.ready(app.url ? `web UI on ${app.url}` : 'running (no web UI)');
  notify.startWatchdog();
  return app;
}

import { type FSWatcher, promises as fs, watch } from 'node:fs';
import path from 'node:path';
import type { EventBus } from '../events.js';
import { ConfigError, errorMessage } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { loadConfigFile } from './load.js';
import { type ConfigSection, configSections, type PinholeConfig } from './schema.js';

declare module '../events.js' {
  interface PinholeEvents {
    /** A valid new config was applied; `sections` lists the top-level keys that changed. */
    'config.changed': { config: PinholeConfig; previous: PinholeConfig; sections: ConfigSection[] };
    /** The file on disk is invalid (or unreadable); the daemon keeps its last good config. */
    'config.invalid': { errors: string[] };
  }
}

const log = createLogger('config');
/** Quiet periods a watcher reload waits at most for a file that keeps changing. */
const MAX_POSTPONED = 20;

export interface ConfigStoreStatus {
  file: string;
  /** Errors of the file on disk; empty when the running config matches it. */
  errors: string[];
  loadedAt: string;
  reloads: number;
}

/**
 * Holds the running config and follows the file: fs.watch on the folder (so an editor's write-and-rename is seen),
 * debounced, plus SIGHUP. A valid file replaces the config and announces the changed sections; an invalid or
 * vanished file is reported and the last good config keeps running.
 */
export class ConfigStore {
  private current: PinholeConfig;
  private errors: string[] = [];
  private loadedAt = new Date();
  private reloads = 0;
  private watcher?: FSWatcher;
  private debounce?: NodeJS.Timeout;
  private reloading?: Promise<void>;
  /** The reload queued behind a running one (which may have read an older version of the file). */
  private next?: Promise<void>;
  /** Watcher reloads postponed in a row because the file was still being written. */
  private postponed = 0;
  private readonly onHup = () => {
    log.info('SIGHUP: reloading');
    this.scheduleReload(0);
  };

  constructor(
    readonly file: string,
    initial: PinholeConfig,
    private readonly bus: EventBus,
    private readonly debounceMs = 150,
    /** Applied to every valid file before it runs (the board profile fills keys the owner did not set). */
    private readonly adjust: (config: PinholeConfig, text: string) => PinholeConfig = (c) => c,
  ) {
    this.current = initial;
  }

  get config(): PinholeConfig {
    return this.current;
  }

  status(): ConfigStoreStatus {
    return { file: this.file, errors: [...this.errors], loadedAt: this.loadedAt.toISOString(), reloads: this.reloads };
  }

  /** Records errors found at start (the daemon started on defaults or could not read the file). */
  setErrors(errors: string[]): void {
    this.errors = errors;
  }

  start(): void {
    const dir = path.dirname(this.file);
    const base = path.basename(this.file);
    try {
      this.watcher = watch(dir, { persistent: false }, (_type, name) => {
        if (name === null || name === base) this.scheduleReload(this.debounceMs, true);
      });
      this.watcher.on('error', (e) =>
        log.warn('watching the config folder failed; SIGHUP still reloads', { error: errorMessage(e) }),
      );
    } catch (e) {
      log.warn('cannot watch the config folder; SIGHUP still reloads', { dir, error: errorMessage(e) });
    }
    process.on('SIGHUP', this.onHup);
  }

  stop(): void {
    clearTimeout(this.debounce);
    this.watcher?.close();
    process.off('SIGHUP', this.onHup);
  }

  /**
   * Coalesces bursts (an editor saving 20 times a second) into one reload after a quiet period. `fromWatcher`: an
   * editor that writes in place (truncate, then write) may still be writing; the file is read once it has not
   * changed for the quiet period (at most MAX_POSTPONED periods in a row).
   */
  scheduleReload(delayMs = this.debounceMs, fromWatcher = false): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void (fromWatcher ? this.reloadWhenQuiet() : this.reload()), delayMs);
  }

  private async reloadWhenQuiet(): Promise<void> {
    const changedAgo = await fs.stat(this.file).then(
      (st) => Date.now() - st.mtimeMs,
      () => Number.POSITIVE_INFINITY,
    );
    if (changedAgo < this.debounceMs && this.postponed < MAX_POSTPONED) {
      this.postponed++;
      this.scheduleReload(this.debounceMs - changedAgo, true);
      return;
    }
    this.postponed = 0;
    await this.reload();
  }

  /**
   * Re-reads the file; resolves once what is on disk now has been applied (or found invalid). Never throws; never
   * runs two reloads at once: a call while one runs queues one more, shared by every caller meanwhile.
   */
  reload(): Promise<void> {
    if (!this.reloading) {
      this.reloading = this.doReload().finally(() => {
        this.reloading = undefined;
      });
      return this.reloading;
    }
    this.next ??= this.reloading.then(() => {
      this.next = undefined;
      return this.reload();
    });
    return this.next;
  }

  private async doReload(): Promise<void> {
    let next: PinholeConfig;
    try {
      const loaded = await loadConfigFile(this.file);
      // An empty file is all defaults at first start; here it is far more likely an editor caught between truncating
      // and writing, and applying defaults would drop every setting (web auth included) until the next save.
      if (loaded.text.trim() === '')
        throw new ConfigError(
          ['(file): the file is empty; keeping the running config (write `{}` to run on all defaults)'],
          this.file,
        );
      next = this.adjust(loaded.config, loaded.text);
    } catch (e) {
      const errors = e instanceof ConfigError ? e.errors : [`(file): ${errorMessage(e)}`];
      if (errors.join('\n') !== this.errors.join('\n')) {
        log.error('config file is invalid; keeping the last good config', { file: this.file, errors: errors.length });
        for (const line of errors) log.error(line);
      }
      this.errors = errors;
      this.bus.emit('config.invalid', { errors });
      return;
    }
    const hadErrors = this.errors.length > 0;
    this.errors = [];
    const previous = this.current;
    const sections = configSections.filter((s) => JSON.stringify(previous[s]) !== JSON.stringify(next[s]));
    if (!sections.length) {
      if (hadErrors) log.info('config file is valid again (no change to the running config)');
      return;
    }
    this.current = next;
    this.loadedAt = new Date();
    this.reloads++;
    log.info('config reloaded', { sections: sections.join(',') });
    this.bus.emit('config.changed', { config: next, previous, sections });
  }
}

import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Component, ControlHandler } from '../component.js';
import type { PinholeConfig } from '../config/schema.js';
import type { SyncTarget } from '../config/sections/sync.js';
import type { EventBus } from '../events.js';
import { deviceIdOf } from '../util/device-id.js';
import { errorMessage } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { DoneLedger } from './ledger.js';
import { type QueueEntry, SyncQueue } from './queue.js';
import { RcdSession } from './rcd.js';
import { cleanEnv, type RcloneResult, RcloneRunner } from './rclone.js';
import {
  type ConfigFileState,
  inlineSecret,
  inspectRcloneConfig,
  joinRemote,
  parseRemote,
  strategyFor,
  type UploadStrategy,
} from './remote.js';
import { explainRcloneError } from './words.js';

const log = createLogger('sync');

declare module '../events.js' {
  interface PinholeEvents {
    /** A photo is committed and its post-capture work (faces, XMP) is done: its file will not change again. */
    'photo.ready': { id: string };
    /** The upload state of these photos changed (queued, uploaded, failed). */
    'sync.changed': { photoIds: string[] };
  }
}

/** The gallery as sync needs it (src/store's GalleryStore fits). */
export interface SyncGallery {
  list(opts?: { cursor?: string; limit?: number }): {
    items: { id: string; meta: { capturedAt: string; bytes: number; variants: Record<string, { bytes: number }> } }[];
    nextCursor?: string;
  };
  filePath(id: string): string;
  variantPath(id: string, name: string): string;
  listVariants(id: string): Record<string, { bytes: number }>;
  get(id: string): { meta: { capturedAt: string; bytes: number } };
  delete(id: string): Promise<void>;
}

export interface TargetStatus {
  name: string;
  queued: number;
  uploading: number;
  done: number;
  failed: number;
  pendingBytes: number;
  lastSuccess: string | null;
  lastError: string | null;
}

export type PhotoSyncState = 'synced' | 'queued' | 'uploading' | 'failed';

export interface SyncComponentOptions {
  config: PinholeConfig;
  bus: EventBus;
  gallery: () => SyncGallery | undefined;
  /** The rclone executable (tests and the bench may point elsewhere). */
  rcloneCommand?: string;
  now?: () => number;
}

const ORIGINAL = 'original';
const INCOMING = '.pinhole-incoming';

/**
 * Sync to the owner's storage: an adapter at the edge. It listens on the bus (`photo.ready`, `photo.variant`,
 * `photo.deleted`, `capture.started/ended`), keeps the durable queue, and runs one rclone job at a time, niced and
 * stopped (SIGSTOP) while a capture is in flight. Nothing in capture/ or store/ knows it exists.
 */
export class SyncComponent implements Component {
  readonly name = 'sync';
  readonly configSections = ['sync', 'dataDir'] as const;
  private readonly cfg: PinholeConfig;
  private readonly queue: SyncQueue;
  private readonly ledger: DoneLedger;
  private readonly rclone: RcloneRunner;
  private readonly deviceId: string;
  private readonly offs: (() => void)[] = [];
  private readonly now: () => number;
  private rcloneConf: ConfigFileState = { exists: false, types: {} };
  private timer?: NodeJS.Timeout;
  private pruneTimer?: NodeJS.Timeout;
  private looping = false;
  private stopped = false;
  private userPaused = false;
  private capturesInFlight = 0;
  private captureSafety?: NodeJS.Timeout;
  private wakeCapture?: () => void;
  private rr = 0;
  private lastPass: Promise<void> = Promise.resolve();
  private pruning?: Promise<string[]>;

  constructor(private readonly opts: SyncComponentOptions) {
    this.cfg = opts.config;
    this.now = opts.now ?? Date.now;
    const state = path.join(this.cfg.dataDir, 'state');
    this.queue = new SyncQueue(path.join(state, 'sync-queue.json'));
    this.ledger = new DoneLedger(path.join(state, 'sync'));
    this.rclone = new RcloneRunner({
      command: opts.rcloneCommand,
      nice: this.cfg.sync.nice,
      pidFile: path.join(this.cfg.dataDir, 'run', 'rclone.pid'),
    });
    this.deviceId = deviceIdOf(this.cfg);
  }

  private get targets(): SyncTarget[] {
    return this.cfg.sync.targets;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const names = this.targets.map((t) => t.name);
    await this.rclone.reapLeftover();
    await fs.rm(this.stageRoot(), { recursive: true, force: true });
    const loaded = await this.queue.load(names);
    await this.ledger.load(names);
    // Uploads the ledger recorded but the queue file did not (a power cut between the two writes) are done.
    for (const e of this.queue.all()) if (this.ledger.has(e.target, e.photoId, e.kind)) this.queue.remove(e);
    this.rcloneConf = await inspectRcloneConfig(this.cfg.sync.rcloneConfig);
    if (this.rcloneConf.problem) log.error('rclone config refused', { problem: this.rcloneConf.problem });
    const bus = this.opts.bus;
    this.offs.push(
      bus.on('photo.ready', ({ id }) => {
        this.enqueuePhoto(id, false);
      }),
      bus.on('photo.variant', ({ id, name }) => this.enqueueVariant(id, name)),
      bus.on('photo.deleted', ({ id }) => {
        if (this.queue.removePhoto(id)) this.changed([id]);
      }),
      bus.on('capture.started', () => this.captureStarted()),
      bus.on('capture.ended', () => this.captureEnded()),
    );
    if (this.targets.length) {
      const added = this.reconcile();
      log.info('sync ready', {
        targets: names.join(','),
        queued: this.queue.all().length,
        addedFromGallery: added,
        queueFile: loaded,
        device: this.deviceId,
      });
    }
    await this.queue.flush();
    this.kick();
    this.schedulePrune(60_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.offs.splice(0)) off();
    clearTimeout(this.timer);
    clearTimeout(this.pruneTimer);
    clearTimeout(this.captureSafety);
    this.wakeCapture?.();
    await this.rclone.stop();
    await this.lastPass.catch(() => {});
    await this.queue.flush();
  }

  // ---- queueing ----------------------------------------------------------------------------------------------

  private wants(t: SyncTarget, kind: string): boolean {
    return kind === ORIGINAL ? t.what !== 'variants' : t.what !== 'originals';
  }

  private add(t: SyncTarget, photoId: string, kind: string, bytes: number): boolean {
    if (!this.wants(t, kind) || this.ledger.has(t.name, photoId, kind)) return false;
    return this.queue.add(t.name, photoId, kind, bytes);
  }

  /** A photo whose file is final: its original (and any variants already made) for every target. */
  private enqueuePhoto(id: string, quiet: boolean): number {
    const g = this.opts.gallery();
    if (!g || !this.targets.length) return 0;
    let meta: { bytes: number };
    let variants: Record<string, { bytes: number }>;
    try {
      meta = g.get(id).meta;
      variants = g.listVariants(id);
    } catch {
      return 0;
    }
    let n = 0;
    for (const t of this.targets) {
      if (this.add(t, id, ORIGINAL, meta.bytes)) n++;
      for (const [name, v] of Object.entries(variants)) if (this.add(t, id, name, v.bytes)) n++;
    }
    if (n && !quiet) {
      this.changed([id]);
      this.kick();
    }
    return n;
  }

  private enqueueVariant(id: string, name: string): void {
    const g = this.opts.gallery();
    if (!g) return;
    let bytes = 0;
    try {
      bytes = g.listVariants(id)[name]?.bytes ?? 0;
    } catch {
      return;
    }
    let n = 0;
    for (const t of this.targets) if (this.add(t, id, name, bytes)) n++;
    if (n) {
      this.changed([id]);
      this.kick();
    }
  }

  /** Everything in the gallery that a target wants and has neither received nor queued (start, corrupt queue). */
  private reconcile(): number {
    const g = this.opts.gallery();
    if (!g) return 0;
    let n = 0;
    let cursor: string | undefined;
    for (;;) {
      const page = g.list({ cursor, limit: 200 });
      for (const p of page.items) n += this.enqueuePhoto(p.id, true);
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    return n;
  }

  private changed(photoIds: string[]): void {
    this.opts.bus.emit('sync.changed', { photoIds });
  }

  // ---- captures pause the transfer ------------------------------------------------------------------------------

  private captureStarted(): void {
    this.capturesInFlight++;
    this.rclone.pause();
    clearTimeout(this.captureSafety);
    // A lost `capture.ended` must not stop sync for good.
    this.captureSafety = setTimeout(() => {
      this.capturesInFlight = 0;
      this.resumeAfterCapture();
    }, this.cfg.camera.capture.timeoutMs + 10_000);
  }

  private captureEnded(): void {
    this.capturesInFlight = Math.max(0, this.capturesInFlight - 1);
    if (this.capturesInFlight === 0) {
      clearTimeout(this.captureSafety);
      this.resumeAfterCapture();
    }
  }

  private resumeAfterCapture(): void {
    if (!this.userPaused) this.rclone.resume();
    this.wakeCapture?.();
  }

  private waitForCaptures(): Promise<void> {
    if (this.capturesInFlight === 0) return Promise.resolve();
    return new Promise((r) => {
      this.wakeCapture = () => {
        this.wakeCapture = undefined;
        r();
      };
    });
  }

  // ---- the worker ----------------------------------------------------------------------------------------------

  /** Starts a pass unless one runs; a pass uploads batches until nothing is due. */
  kick(): void {
    if (this.looping || this.stopped || this.userPaused) return;
    this.looping = true;
    clearTimeout(this.timer);
    this.lastPass = this.pass()
      .catch((e: unknown) => log.error('sync pass failed', { error: errorMessage(e) }))
      .finally(() => {
        this.looping = false;
        this.scheduleNext();
      });
  }

  private scheduleNext(): void {
    if (this.stopped || this.userPaused) return;
    let next: number | undefined;
    for (const t of this.targets) {
      const ts = this.queue.target(t.name);
      const entries = this.queue.forTarget(t.name);
      if (!entries.length && !ts.incomingDirty) continue;
      const cand = ts.nextTryAt ?? this.queue.nextDue(t.name) ?? this.now();
      next = next === undefined ? cand : Math.min(next, cand);
    }
    if (next === undefined) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), Math.max(50, next - this.now()));
  }

  private async pass(): Promise<void> {
    for (let guard = 0; guard < 10_000 && !this.stopped && !this.userPaused; guard++) {
      await this.waitForCaptures();
      if (this.stopped || this.userPaused) return;
      const job = this.nextJob();
      if (!job) return;
      await this.runJob(job.target, job.entries);
    }
  }

  private nextJob(): { target: SyncTarget; entries: QueueEntry[] } | undefined {
    const n = this.targets.length;
    const now = this.now();
    for (let i = 0; i < n; i++) {
      const t = this.targets[(this.rr + i) % n];
      const ts = this.queue.target(t.name);
      if (ts.nextTryAt !== null && ts.nextTryAt > now) continue;
      const entries = this.queue.due(t.name, now, this.cfg.sync.batchSize);
      if (!entries.length && !ts.incomingDirty) continue;
      this.rr = (this.rr + i + 1) % n;
      return { target: t, entries };
    }
    return undefined;
  }

  private stageRoot(): string {
    return path.join(this.cfg.dataDir, 'tmp', 'sync');
  }

  private destName(e: Pick<QueueEntry, 'photoId' | 'kind'>): string {
    return e.kind === ORIGINAL ? `${e.photoId}.jpg` : `${e.photoId}-${e.kind}.jpg`;
  }

  private commonArgs(): string[] {
    const s = this.cfg.sync;
    return [
      '--config',
      s.rcloneConfig,
      '--use-json-log',
      '-v',
      '--stats',
      '1s',
      '--stats-log-level',
      'INFO',
      // Retries are ours (capped backoff, queue kept); rclone's own would hold a dead destination for minutes.
      '--retries',
      '1',
      '--low-level-retries',
      '2',
      '--contimeout',
      '15s',
      '--timeout',
      '120s',
      ...(s.bwlimit ? ['--bwlimit', s.bwlimit] : []),
    ];
  }

  /** Why rclone cannot run for this target at all (refused config, inline secret), or undefined. */
  private targetProblem(t: SyncTarget): string | undefined {
    if (inlineSecret(t.remote))
      return `the remote of "${t.name}" carries a password: put credentials in the rclone config (sync.rcloneConfig), not in config.yaml`;
    const info = parseRemote(t.remote);
    if (info.kind === 'named' && this.rcloneConf.problem) return `rclone config refused: ${this.rcloneConf.problem}`;
    if (info.kind === 'named' && !this.rcloneConf.exists)
      return `rclone does not know the remote of target "${t.name}": ${this.cfg.sync.rcloneConfig} does not exist (create it with \`rclone config --config ${this.cfg.sync.rcloneConfig}\`, mode 0600)`;
    return undefined;
  }

  private strategy(t: SyncTarget): UploadStrategy {
    const info = parseRemote(t.remote);
    if (info.kind === 'named' && info.name) info.backend = this.rcloneConf.types[info.name];
    return strategyFor(info);
  }

  private incoming(t: SyncTarget): string {
    return joinRemote(t.remote, `${INCOMING}/${this.deviceId}`);
  }

  private async runJob(t: SyncTarget, entries: QueueEntry[]): Promise<void> {
    const ts = this.queue.target(t.name);
    const problem = this.targetProblem(t);
    if (problem) {
      this.fail(t, entries, problem, true);
      return;
    }
    const strategy = this.strategy(t);
    if (strategy === 'staged' && ts.incomingDirty) {
      // Partial files of an upload cut short (power cut, SIGKILL) are deleted before anything else.
      const r = await this.rclone.run(['purge', this.incoming(t), ...this.commonArgs()]);
      if (this.stopped) return;
      if (r.code === 0 || r.code === 3 || /directory not found/i.test(r.errors.join(' '))) {
        ts.incomingDirty = false;
        this.queue.touch();
      } else {
        this.fail(t, entries, this.words(t, r), true);
        return;
      }
    }
    if (!entries.length) return;
    const g = this.opts.gallery();
    if (!g) return;
    const stage = path.join(this.stageRoot(), t.name);
    await fs.rm(stage, { recursive: true, force: true });
    await fs.mkdir(stage, { recursive: true });
    const staged: QueueEntry[] = [];
    const gone: string[] = [];
    for (const e of entries) {
      let src: string;
      try {
        if (e.kind !== ORIGINAL && !Object.hasOwn(g.listVariants(e.photoId), e.kind)) throw new Error('no variant');
        src = e.kind === ORIGINAL ? g.filePath(e.photoId) : g.variantPath(e.photoId, e.kind);
        await linkOrSymlink(src, path.join(stage, this.destName(e)));
      } catch {
        // Deleted on the camera while queued: nothing to upload, nothing to count.
        this.queue.remove(e);
        gone.push(e.photoId);
        continue;
      }
      e.state = 'uploading';
      staged.push(e);
    }
    if (gone.length) log.info('photos deleted locally before upload, dropped from the queue', { count: gone.length });
    if (!staged.length) return;
    this.queue.touch();
    this.changed(staged.map((e) => e.photoId));
    const t0 = this.now();
    let result: RcloneResult;
    let transferred: Set<string>;
    if (strategy === 'direct') {
      // rclone's default listing of the destination, as a plain `rclone copy` does (one PROPFIND, not one per file).
      result = await this.rclone.run([
        'copy',
        stage,
        t.remote,
        '-L',
        '--transfers',
        String(this.cfg.sync.transfers),
        ...this.commonArgs(),
      ]);
      transferred = result.transferred;
    } else {
      ts.incomingDirty = true;
      await this.queue.flush();
      result = await this.stagedUpload(t, stage, staged);
      transferred = result.transferred;
      if (result.code === 0) ts.incomingDirty = false;
    }
    if (this.stopped) return this.requeue(staged);
    const ok = result.code === 0;
    const done = staged.filter((e) => ok || transferred.has(this.destName(e)));
    const failed = staged.filter((e) => !done.includes(e));
    await this.ledger.record(
      t.name,
      done.map((e) => ({ photoId: e.photoId, kind: e.kind, bytes: e.bytes })),
    );
    for (const e of done) this.queue.remove(e);
    if (done.length) {
      ts.lastSuccess = new Date(this.now()).toISOString();
      ts.attempts = 0;
      ts.nextTryAt = null;
      if (!failed.length) ts.lastError = null;
      log.info('uploaded', {
        target: t.name,
        files: done.length,
        bytes: done.reduce((a, e) => a + e.bytes, 0),
        ms: this.now() - t0,
        strategy,
      });
    }
    if (failed.length) this.fail(t, failed, this.words(t, result), done.length === 0);
    this.queue.touch();
    await this.queue.flush();
    this.changed(staged.map((e) => e.photoId));
    await fs.rm(stage, { recursive: true, force: true });
    if (!this.queue.all().length) this.schedulePrune(5_000);
  }

  /**
   * Upload under a temporary name, then move: each file is copied into the hidden incoming folder and renamed
   * server-side into place, so a final name only ever holds a complete file. One `rclone rcd` does the whole batch.
   */
  private async stagedUpload(t: SyncTarget, stage: string, staged: QueueEntry[]): Promise<RcloneResult> {
    const incoming = this.incoming(t);
    const transferred = new Set<string>();
    const errors: string[] = [];
    const session = new RcdSession(this.rclone);
    try {
      await session.start(
        ['-L', '--transfers', String(this.cfg.sync.transfers), ...this.commonArgs()],
        cleanEnv(process.env),
      );
      const work = staged.map((e) => this.destName(e));
      const worker = async () => {
        for (let name = work.shift(); name !== undefined && !this.stopped; name = work.shift()) {
          try {
            await session.call('operations/copyfile', {
              srcFs: stage,
              srcRemote: name,
              dstFs: incoming,
              dstRemote: name,
            });
            await session.call('operations/movefile', {
              srcFs: incoming,
              srcRemote: name,
              dstFs: t.remote,
              dstRemote: name,
            });
            transferred.add(name);
          } catch (e) {
            if (errors.length < 20) errors.push(`${name}: ${errorMessage(e)}`);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.cfg.sync.transfers, staged.length) }, worker));
    } catch (e) {
      errors.push(errorMessage(e));
    } finally {
      await session.quit();
    }
    const ok = errors.length === 0 && transferred.size === staged.length;
    return { code: ok ? 0 : 1, signal: null, transferred, errors, bytes: 0 };
  }

  private requeue(entries: QueueEntry[]): void {
    for (const e of entries) if (e.state === 'uploading') e.state = 'queued';
    this.queue.touch();
  }

  private words(t: SyncTarget, r: RcloneResult): string {
    const text =
      r.errors.join(' | ') || (r.signal ? `rclone was stopped (${r.signal})` : `rclone exit status ${r.code}`);
    // Never echo the remote string: it is the owner's to see in config.yaml, not the UI's (it may name a host).
    return explainRcloneError(text.split(t.remote).join(`<${t.name}>`), t.name);
  }

  private backoffMs(attempts: number): number {
    const s = this.cfg.sync;
    return Math.min(s.retryMaxSeconds, s.retryInitialSeconds * 2 ** Math.max(0, attempts - 1)) * 1000;
  }

  /** Marks entries failed; `wholeTarget` (offline, credentials, full) also backs the target off. */
  private fail(t: SyncTarget, entries: QueueEntry[], why: string, wholeTarget: boolean): void {
    const ts = this.queue.target(t.name);
    const now = this.now();
    if (wholeTarget) {
      ts.attempts++;
      ts.nextTryAt = now + this.backoffMs(ts.attempts);
    }
    for (const e of entries) {
      e.state = 'failed';
      e.attempts++;
      e.lastError = why;
      e.nextTryAt = wholeTarget ? (ts.nextTryAt ?? now) : now + this.backoffMs(e.attempts);
    }
    if (ts.lastError !== why) log.warn('upload failed', { target: t.name, files: entries.length, error: why });
    ts.lastError = why;
    this.queue.touch();
    if (entries.length) this.changed(entries.map((e) => e.photoId));
  }

  // ---- deleting local copies (sync.deleteLocalAfterDays) ---------------------------------------------------------

  private schedulePrune(ms: number): void {
    if (this.cfg.sync.deleteLocalAfterDays === null || this.stopped) return;
    clearTimeout(this.pruneTimer);
    this.pruneTimer = setTimeout(() => {
      void this.prune()
        .catch((e: unknown) => log.warn('deleting synced local photos failed', { error: errorMessage(e) }))
        .finally(() => this.schedulePrune(3_600_000));
    }, ms);
  }

  /**
   * Deletes photos older than sync.deleteLocalAfterDays whose every wanted file is in every target's ledger and
   * whose remote copy is verified now: same size, and same hash where the backend reports one.
   */
  prune(): Promise<string[]> {
    // One at a time: the timer and a caller (tests) must not both delete the same photo.
    this.pruning ??= this.pruneOnce().finally(() => {
      this.pruning = undefined;
    });
    return this.pruning;
  }

  private async pruneOnce(): Promise<string[]> {
    const days = this.cfg.sync.deleteLocalAfterDays;
    const g = this.opts.gallery();
    if (days === null || !g || !this.targets.length || this.looping) return [];
    const cutoff = this.now() - days * 86_400_000;
    const candidates: { id: string; kinds: string[] }[] = [];
    let cursor: string | undefined;
    outer: for (;;) {
      const page = g.list({ cursor, limit: 200 });
      for (const p of page.items) {
        if (Date.parse(p.meta.capturedAt) > cutoff) continue;
        const kinds = [ORIGINAL, ...Object.keys(p.meta.variants ?? {})];
        const complete = this.targets.every((t) =>
          kinds.every((k) => !this.wants(t, k) || this.ledger.has(t.name, p.id, k)),
        );
        if (complete && !this.queue.forPhoto(p.id).length) candidates.push({ id: p.id, kinds });
        if (candidates.length >= 100) break outer;
      }
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    if (!candidates.length) return [];
    let verified = new Set(candidates.map((c) => c.id));
    for (const t of this.targets) {
      if (this.targetProblem(t)) return [];
      const ok = await this.verifyRemote(t, g, candidates);
      verified = new Set([...verified].filter((id) => ok.has(id)));
    }
    const deleted: string[] = [];
    for (const id of verified) {
      await g.delete(id);
      deleted.push(id);
    }
    if (deleted.length)
      log.info('deleted local photos whose remote copies are verified', { count: deleted.length, days });
    return deleted;
  }

  private async verifyRemote(
    t: SyncTarget,
    g: SyncGallery,
    candidates: { id: string; kinds: string[] }[],
  ): Promise<Set<string>> {
    const files = new Map<string, { id: string; local: string }>();
    for (const c of candidates)
      for (const k of c.kinds) {
        if (!this.wants(t, k)) continue;
        files.set(this.destName({ photoId: c.id, kind: k }), {
          id: c.id,
          local: k === ORIGINAL ? g.filePath(c.id) : g.variantPath(c.id, k),
        });
      }
    const listFile = path.join(this.stageRoot(), `verify-${t.name}.txt`);
    await fs.mkdir(this.stageRoot(), { recursive: true });
    await fs.writeFile(listFile, [...files.keys()].join('\n'));
    const out: string[] = [];
    const r = await this.rclone.runCapture(
      ['lsjson', t.remote, '--files-from', listFile, '--hash', '--no-traverse', '--files-only', ...this.commonArgs()],
      out,
    );
    await fs.rm(listFile, { force: true });
    if (r.code !== 0) return new Set();
    let listing: { Path: string; Size: number; Hashes?: Record<string, string> }[];
    try {
      listing = JSON.parse(out.join('')) as typeof listing;
    } catch {
      return new Set();
    }
    const byName = new Map(listing.map((l) => [l.Path, l]));
    const bad = new Set<string>();
    for (const [name, f] of files) {
      const remote = byName.get(name);
      const st = await fs.stat(f.local).catch(() => undefined);
      if (!remote || !st || remote.Size !== st.size) {
        bad.add(f.id);
        continue;
      }
      const hashes = remote.Hashes ?? {};
      for (const algo of ['md5', 'sha1'] as const) {
        if (!hashes[algo]) continue;
        if ((await hashFile(f.local, algo)) !== hashes[algo].toLowerCase()) bad.add(f.id);
        break;
      }
    }
    return new Set([...files.values()].map((f) => f.id).filter((id) => !bad.has(id)));
  }

  // ---- surfaces ------------------------------------------------------------------------------------------------

  targetStatus(): TargetStatus[] {
    return this.targets.map((t) => {
      const es = this.queue.forTarget(t.name);
      const ts = this.queue.target(t.name);
      const count = (s: QueueEntry['state']) => es.filter((e) => e.state === s).length;
      return {
        name: t.name,
        queued: count('queued'),
        uploading: count('uploading'),
        done: this.ledger.count(t.name),
        failed: count('failed'),
        pendingBytes: es.reduce((a, e) => a + e.bytes, 0),
        lastSuccess: ts.lastSuccess,
        lastError: ts.lastError ?? this.targetProblem(t) ?? null,
      };
    });
  }

  status() {
    const targets = this.targetStatus();
    return {
      targets,
      paused: this.userPaused,
      capturePause: this.capturesInFlight > 0,
      running: this.rclone.running,
      rclonePid: this.rclone.pid ?? null,
      queueLength: targets.reduce((a, t) => a + t.queued + t.uploading + t.failed, 0),
      pendingBytes: targets.reduce((a, t) => a + t.pendingBytes, 0),
      lastSuccess: targets
        .map((t) => t.lastSuccess)
        .reduce<string | null>((a, b) => (b && (!a || b > a) ? b : a), null),
    };
  }

  /** One word for a photo's gallery badge (null: no target wants it). */
  photoState(id: string): { state: PhotoSyncState; targets: Record<string, PhotoSyncState> } | null {
    if (!this.targets.length) return null;
    const per: Record<string, PhotoSyncState> = {};
    for (const t of this.targets) {
      const es = this.queue.forPhoto(id).filter((e) => e.target === t.name);
      if (es.some((e) => e.state === 'failed')) per[t.name] = 'failed';
      else if (es.some((e) => e.state === 'uploading')) per[t.name] = 'uploading';
      else if (es.length) per[t.name] = 'queued';
      else if (!this.wants(t, ORIGINAL) || this.ledger.has(t.name, id, ORIGINAL)) per[t.name] = 'synced';
      else per[t.name] = 'queued';
    }
    const vals = Object.values(per);
    const state: PhotoSyncState = vals.includes('failed')
      ? 'failed'
      : vals.includes('uploading')
        ? 'uploading'
        : vals.includes('queued')
          ? 'queued'
          : 'synced';
    return { state, targets: per };
  }

  /** `pinhole sync now`, "Sync now": forget the backoff and start a pass. */
  syncNow(): ReturnType<SyncComponent['status']> {
    for (const t of this.targets) this.queue.target(t.name).nextTryAt = null;
    for (const e of this.queue.all()) if (e.state === 'failed') e.nextTryAt = undefined;
    this.queue.touch();
    this.kick();
    return this.status();
  }

  retry(): ReturnType<SyncComponent['status']> {
    this.queue.retryFailed();
    this.changed([...new Set(this.queue.all().map((e) => e.photoId))]);
    this.kick();
    return this.status();
  }

  pause(): ReturnType<SyncComponent['status']> {
    this.userPaused = true;
    clearTimeout(this.timer);
    this.rclone.pause();
    log.info('sync paused');
    return this.status();
  }

  resume(): ReturnType<SyncComponent['status']> {
    this.userPaused = false;
    if (this.capturesInFlight === 0) this.rclone.resume();
    log.info('sync resumed');
    this.kick();
    return this.status();
  }

  /** Resolves when nothing is queued or running (tests, the bench), or after `timeoutMs`. */
  async idle(timeoutMs = 60_000): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const busy = this.looping || this.queue.all().some((e) => e.state !== 'failed');
      if (!busy) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }

  controlMethods(): Record<string, ControlHandler> {
    return {
      'sync.status': async () => this.status(),
      'sync.now': async () => this.syncNow(),
      'sync.retry': async () => this.retry(),
      'sync.pause': async () => this.pause(),
      'sync.resume': async () => this.resume(),
    };
  }
}

async function linkOrSymlink(src: string, dst: string): Promise<void> {
  await fs.access(src);
  try {
    // A hard link costs nothing and pins this version of the file, even if the gallery replaces it meanwhile.
    await fs.link(src, dst);
  } catch {
    await fs.symlink(src, dst);
  }
}

function hashFile(file: string, algo: 'md5' | 'sha1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash(algo);
    createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

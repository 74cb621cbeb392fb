import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { createLogger } from '../../util/logger.js';

const log = createLogger('web.sessions');

export interface Session {
  /** sha256 of the cookie value: the file on disk never holds a usable session id. */
  key: string;
  csrf: string;
  createdAt: number;
  expiresAt: number;
  /** PasswordStore.stampOf() at login; a new password voids the session. */
  pwStamp: string;
}

const MAX_SESSIONS = 200;

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

function keyOf(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/**
 * Server-side sessions with 256-bit random ids. Kept in memory and mirrored (hashed) to
 * `<dataDir>/state/sessions.json` so a daemon restart does not log every phone out.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private saveTimer?: NodeJS.Timeout;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: string | null,
    private lifetimeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  static fileFor(dataDir: string): string {
    return path.join(dataDir, 'state', 'sessions.json');
  }

  setLifetime(ms: number): void {
    this.lifetimeMs = ms;
  }

  async load(): Promise<void> {
    if (!this.file) return;
    try {
      const list = JSON.parse(await fs.readFile(this.file, 'utf8')) as Session[];
      const now = this.now();
      for (const s of Array.isArray(list) ? list : []) {
        if (
          typeof s?.key === 'string' &&
          typeof s.csrf === 'string' &&
          typeof s.expiresAt === 'number' &&
          s.expiresAt > now
        )
          this.sessions.set(s.key, s);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        log.warn('ignoring unreadable sessions file', { file: this.file, error: e });
    }
  }

  create(pwStamp: string): { id: string; session: Session } {
    const id = newSecret();
    const now = this.now();
    const session: Session = {
      key: keyOf(id),
      csrf: newSecret(),
      createdAt: now,
      expiresAt: now + this.lifetimeMs,
      pwStamp,
    };
    this.prune();
    while (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
    this.sessions.set(session.key, session);
    this.scheduleSave();
    return { id, session };
  }

  get(id: string | undefined): Session | undefined {
    if (!id || id.length > 100) return undefined;
    const s = this.sessions.get(keyOf(id));
    if (!s) return undefined;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(s.key);
      this.scheduleSave();
      return undefined;
    }
    return s;
  }

  destroy(id: string | undefined): void {
    if (!id) return;
    if (this.sessions.delete(keyOf(id))) this.scheduleSave();
  }

  destroyKey(key: string): void {
    if (this.sessions.delete(key)) this.scheduleSave();
  }

  get size(): number {
    return this.sessions.size;
  }

  private prune(): void {
    const now = this.now();
    for (const [k, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(k);
  }

  private scheduleSave(): void {
    if (!this.file || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.saving = this.saving.then(() => this.save());
    }, 200);
    this.saveTimer.unref();
  }

  private async save(): Promise<void> {
    if (!this.file) return;
    try {
      await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
      await writeFileAtomic(this.file, JSON.stringify([...this.sessions.values()]), { mode: 0o600 });
    } catch (e) {
      log.warn('cannot save sessions', { error: e });
    }
  }

  async flush(): Promise<void> {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      this.saving = this.saving.then(() => this.save());
    }
    await this.saving;
  }
}

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ConflictError, ForbiddenError, RateLimitedError, UnauthorizedError } from '../../util/errors.js';
import { PasswordStore, verifyPassword } from './password.js';
import { LoginRateLimiter } from './rate-limit.js';
import { newSecret, type Session, SessionStore } from './sessions.js';

export const SESSION_COOKIE = 'pinhole_session';
export const CSRF_COOKIE = 'pinhole_csrf';
export const CSRF_HEADER = 'x-csrf-token';
const OTL_TTL_MS = 10 * 60_000;
const MAX_OTL = 20;
// A password or session id in a URL ends up in browser history and proxy logs just like a token: refuse them too.
const QUERY_TOKEN_KEYS = [
  'token',
  'access_token',
  'api_key',
  'apikey',
  'auth',
  'bearer',
  'session',
  'password',
  'pinhole_session',
];

export type Principal = { kind: 'session'; session: Session; sessionId: string } | { kind: 'token' };

export interface AuthSettings {
  dataDir: string;
  apiTokens: string[];
  sessionHours: number;
  /** Cookies get `Secure` (TLS on). */
  secure: boolean;
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || name in out) continue;
    try {
      out[name] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      // A malformed cookie is ignored, not an error.
    }
  }
  return out;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Constant-time over equal-length digests, so neither content nor length of a token leaks through timing. */
function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/**
 * Who is calling: a cookie session, an API token, or nobody. Also owns login (rate-limited), logout and the
 * one-time login links printed under `npm start`.
 */
export class Authenticator {
  readonly passwords: PasswordStore;
  readonly sessions: SessionStore;
  readonly limiter = new LoginRateLimiter();
  private readonly otl = new Map<string, number>();
  private settings: AuthSettings;

  constructor(settings: AuthSettings, now: () => number = Date.now) {
    this.settings = settings;
    this.passwords = new PasswordStore(settings.dataDir);
    this.sessions = new SessionStore(SessionStore.fileFor(settings.dataDir), settings.sessionHours * 3_600_000, now);
  }

  update(settings: Pick<AuthSettings, 'apiTokens' | 'sessionHours'>): void {
    this.settings = { ...this.settings, ...settings };
    this.sessions.setLifetime(settings.sessionHours * 3_600_000);
  }

  get secure(): boolean {
    return this.settings.secure;
  }

  /** Refuses credentials in the query string: they end up in logs, history and Referer headers. */
  rejectQueryTokens(url: URL): void {
    for (const k of QUERY_TOKEN_KEYS) {
      if (url.searchParams.has(k))
        throw new UnauthorizedError(
          'credentials in the query string are refused; use the Authorization header',
          'token-in-query',
        );
    }
  }

  /** Undefined when no credentials were sent; throws 401 for wrong ones. */
  async identify(req: IncomingMessage): Promise<Principal | undefined> {
    const authz = req.headers.authorization;
    if (authz !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authz);
      if (!m) throw new UnauthorizedError('unsupported Authorization header; use "Bearer <token>"', 'bad-token');
      const token = m[1];
      let ok = false;
      // Compare against every token (no early exit) so timing does not tell how many matched.
      for (const t of this.settings.apiTokens) ok = safeEqual(token, t) || ok;
      if (!ok) throw new UnauthorizedError('invalid API token', 'bad-token');
      return { kind: 'token' };
    }
    const id = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    const rec = await this.passwords.load();
    // Sessions from a one-time link made before any password was set carry the stamp ''.
    if ((rec ? PasswordStore.stampOf(rec) : '') !== session.pwStamp) {
      this.sessions.destroy(id);
      return undefined;
    }
    return { kind: 'session', session, sessionId: id };
  }

  async require(req: IncomingMessage): Promise<Principal> {
    const p = await this.identify(req);
    if (!p) throw new UnauthorizedError();
    return p;
  }

  /**
   * CSRF defence for cookie sessions on state-changing requests: the browser must say the request is
   * same-origin (Origin / Sec-Fetch-Site) and echo the session's CSRF token in a header, which a cross-site
   * form or fetch cannot read or set. Token-authenticated requests carry no ambient credentials: exempt.
   */
  checkCsrf(req: IncomingMessage, p: Principal): void {
    if (p.kind !== 'session') return;
    const site = req.headers['sec-fetch-site'];
    if (typeof site === 'string' && site !== 'same-origin' && site !== 'none')
      throw new ForbiddenError('cross-site request refused', 'csrf');
    const origin = req.headers.origin;
    if (origin !== undefined && !this.sameOrigin(req, origin))
      throw new ForbiddenError('cross-origin request refused', 'csrf');
    const token = req.headers[CSRF_HEADER];
    if (typeof token !== 'string' || !safeEqual(token, p.session.csrf))
      throw new ForbiddenError('missing or wrong CSRF token (header X-CSRF-Token)', 'csrf');
  }

  sameOrigin(req: IncomingMessage, origin: string): boolean {
    let o: URL;
    try {
      o = new URL(origin);
    } catch {
      return false;
    }
    return o.host === req.headers.host && o.protocol === (this.settings.secure ? 'https:' : 'http:');
  }

  async login(password: unknown, client: string): Promise<{ id: string; session: Session }> {
    const wait = this.limiter.attempt(client);
    if (wait > 0) throw new RateLimitedError(wait);
    const rec = await this.passwords.load();
    if (!rec)
      throw new ConflictError('no password is set: run `sudo pinhole passwd` on the camera (over SSH)', 'no-password');
    if (typeof password !== 'string' || password.length === 0 || !(await verifyPassword(password, rec))) {
      throw new UnauthorizedError('wrong password', 'bad-password');
    }
    this.limiter.reset(client);
    return this.sessions.create(PasswordStore.stampOf(rec));
  }

  /** A login link token: valid once, for 10 minutes. */
  createOneTimeLogin(now = Date.now()): string {
    for (const [t, exp] of this.otl) if (exp <= now) this.otl.delete(t);
    while (this.otl.size >= MAX_OTL) this.otl.delete(this.otl.keys().next().value as string);
    const token = newSecret();
    this.otl.set(token, now + OTL_TTL_MS);
    return token;
  }

  /** Consumes a one-time token; a session is made even before a password is set (dev convenience). */
  async consumeOneTimeLogin(token: string, now = Date.now()): Promise<{ id: string; session: Session } | undefined> {
    let found: string | undefined;
    for (const t of this.otl.keys()) if (safeEqual(t, token)) found = t;
    if (!found) return undefined;
    const exp = this.otl.get(found) ?? 0;
    this.otl.delete(found);
    if (exp <= now) return undefined;
    const rec = await this.passwords.load();
    return this.sessions.create(rec ? PasswordStore.stampOf(rec) : '');
  }

  sessionCookies(id: string, session: Session): string[] {
    const secure = this.settings.secure ? '; Secure' : '';
    const maxAge = Math.max(0, Math.floor((session.expiresAt - Date.now()) / 1000));
    return [
      `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure}`,
      // Readable by the page (double submit): the UI echoes it in X-CSRF-Token; the server checks it against the session.
      `${CSRF_COOKIE}=${session.csrf}; Path=/; SameSite=Strict; Max-Age=${maxAge}${secure}`,
    ];
  }

  clearCookies(): string[] {
    const secure = this.settings.secure ? '; Secure' : '';
    return [
      `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure}`,
      `${CSRF_COOKIE}=; Path=/; SameSite=Strict; Max-Age=0${secure}`,
    ];
  }
}

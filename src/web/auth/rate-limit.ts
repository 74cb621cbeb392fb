/**
 * Login attempts per client address: `perMinute` attempts in a sliding minute, then a lockout that doubles with
 * each further refused attempt (capped). Bounded: at most `maxClients` addresses are remembered.
 */
export interface RateLimitOptions {
  perMinute: number;
  baseLockoutMs: number;
  maxLockoutMs: number;
  maxClients: number;
  now?: () => number;
}

interface Entry {
  attempts: number[];
  lockedUntil: number;
  strikes: number;
}

export class LoginRateLimiter {
  private readonly clients = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(
    private readonly opts: RateLimitOptions = {
      perMinute: 5,
      baseLockoutMs: 60_000,
      maxLockoutMs: 15 * 60_000,
      maxClients: 1000,
    },
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Records an attempt; returns 0 when allowed, else the seconds to wait (the attempt is refused). */
  attempt(client: string): number {
    const now = this.now();
    let e = this.clients.get(client);
    if (!e) {
      if (this.clients.size >= this.opts.maxClients) this.clients.delete(this.clients.keys().next().value as string);
      e = { attempts: [], lockedUntil: 0, strikes: 0 };
      this.clients.set(client, e);
    }
    if (e.lockedUntil > now) {
      // Hammering while locked out extends the lockout (exponential backoff).
      e.lockedUntil = now + Math.min(this.opts.maxLockoutMs, this.opts.baseLockoutMs * 2 ** Math.min(e.strikes, 20));
      e.strikes++;
      return Math.ceil((e.lockedUntil - now) / 1000);
    }
    e.attempts = e.attempts.filter((t) => now - t < 60_000);
    if (e.attempts.length >= this.opts.perMinute) {
      e.lockedUntil = now + Math.min(this.opts.maxLockoutMs, this.opts.baseLockoutMs * 2 ** Math.min(e.strikes, 20));
      e.strikes++;
      return Math.ceil((e.lockedUntil - now) / 1000);
    }
    e.attempts.push(now);
    return 0;
  }

  /** A successful login forgets the client's failures. */
  reset(client: string): void {
    this.clients.delete(client);
  }
}

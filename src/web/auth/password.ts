import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { ValidationError } from '../../util/errors.js';

/**
 * The owner's password, stored as a scrypt hash in `<dataDir>/state/auth.json` (mode 0600). There is no default
 * password: until `pinhole passwd` writes this file, logins answer 409 `no-password`.
 */
export interface PasswordRecord {
  scheme: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  hash: string;
  updatedAt: string;
}

// N=2^14, r=8 costs ~16 MB and ~50 ms on a Pi 4: slow for guessing, fine for a login per minute.
const PARAMS = { N: 16384, r: 8, p: 1, keyLen: 32 };
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

export function authFilePath(dataDir: string): string {
  return path.join(dataDir, 'state', 'auth.json');
}

function scrypt(password: string, salt: Buffer, N: number, r: number, p: number, keyLen: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password.normalize('NFC'), salt, keyLen, { N, r, p, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export function checkPasswordStrength(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH)
    throw new ValidationError(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > MAX_PASSWORD_LENGTH)
    throw new ValidationError(`the password must have at most ${MAX_PASSWORD_LENGTH} characters`);
}

export async function hashPassword(password: string): Promise<PasswordRecord> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, PARAMS.N, PARAMS.r, PARAMS.p, PARAMS.keyLen);
  return {
    scheme: 'scrypt',
    N: PARAMS.N,
    r: PARAMS.r,
    p: PARAMS.p,
    salt: salt.toString('base64'),
    hash: key.toString('base64'),
    updatedAt: new Date().toISOString(),
  };
}

export async function verifyPassword(password: string, rec: PasswordRecord): Promise<boolean> {
  if (password.length > MAX_PASSWORD_LENGTH) return false;
  const expected = Buffer.from(rec.hash, 'base64');
  const key = await scrypt(password, Buffer.from(rec.salt, 'base64'), rec.N, rec.r, rec.p, expected.length);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

export async function writePassword(dataDir: string, password: string): Promise<PasswordRecord> {
  checkPasswordStrength(password);
  const rec = await hashPassword(password);
  const file = authFilePath(dataDir);
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o600 });
  return rec;
}

function isRecord(v: unknown): v is PasswordRecord {
  const r = v as PasswordRecord;
  return (
    typeof r === 'object' &&
    r !== null &&
    r.scheme === 'scrypt' &&
    Number.isInteger(r.N) &&
    r.N >= 1024 &&
    r.N <= 1 << 20 &&
    Number.isInteger(r.r) &&
    r.r >= 1 &&
    r.r <= 32 &&
    Number.isInteger(r.p) &&
    r.p >= 1 &&
    r.p <= 16 &&
    typeof r.salt === 'string' &&
    typeof r.hash === 'string' &&
    r.hash.length > 0
  );
}

/**
 * Reads auth.json, re-reading only when its mtime changes, so `pinhole passwd` takes effect on the running
 * daemon without a restart (and invalidates older sessions through `stamp`).
 */
export class PasswordStore {
  private cached?: { mtimeMs: number; rec: PasswordRecord | null };
  private lastCheck = 0;

  constructor(private readonly dataDir: string) {}

  get file(): string {
    return authFilePath(this.dataDir);
  }

  async load(): Promise<PasswordRecord | null> {
    const now = Date.now();
    if (this.cached && now - this.lastCheck < 1000) return this.cached.rec;
    this.lastCheck = now;
    let mtimeMs: number;
    try {
      mtimeMs = (await fs.stat(this.file)).mtimeMs;
    } catch {
      this.cached = { mtimeMs: 0, rec: null };
      return null;
    }
    if (this.cached && this.cached.mtimeMs === mtimeMs) return this.cached.rec;
    let rec: PasswordRecord | null = null;
    try {
      const parsed: unknown = JSON.parse(await fs.readFile(this.file, 'utf8'));
      rec = isRecord(parsed) ? parsed : null;
    } catch {
      rec = null;
    }
    this.cached = { mtimeMs, rec };
    return rec;
  }

  /** Changes whenever the password changes; sessions made under another stamp are void. */
  static stampOf(rec: PasswordRecord): string {
    return rec.hash.slice(0, 16);
  }
}

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { readNewPassword } from '../../src/cli/commands/passwd.js';
import { authFilePath, PasswordStore, verifyPassword, writePassword } from '../../src/web/auth/password.js';
import { LoginRateLimiter } from '../../src/web/auth/rate-limit.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A stand-in terminal: raw mode is recorded, keystrokes are pushed as data. */
function fakeTty(keys: string[]): PassThrough & { isTTY: boolean; raw: boolean[]; setRawMode(m: boolean): void } {
  const s = new PassThrough() as PassThrough & { isTTY: boolean; raw: boolean[]; setRawMode(m: boolean): void };
  s.isTTY = true;
  s.raw = [];
  s.setRawMode = (m) => s.raw.push(m);
  let i = 0;
  const pushNext = () => {
    if (i < keys.length) setTimeout(() => s.write(keys[i++]), 5);
  };
  s.on('resume', pushNext);
  return s;
}

describe('pinhole passwd', () => {
  it('reads the first line of stdin when it is not a terminal', async () => {
    expect(await readNewPassword(Readable.from(['my secret pass\r\n', 'ignored\n']), new PassThrough())).toBe(
      'my secret pass',
    );
  });

  it('asks twice on a terminal without echo, with backspace, and refuses a mismatch', async () => {
    const out = new PassThrough();
    let shown = '';
    out.on('data', (c) => (shown += String(c)));
    const tty = fakeTty(['secret1234x\u007f\r', 'secret1234\r']);
    expect(await readNewPassword(tty, out)).toBe('secret1234');
    expect(shown).toContain('New password: ');
    expect(shown).not.toContain('secret'); // never echoed
    expect(tty.raw).toEqual([true, false, true, false]);
    await expect(readNewPassword(fakeTty(['secret1234\r', 'secret9999\r']), new PassThrough())).rejects.toThrow(
      /differ/,
    );
    await expect(readNewPassword(fakeTty(['short\r']), new PassThrough())).rejects.toThrow(/at least 8/);
  });

  it('stores a scrypt hash atomically with mode 0600, and verifies it', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-passwd-'));
    await expect(writePassword(dir, 'short')).rejects.toThrow(/at least 8/);
    await writePassword(dir, 'a good password');
    const file = authFilePath(dir);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    const text = await fs.readFile(file, 'utf8');
    expect(text).not.toContain('a good password');
    expect((await fs.readdir(path.dirname(file))).filter((n) => n.startsWith('.pinhole-tmp-'))).toEqual([]);
    const rec = await new PasswordStore(dir).load();
    expect(rec?.scheme).toBe('scrypt');
    expect(await verifyPassword('a good password', rec!)).toBe(true);
    expect(await verifyPassword('a good passworD', rec!)).toBe(false);
  });

  it('a corrupt auth.json counts as no password (login says no-password, never crashes)', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-passwd-'));
    await fs.mkdir(path.join(dir, 'state'));
    await fs.writeFile(authFilePath(dir), '{"scheme":"scrypt","N":2');
    expect(await new PasswordStore(dir).load()).toBeNull();
  });
});

describe('login rate limiter', () => {
  it('allows 5 a minute, then locks out with a growing backoff, and forgets after success', () => {
    let now = 1_000_000;
    const rl = new LoginRateLimiter({
      perMinute: 5,
      baseLockoutMs: 60_000,
      maxLockoutMs: 900_000,
      maxClients: 3,
      now: () => now,
    });
    for (let i = 0; i < 5; i++) expect(rl.attempt('a')).toBe(0);
    expect(rl.attempt('a')).toBe(60);
    expect(rl.attempt('b')).toBe(0); // other clients are not affected
    now += 61_000;
    for (let i = 0; i < 5; i++) expect(rl.attempt('a')).toBe(0);
    expect(rl.attempt('a')).toBe(120); // second lockout doubles
    expect(rl.attempt('a')).toBe(240); // hammering while locked extends it
    rl.reset('a');
    expect(rl.attempt('a')).toBe(0);
  });

  it('remembers a bounded number of clients', () => {
    const rl = new LoginRateLimiter({ perMinute: 1, baseLockoutMs: 60_000, maxLockoutMs: 60_000, maxClients: 2 });
    rl.attempt('a');
    expect(rl.attempt('a')).toBeGreaterThan(0);
    rl.attempt('b');
    rl.attempt('c'); // evicts a
    expect(rl.attempt('a')).toBe(0);
  });
});

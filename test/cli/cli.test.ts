import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliSync } from '../helpers/daemon.js';
import { repoRoot, tempDir } from '../helpers/tmp.js';

describe('pinhole CLI', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => {
    t = tempDir();
  });
  afterEach(() => t.cleanup());

  it('prints help and version', async () => {
    const help = runCliSync(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('config check');
    expect(help.stdout).toContain('status');
    const pkg = JSON.parse((await import('node:fs')).readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(runCliSync(['--version']).stdout.trim()).toBe(pkg.version);
    const sub = runCliSync(['config', 'check', '--help']);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain('Usage: pinhole config check');
  });

  it('rejects unknown commands and options with exit 2', () => {
    const r = runCliSync(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
    const o = runCliSync(['status', '--bogus']);
    expect(o.code).toBe(2);
    expect(o.stderr).toMatch(/bogus/);
    const g = runCliSync(['config']);
    expect(g.code).toBe(2);
    expect(g.stderr).toContain('pinhole config check');
  });

  it('config check: ok for a valid file, every error and exit 1 for a bad one', () => {
    const good = path.join(t.dir, 'good.yaml');
    writeFileSync(good, 'web:\n  port: 8080\n');
    const ok = runCliSync(['config', 'check', '--config', good]);
    expect(ok).toMatchObject({ code: 0, stdout: 'ok\n' });
    const bad = path.join(t.dir, 'bad.yaml');
    writeFileSync(bad, 'web:\n  port: -1\ncamera:\n  backend: sim\n  nonsenseKey: 1\n');
    const r = runCliSync(['config', 'check', '--config', bad]);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([
      'web.port: must be >= 0 (out of range) (line 2)',
      'camera.nonsenseKey: unknown key (line 5)',
    ]);
  });

  it('config check honours $PINHOLE_CONFIG and names a missing file', () => {
    const missing = path.join(t.dir, 'nope.yaml');
    const r = runCliSync(['config', 'check'], { env: { PINHOLE_CONFIG: missing } });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`cannot read ${missing}: file not found`);
  });

  it('config init writes a commented example that validates, and never overwrites', () => {
    const file = path.join(t.dir, 'sub', 'config.yaml');
    expect(runCliSync(['config', 'init', '--config', file]).code).toBe(0);
    expect(runCliSync(['config', 'check', '--config', file]).stdout).toBe('ok\n');
    const again = runCliSync(['config', 'init', '--config', file]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('already exists');
  });

  it('config show prints defaults merged with the file', () => {
    const file = path.join(t.dir, 'c.yaml');
    writeFileSync(file, 'camera:\n  preview:\n    fps: 10\n');
    const r = runCliSync(['config', 'show', '--json', '--config', file]);
    const cfg = JSON.parse(r.stdout) as { camera: { preview: { fps: number; width: number } }; web: { port: number } };
    expect(cfg.camera.preview).toMatchObject({ fps: 10, width: 640 });
    expect(cfg.web.port).toBe(8080);
  });

  it('status says clearly when the daemon is not running', () => {
    const file = path.join(t.dir, 'c.yaml');
    writeFileSync(file, `control:\n  socket: ${path.join(t.dir, 'x.sock')}\n`);
    const r = runCliSync(['status', '--config', file]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('daemon is not running');
  });
});

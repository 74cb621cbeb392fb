import { execFile, execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../src/doctor/types.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const cli = path.join(repoRoot, 'dist/src/cli/main.js');
const sharedModels = path.resolve(repoRoot, '../shared/models');

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd: repoRoot, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(() => {
  // `npm test` builds first; build here too when run alone.
  if (!existsSync(cli)) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, stdio: 'inherit' });
}, 120_000);
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pinhole-doctor-cli-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const onThisMachinePi = existsSync('/proc/device-tree/model');

describe('pinhole doctor (built CLI, this machine)', () => {
  it.skipIf(onThisMachinePi)(
    'reports "not a Raspberry Pi", skips Pi-only checks and exits 0 when models verify',
    async () => {
      const cfg = path.join(dir, 'config.yaml');
      await fs.writeFile(cfg, `dataDir: ${dir}\nmodels:\n  dir: ${sharedModels}\n`);
      const r = await runCli(['doctor', '--json', '--config', cfg]);
      const report = JSON.parse(r.stdout) as DoctorReport;
      expect(report.board.id).toBe('not-pi');
      const status = Object.fromEntries(report.checks.map((c) => [c.id, c.status]));
      expect(status).toMatchObject({
        config: 'ok',
        board: 'skip',
        camera: 'skip',
        gpio: 'skip',
        groups: 'skip',
        throttling: 'skip',
        models: 'ok',
        'os-64bit': 'ok',
      });
      expect(r.code).toBe(report.ok ? 0 : 1);
      expect(report.ok, JSON.stringify(report.checks.filter((c) => c.status === 'fail'))).toBe(true);
    },
  );

  it('reports an invalid config as a failed check, keeps checking, and exits 1', async () => {
    const cfg = path.join(dir, 'config.yaml');
    await fs.writeFile(cfg, 'camera:\n  backnd: rpicam\n');
    const r = await runCli(['doctor', '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL\s+Config\s+.*config\.yaml is invalid/);
    expect(r.stdout).toContain('backnd');
    expect(r.stdout).toMatch(/Disk space/);
  });
});

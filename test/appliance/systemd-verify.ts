import { execFile, execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export function hasSystemdAnalyze(): boolean {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `systemd-analyze verify` on a copy of `unitFile` in which the install paths point at things that exist on this
 * machine (this Node for the installer's @NODE@, `appDir` for /opt/pinhole). Returns the exit code and the diagnostics that
 * concern the unit (systemd-analyze prints unknown keys and bad values as warnings with exit code 0).
 */
export async function verifyUnit(
  unitFile: string,
  workDir: string,
  appDir: string,
): Promise<{ code: number; problems: string[]; stderr: string }> {
  const text = (await fs.readFile(unitFile, 'utf8'))
    .replaceAll('@NODE@', process.execPath)
    .replaceAll('/opt/pinhole', appDir);
  const dir = path.join(workDir, 'verify');
  await fs.mkdir(dir, { recursive: true });
  const copy = path.join(dir, 'pinhole.service');
  await fs.writeFile(copy, text);
  return new Promise((resolve) => {
    execFile('systemd-analyze', ['verify', copy], { cwd: dir, timeout: 30_000 }, (err, _stdout, stderr) => {
      const code = err ? Number((err as { code?: number }).code ?? 1) : 0;
      const problems = stderr.split('\n').filter((l) => l.includes('pinhole.service'));
      resolve({ code, problems, stderr });
    });
  });
}

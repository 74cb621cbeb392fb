import { type BoardInfo, detectBoard, profileFor } from '../config/board-profile.js';
import type { PinholeConfig } from '../config/schema.js';
import { errorMessage } from '../util/errors.js';
import { ALL_CHECKS, type DoctorContext } from './checks.js';
import type { DoctorSystem } from './system.js';
import type { CheckResult, CheckStatus, DoctorReport } from './types.js';

export interface DoctorOptions {
  sys: DoctorSystem;
  config: PinholeConfig;
  /** Result of loading the config file, reported first (the CLI knows whether it exists and is valid). */
  configCheck?: CheckResult;
  manifestFile?: string;
}

/** Runs every check; a check that throws is reported as a failure of that check, never as a crash. */
export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  const board: BoardInfo = await detectBoard({
    model: opts.sys.paths.deviceTreeModel,
    meminfo: opts.sys.paths.meminfo,
  });
  const ctx: DoctorContext = { sys: opts.sys, config: opts.config, board, manifestFile: opts.manifestFile };
  const checks: CheckResult[] = opts.configCheck ? [opts.configCheck] : [];
  for (const check of ALL_CHECKS) {
    try {
      checks.push(await check(ctx));
    } catch (e) {
      checks.push({
        id: check.name.replace(/^check/, '').toLowerCase(),
        title: check.name,
        status: 'fail',
        message: `check crashed: ${errorMessage(e)}`,
      });
    }
  }
  const summary: Record<CheckStatus, number> = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const c of checks) summary[c.status]++;
  return { ok: summary.fail === 0, board: { ...board, profile: profileFor(board).name }, summary, checks };
}

const LABEL: Record<CheckStatus, string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

export function formatReport(r: DoctorReport): string[] {
  const lines: string[] = [];
  const what = r.board.id === 'not-pi' ? 'not a Raspberry Pi' : (r.board.model ?? r.board.id);
  lines.push(`Pinhole doctor: ${what} (board profile: ${r.board.profile})`);
  const width = Math.max(...r.checks.map((c) => c.title.length));
  for (const c of r.checks) {
    lines.push(`  ${LABEL[c.status].padEnd(4)}  ${c.title.padEnd(width)}  ${c.message}`);
    if (c.fix && (c.status === 'warn' || c.status === 'fail'))
      lines.push(`  ${''.padEnd(4)}  ${''.padEnd(width)}  fix: ${c.fix}`);
  }
  const s = r.summary;
  lines.push(`${s.ok} ok, ${s.warn} warning(s), ${s.fail} failure(s), ${s.skip} skipped`);
  return lines;
}

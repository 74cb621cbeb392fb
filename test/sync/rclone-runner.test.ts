import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RcloneRunner } from '../../src/sync/rclone.js';
import { tempDir } from '../helpers/tmp.js';

const t = tempDir('pinhole-runner-');
afterAll(() => t.cleanup());

/** /proc/PID/stat fields from the 3rd on (proc(5)): the command name may hold spaces, so split after ')'. */
function statOf(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}
const niceOf = (pid: number) => Number(statOf(pid)[16]);
const stateOf = (pid: number) => statOf(pid)[0];

describe('RcloneRunner: the child runs behind the daemon', () => {
  it('is niced, and so is its own session scheduling group (autogroup), and SIGSTOP pauses it', async () => {
    // The runner execs `nice -n N <command>`: a sleep stands in for rclone, the scheduling is what is tested.
    const runner = new RcloneRunner({ command: 'sleep', pidFile: path.join(t.dir, 'run', 'rclone.pid'), nice: 17 });
    const done = runner.run(['30']);
    const pid = runner.pid ?? 0;
    expect(pid).toBeGreaterThan(0);
    const end = Date.now() + 20_000;
    const autogroup = `/proc/${pid}/autogroup`;
    const hasAutogroup =
      existsSync(autogroup) && readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1';
    while (Date.now() < end) {
      const agOk = !hasAutogroup || / nice 17$/.test(readFileSync(autogroup, 'utf8').trim());
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep') && niceOf(pid) === 17 && agOk) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(niceOf(pid)).toBe(17);
    // Its own session (detached: the process group can be stopped and killed as one) ...
    expect(Number(statOf(pid)[3])).toBe(pid); // session id
    // ... whose scheduling group is niced too, where the kernel has autogroups (this machine: enabled).
    if (hasAutogroup) expect(readFileSync(autogroup, 'utf8').trim()).toMatch(/ nice 17$/);
    runner.pause();
    // A stopped child shows T; on a busy machine a group at nice 17 may wait a while to be scheduled and stop.
    const stopBy = Date.now() + 30_000;
    while (stateOf(pid) !== 'T' && Date.now() < stopBy) await new Promise((r) => setTimeout(r, 50));
    expect(stateOf(pid)).toBe('T');
    runner.resume();
    await runner.stop();
    const r = await done;
    expect(r.signal ?? r.code).toBeTruthy();
    expect(existsSync(path.join(t.dir, 'run', 'rclone.pid'))).toBe(false);
  }, 60_000);
});

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Asks systemd for a clean power-off (the daemon is stopped like any other unit first). Needs a polkit rule or
 * sudoers entry for the daemon user; the appliance installer provides it. Only GpioComponent's shutdown path on a
 * real Pi backend ever reaches this.
 */
export async function requestPoweroff(systemctl = 'systemctl'): Promise<void> {
  await run(systemctl, ['poweroff'], { timeout: 10_000 });
}

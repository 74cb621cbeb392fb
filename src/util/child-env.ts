/**
 * Variables that tune the daemon's own process and must not leak into the programs it runs. glibc reads its malloc
 * tuning from the environment at start, so a child inherits it unless it is removed: the systemd unit's
 * `MALLOC_MMAP_THRESHOLD_=131072` (chosen for the daemon's onnxruntime buffers) made every frame buffer of the
 * camera process an mmap/munmap pair, and the fake rpicam-vid used 24–27 % of a core with it against 8–9 % without.
 * `NOTIFY_SOCKET` and `WATCHDOG_*` belong to the daemon: a child must never report READY or ping the watchdog for it.
 */
const DAEMON_ONLY = /^(MALLOC_[A-Z_]+|GLIBC_TUNABLES|NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID)$/;

/**
 * The environment for a child process: `base` (default: the daemon's) without the daemon's malloc tuning and
 * systemd channels, plus `extra` (undefined values remove a variable). A child that wants its own malloc tuning
 * (the filter worker) passes it in `extra`.
 */
export function childEnv(
  base: NodeJS.ProcessEnv = process.env,
  extra: Record<string, string | undefined> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !DAEMON_ONLY.test(k)) env[k] = v;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** True when `name` is daemon-only tuning that childEnv() removes (for tests and diagnostics). */
export function isDaemonOnlyVar(name: string): boolean {
  return DAEMON_ONLY.test(name);
}

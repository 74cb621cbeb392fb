import { spawn } from 'node:child_process';

/**
 * For the image commands (`filter`, `night`, `scan`): glibc keeps freed multi-MB tensor buffers in per-thread arenas
 * and grows its mmap threshold, so a model filter's RSS creeps to ~2× its working set (measured 312 MB vs 186 MB on
 * a 1 MP denoise). The variables are read only at process start, hence one re-exec with them set (the systemd unit
 * sets them for the daemon).
 */
export function needsSmallHeap(): boolean {
  return process.env.PINHOLE_FILTER_CHILD !== '1' && process.env.MALLOC_ARENA_MAX === undefined;
}

export function reexecWithSmallHeap(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: {
        ...process.env,
        PINHOLE_FILTER_CHILD: '1',
        MALLOC_ARENA_MAX: '2',
        MALLOC_MMAP_THRESHOLD_: '65536',
        VIPS_CONCURRENCY: process.env.VIPS_CONCURRENCY ?? '1',
      },
    });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.once('SIGINT', forward).once('SIGTERM', forward);
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { unitMallocEnv } from '../../src/util/unit-env.js';

describe('unitMallocEnv', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const unit = (text: string) => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pinhole-unit-env-'));
    const file = path.join(dir, 'pinhole.service');
    writeFileSync(file, text);
    return file;
  };

  it('reads the shipped unit: the values a benchmark gives its daemon are the ones systemd gives it', () => {
    const env = unitMallocEnv();
    expect(Number(env.MALLOC_MMAP_THRESHOLD_)).toBeGreaterThan(0);
    expect(env.MALLOC_ARENA_MAX).toBe('2');
    expect(Object.keys(env).every((k) => k.startsWith('MALLOC_'))).toBe(true);
  });

  it('takes only MALLOC_ variables, one per line or several on a line', () => {
    const file = unit(
      [
        '[Service]',
        'Environment=MALLOC_ARENA_MAX=4 NODE_ENV=production',
        'Environment=MALLOC_MMAP_THRESHOLD_=65536',
        '# Environment=MALLOC_TRIM_THRESHOLD_=1',
        'Environment=UV_THREADPOOL_SIZE=2',
      ].join('\n'),
    );
    expect(unitMallocEnv(file)).toEqual({ MALLOC_ARENA_MAX: '4', MALLOC_MMAP_THRESHOLD_: '65536' });
  });

  it('says which file lacks the threshold rather than measuring a daemon without it', () => {
    const file = unit('[Service]\nEnvironment=MALLOC_ARENA_MAX=2\n');
    expect(() => unitMallocEnv(file)).toThrow(/pinhole\.service: no Environment=MALLOC_MMAP_THRESHOLD_/);
  });
});

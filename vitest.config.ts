import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/device/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Camera and daemon tests spawn real subprocesses; two workers match the two cores here and on CI.
    maxWorkers: 2,
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // The default output, then one plain closing line `N passed, N failed` (test/support/summary-reporter.ts).
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});

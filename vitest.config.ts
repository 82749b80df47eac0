import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests spawn real processes and open real LevelDB folders; two cores here.
    pool: 'forks',
    maxWorkers: 2,
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/browser/**/*.test.ts'],
    globalSetup: ['test/setup/build-demo.ts'],
    pool: 'forks',
    // SwiftShader is a CPU driver: two files at a time fill this machine's two cores
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 5_000,
  },
});

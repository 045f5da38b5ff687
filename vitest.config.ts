import { defineConfig } from 'vitest/config';
import SlowestFirstSequencer from './test/sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The SDK's native module is not safe in worker threads: one process per test file.
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/setup-runtime.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    // Most test time is waiting (heartbeat timeouts, subprocesses, Temporal): run files side by side.
    maxWorkers: 3,
    sequence: { sequencer: SlowestFirstSequencer },
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration and end-to-end tests share one local Cassandra and MinIO: run files one at a time.
    fileParallelism: false,
    // End-to-end tests run whole state machines on 2 cores; limits only stop a hung test.
    testTimeout: 900_000,
    hookTimeout: 900_000,
    allowOnly: false,
    reporters: ['default'],
    // Handlers' structured log lines (CloudWatch in AWS) would drown the test report.
    onConsoleLog: (log) => !/^\{"(level|_aws)"/.test(log),
  },
});

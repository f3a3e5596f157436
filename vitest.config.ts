import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Reporters: the default one, plus under CI a JSON report per run that `.ci/run` sums into one
 * closing line ("N passed, N failed").
 */
export function reporters(run: string): (string | [string, Record<string, unknown>])[] {
  return process.env.CI ? ['default', ['json', { outputFile: `.ci/results/${run}.json` }]] : ['default'];
}

/** Options shared by the main run and the three-node run (vitest.three-node.config.ts). */
export const sharedTestOptions = {
  // Integration and end-to-end tests share one local Cassandra and MinIO: run files one at a time.
  fileParallelism: false,
  // End-to-end tests run whole state machines on 2 cores; limits only stop a hung test.
  testTimeout: 900_000,
  hookTimeout: 900_000,
  allowOnly: false,
  // Handlers' structured log lines (CloudWatch in AWS) would drown the test report.
  onConsoleLog: (log: string) => !/^\{"(level|_aws)"/.test(log),
};

export default defineConfig({
  test: {
    ...sharedTestOptions,
    reporters: reporters('main'),
    include: ['test/**/*.test.ts'],
    // Opt-in, each with its own config: the three-node tests (`npm run test:three-node`, a stack of their
    // own, ~11 minutes: out of `npm test` to keep CI under 45 minutes), the Cassandra 4.1 drills
    // (`npm run test:cassandra-4.1`), the fault matrix (`npm run test:faults`) and the long end-to-end
    // tests (`npm run test:slow`: the purge after a real grace period, the drill from the archive).
    exclude: [
      ...configDefaults.exclude,
      'test/three-node/**',
      'test/cassandra-versions/**',
      'test/faults/**',
      'test/slow/**',
    ],
  },
});

import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { reporters, sharedTestOptions } from './vitest.config.js';

// Opt-in (`npm run test:cassandra-4.1`): the DR drill on Cassandra 4.1 (Java 11) and from 4.1 into 5.0,
// on a stack of its own (state in .local-stack-4.1, other ports), so the main stack is left as it is.
export default defineConfig({
  test: {
    ...sharedTestOptions,
    reporters: reporters('cassandra-4.1'),
    include: ['test/cassandra-versions/**/*.test.ts'],
    env: {
      WIRE_STACK_DIR: join(import.meta.dirname, '.local-stack-4.1'),
      WIRE_STACK_CLUSTER_NAME: 'wire-c41',
      WIRE_STACK_CQL_PORT: '9242',
      WIRE_STACK_STORAGE_PORT: '7200',
      WIRE_STACK_JMX_PORT: '8399',
      WIRE_STACK_MINIO_PORT: '9400',
      WIRE_STACK_VAULT_PORT: '9500',
      WIRE_STACK_TIMEOUT: '400',
    },
  },
});

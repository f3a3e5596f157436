import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { reporters, sharedTestOptions } from './vitest.config.js';

// The three-node tests run a stack of their own (127.0.0.1-3 on other ports, state in
// .local-stack-3nodes), so the main one-node stack is left as it is. Opt-in: `npm run test:three-node`.
export default defineConfig({
  test: {
    ...sharedTestOptions,
    reporters: reporters('three-node'),
    include: ['test/three-node/**/*.test.ts'],
    env: {
      WIRE_STACK_DIR: join(import.meta.dirname, '.local-stack-3nodes'),
      WIRE_STACK_CQL_PORT: '9142',
      WIRE_STACK_STORAGE_PORT: '7100',
      WIRE_STACK_JMX_PORT: '8199',
      WIRE_STACK_MINIO_PORT: '9200',
      WIRE_STACK_VAULT_PORT: '9300',
      // Its PostgreSQL pair too: the main stack's (5432/5532 by default) keeps running meanwhile.
      WIRE_STACK_PG_PORT: '5435',
      WIRE_STACK_PG_STANDBY_PORT: '5535',
      WIRE_STACK_TIMEOUT: '400',
    },
  },
});

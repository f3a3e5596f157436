import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { reporters, sharedTestOptions } from './vitest.config.js';

// PostgreSQL tests on a stack of their own (state in .local-stack-pg, other ports), so the shared
// stack is left alone: `bin/node22 node_modules/vitest/vitest.mjs run --config vitest.postgresql.config.ts`.
export default defineConfig({
  test: {
    ...sharedTestOptions,
    reporters: reporters('postgresql'),
    include: ['test/integration/postgresql-*.test.ts'],
    env: {
      WIRE_STACK_DIR: join(import.meta.dirname, '.local-stack-pg'),
      WIRE_STACK_CQL_PORT: '9342',
      WIRE_STACK_STORAGE_PORT: '7300',
      WIRE_STACK_JMX_PORT: '8599',
      WIRE_STACK_MINIO_PORT: '9600',
      WIRE_STACK_VAULT_PORT: '9700',
      WIRE_STACK_PG_PORT: '5433',
      WIRE_STACK_PG_STANDBY_PORT: '5434',
      WIRE_STACK_TIMEOUT: '400',
    },
  },
});

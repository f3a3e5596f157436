import { defineConfig } from 'vitest/config';
import { reporters, sharedTestOptions } from './vitest.config.js';

// The two PostgreSQL integration files alone (they are in the default run too), on the stack the
// environment names (WIRE_STACK_DIR and ports, as `wire-stack` reads them; the default stack if unset):
// `bin/node22 node_modules/vitest/vitest.mjs run --config vitest.postgresql.config.ts`.
export default defineConfig({
  test: {
    ...sharedTestOptions,
    reporters: reporters('postgresql'),
    include: ['test/integration/postgresql-*.test.ts'],
  },
});

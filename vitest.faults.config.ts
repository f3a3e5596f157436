import { defineConfig } from 'vitest/config';
import { reporters, sharedTestOptions } from './vitest.config.js';

/**
 * The fault matrix (`npm run test:faults`, opt-in: about half an hour on 2 cores): every fault of
 * `test/faults/` injected through the fault harness (`local/faults/`), each followed by a clean run,
 * and a restore of the last backup compared with the seeded data. Needs the local stack
 * (`wire-stack up`) and toxiproxy (`wire-stack install` builds it). The two must-show vault outages
 * run in the default suite (`test/e2e/vault-outage.test.ts`).
 */
export default defineConfig({
  test: {
    ...sharedTestOptions,
    reporters: reporters('faults'),
    include: ['test/faults/**/*.test.ts'],
  },
});

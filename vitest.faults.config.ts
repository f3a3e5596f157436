import { defineConfig } from 'vitest/config';
import { reporters, sharedTestOptions } from './vitest.config.js';

/**
 * The fault tests (`npm run test:faults`, opt-in: about 45 minutes on 2 cores): the two vault outages
 * (`vault-outage.test.ts`: shorter and longer than the outage budget) and the fault matrix
 * (`fault-matrix.test.ts`: every fault injected through the fault harness, `local/faults/`, each followed
 * by a clean run, then a restore of the last backup compared with the seeded data; its staging-disk row
 * mounts a tmpfs: run as root), the runner killed mid-batch (`runner-killed.test.ts`) and a node down
 * mid-restore (`restore-node-down.test.ts`). Needs the local stack (`wire-stack up`) and toxiproxy (`wire-stack install` builds it). Not in `npm test`: the vault
 * outages alone took 7 minutes there (a synth of their configuration, a seed and two backups).
 */
export default defineConfig({
  test: {
    ...sharedTestOptions,
    reporters: reporters('faults'),
    include: ['test/faults/**/*.test.ts'],
  },
});

import { defineConfig } from 'vitest/config';
import { reporters, sharedTestOptions } from './vitest.config.js';

/**
 * The purge after a real grace period (`npm run test:purge`, opt-in: about 75 minutes, most of it
 * waiting for the first backup's objects to pass `graceHours`, whose minimum is one hour). Needs the
 * local stack (`wire-stack up`). Not in `npm test`: CI has 45 minutes.
 */
export default defineConfig({
  test: {
    ...sharedTestOptions,
    reporters: reporters('purge'),
    include: ['test/slow/**/*.test.ts'],
  },
});

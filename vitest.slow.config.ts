import { defineConfig } from 'vitest/config';
import { reporters, sharedTestOptions } from './vitest.config.js';

/**
 * The long end-to-end tests (`npm run test:slow`, opt-in; needs the local stack, `wire-stack up`; not in
 * `npm test`, which must stay under 45 minutes in CI):
 * - `purge-after-grace.test.ts`: a real purge once a real backup's objects are past `graceHours` (minimum
 *   one hour), then the kept backup restored with 0 differences — about 80 minutes, most of it waiting;
 * - `restore-archive.test.ts`: the drill from the cross-region archive with the primary vault emptied,
 *   and the refusals of a restore from the archive — 7 to 20 minutes on 2 cores.
 */
export default defineConfig({
  test: {
    ...sharedTestOptions,
    reporters: reporters('slow'),
    include: ['test/slow/**/*.test.ts'],
  },
});

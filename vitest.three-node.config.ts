import { defineConfig } from 'vitest/config';
import { sharedTestOptions } from './vitest.config.js';

// The three-node tests replace the local Cassandra cluster: they run after the others, on their own.
export default defineConfig({ test: { ...sharedTestOptions, include: ['test/three-node/**/*.test.ts'] } });

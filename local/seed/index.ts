/**
 * Wire-shaped seed data for the local stack and the comparison the DR drill uses: seed, mutate,
 * snapshot, diff. See `seed-wire.ts`, `mutate-wire.ts`, `snapshot.ts` and `diff.ts`.
 */

export { selectComponents, type WireComponents } from './components.js';
export {
  type DifferenceArea,
  type DiffOptions,
  diffSnapshots,
  formatDifferences,
  type SnapshotDifference,
} from './diff.js';
export { type MutateOptions, type MutateResult, mutateWire, rowKey, type TouchedRow } from './mutate-wire.js';
export { canonicalJson, type Json, normalizeValue } from './normalize.js';
export type { ProgressListener, SeedPhase, SeedProgress } from './progress.js';
export { seededKeyspaces, seededTables } from './schema.js';
export {
  defaultSeed,
  type SeedComponents,
  type SeedOptions,
  type SeedResult,
  seedWire,
} from './seed-wire.js';
export { planForSize, type SeedPlan, type SeedSize } from './size-plan.js';
export {
  type SnapshotDetail,
  type SnapshotOptions,
  snapshotWire,
  type WireSnapshot,
} from './snapshot.js';
export { readSnapshotFile, writeSnapshotFile } from './snapshot-file.js';

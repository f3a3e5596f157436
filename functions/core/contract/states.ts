import type { z } from 'zod';
import type {
  BackupResults,
  BackupSummary,
  BucketBackupPlan,
  BucketFinalized,
  BucketResult,
  NodeManifestSummary,
  PlannedNode,
  PostgresqlBackupResult,
  PostgresqlPreflight,
  PreflightedPlan,
  preflightResultsSchema,
  WireServerResult,
} from './backup.js';
import type { CaughtError } from './common.js';
import type {
  PostgresqlRestoreResult,
  RestoreChecks,
  RestoreNodeAssignment,
  RestorePlan,
  RestoreReport,
  RestoreResults,
  RestoreTargets,
  RestoreVerified,
} from './restore.js';

/**
 * The states the state machines pass from step to step, as types: what `statemachines/` builds its
 * JSONPaths from (`pathsOf<BackupState>()`), so a path names a field the contract has.
 */

/** What a host script reports about the wire-server archive it wrote. */
export interface ArchiveResult {
  readonly key: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly versionId?: string;
}

/** What Plan MinIO / Plan Object Restore return: the JSONL index the Distributed Map reads. */
export interface BatchPlan {
  readonly batchesKey: string;
  readonly batches: number;
}

/** The backup execution's state (top level). */
export interface BackupState {
  readonly plan: PreflightedPlan;
  readonly preflight: z.infer<typeof preflightResultsSchema>;
  /** The deploy host's preflight (inside the Preflight Parallel). */
  readonly deployHost: Readonly<Record<string, unknown>>;
  /** The source MinIO's preflight (inside the Preflight Parallel). */
  readonly minio: Readonly<Record<string, unknown>>;
  readonly archive: ArchiveResult;
  /** The PostgreSQL preflight's report (inside the Preflight Parallel). */
  readonly postgresqlPreflight: PostgresqlPreflight;
  /** The PostgreSQL base backup's report (inside the Back Up Parallel). */
  readonly postgresqlBackup: PostgresqlBackupResult;
  readonly wireServer: WireServerResult;
  /** What the Plan MinIO Map returned: each bucket's plan (counts; the batch files are in the vault). */
  readonly minioBucketPlans: readonly BucketBackupPlan[];
  /** What the Finalize MinIO Map returned: each bucket's result and failure count. */
  readonly minioBuckets: readonly BucketFinalized[];
  readonly minioResult: { readonly buckets: readonly BucketResult[] };
  readonly snapshotsCleared: readonly unknown[];
  readonly minioPlan: BatchPlan;
  readonly results: BackupResults;
  readonly summary: BackupSummary;
  readonly error: CaughtError;
  readonly failure: { readonly error: string; readonly cause: string };
}

/** One iteration of the node preflight Map. */
export interface NodePreflightItem {
  readonly node: PlannedNode;
  readonly vaultBucket: string;
}

/** One iteration of the node preflight Map, after its steps. */
export interface NodePreflightItemState extends NodePreflightItem {
  readonly result: Readonly<Record<string, unknown>>;
  readonly error: CaughtError;
}

/** One iteration of the snapshot Map. */
export interface SnapshotItem {
  readonly node: PlannedNode;
  readonly backupId: string;
  readonly keyspaces: string;
  readonly vaultBucket: string;
  readonly clusterName: string;
  readonly sstableClusterPrefix: string;
  readonly schemaKey: string;
  readonly rowCountsKey: string;
}

/** One iteration of the snapshot Map, after its steps. */
export interface SnapshotItemState extends SnapshotItem {
  readonly snapshot: Readonly<Record<string, unknown>>;
  readonly manifest: NodeManifestSummary;
}

/** One iteration of a clear-snapshot Map. */
export interface ClearSnapshotItem {
  readonly node: PlannedNode;
  readonly backupId: string;
}

/** One iteration of a clear-snapshot Map, after its steps. */
export interface ClearSnapshotItemState extends ClearSnapshotItem {
  readonly cleared: Readonly<Record<string, unknown>>;
  readonly clearError: CaughtError;
}

/** One batch of the Distributed Map (backup: `backupId`; restore: `restoreId`). */
export interface BatchItem {
  readonly batch: Readonly<Record<string, unknown>>;
}

/** The restore execution's state (top level). */
export interface RestoreState {
  readonly plan: RestorePlan;
  /** Inside the Check Targets Parallel: each branch's own results. */
  readonly nodeChecks: readonly unknown[];
  readonly schemaCheck: Readonly<Record<string, unknown>>;
  readonly folderCheck: Readonly<Record<string, unknown>>;
  readonly postgresqlCheck: Readonly<Record<string, unknown>>;
  readonly postgresqlRestore: PostgresqlRestoreResult;
  readonly bucketCheck: Readonly<Record<string, unknown>>;
  readonly checks: RestoreChecks;
  /** What Evaluate Targets found (every target node UN, versions compatible, the loader). */
  readonly targets: RestoreTargets;
  /** Inside the Restore Parallel: each branch's own results. */
  readonly folder: Readonly<Record<string, unknown>>;
  readonly schema: Readonly<Record<string, unknown>>;
  readonly nodes: readonly unknown[];
  readonly minioPlan: BatchPlan;
  readonly results: RestoreResults;
  readonly rechecks: readonly unknown[];
  readonly rowCounts: Readonly<Record<string, unknown>>;
  readonly verified: RestoreVerified;
  readonly report: RestoreReport;
  readonly error: CaughtError;
}

/** A target Cassandra node of a restore. */
export type RestoreTarget = NonNullable<RestorePlan['cassandra']>['targets'][number];

/** One iteration of a target-node check Map. */
export interface TargetItem {
  readonly target: RestoreTarget;
  readonly vaultBucket: string;
}

/** One iteration of a target-node check Map, after its steps. */
export interface TargetItemState extends TargetItem {
  readonly result: Readonly<Record<string, unknown>>;
}

/** One iteration of the node restore Map. */
export interface RestoreNodeItem {
  readonly node: RestoreNodeAssignment;
  /** Where the node's files are read (`RestorePlan` `source`, `sourceBucket`). */
  readonly source: RestorePlan['source'];
  readonly sourceBucket: string;
  readonly clusterName: string;
  readonly keyspaces: string;
  readonly mode: NonNullable<RestorePlan['cassandra']>['mode'];
  readonly loadTargets: string;
}

/** One iteration of the node restore Map, after its steps. */
export interface RestoreNodeItemState extends RestoreNodeItem {
  readonly loaded: Readonly<Record<string, unknown>>;
}

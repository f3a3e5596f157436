import { z } from 'zod';
import { backupSources } from '../vault-layout.js';
import { branchResult, componentsSchema } from './common.js';

/**
 * The restore state machine's messages: the plan Plan Restore makes and every later step reads,
 * what the checks and the restore steps return (keyed by branch name), the verification and the
 * report the restore ends with.
 */

/** One source node's files and the target host that loads them. */
export const restoreNodeAssignmentSchema = z.object({
  /** Host that runs the restore script. */
  instanceId: z.string(),
  name: z.string(),
  sourceName: z.string(),
  sourceHostId: z.string(),
  filesKey: z.string(),
  /** Vault folder of the source node's SSTables (`vault-layout.ts` `sstablePrefix`). */
  sstablePrefix: z.string(),
  files: z.number(),
  bytes: z.number(),
  stagingDir: z.string(),
  /** The target node's Cassandra data directory (mode refresh places the files in its live table folders). */
  dataDir: z.string(),
});
/** One source node's files and the target host that loads them. */
export type RestoreNodeAssignment = z.infer<typeof restoreNodeAssignmentSchema>;

/** One bucket of a restore plan. */
export const restoreBucketSchema = z.object({
  sourceBucket: z.string(),
  targetBucket: z.string(),
  manifestKey: z.string(),
  objects: z.number(),
  bytes: z.number(),
});

/** The restore plan: what goes where, with sizes (kept in the restore report). */
export const restorePlanSchema = z.object({
  restoreId: z.string(),
  backupId: z.string(),
  /** The vault: the restore's own files (`restores/<restoreId>/`) are written here, whatever the source. */
  vaultBucket: z.string(),
  /**
   * Where the backup is read from (the restore input's `source`): `vault`, or `archive`, the archive
   * bucket in another region (when the primary region is gone). Every key of this plan that names a
   * backup file is where it is in that source (`vault-layout.ts` `backupReadLocation`).
   */
  source: z.enum(backupSources).default('vault'),
  /** The bucket the backup is read from: `vaultBucket`, or the archive bucket. */
  sourceBucket: z.string(),
  clusterName: z.string(),
  /** Plan and check only, write nothing. */
  dryRun: z.boolean(),
  /** Write into non-empty targets. */
  overwrite: z.boolean(),
  startedAt: z.string(),
  /** The restore's execution ARN (recorded in `restores/<id>/started.json`, `abandoned-runs.ts`). */
  executionId: z.string().optional(),
  components: componentsSchema,
  wireServer: z
    .object({
      instanceId: z.string(),
      targetPath: z.string(),
      /** Where the archive is in the source (`sourceBucket`). */
      archiveKey: z.string(),
      /** The archive's vault version ('null' on an unversioned vault; unused when reading the archive bucket). */
      versionId: z.string(),
      sha256: z.string(),
      bytes: z.number(),
      /** Owners from the archive (else the restoring user's). */
      restoreOwnership: z.boolean(),
    })
    .nullable(),
  cassandra: z
    .object({
      schemaKey: z.string(),
      /** Keyspaces to restore, comma-separated (the SSM parameter's form); '' for all the backup holds. */
      keyspaces: z.string(),
      /**
       * `import`: same topology, each node loads its own files with `nodetool import`, or with
       * `nodetool refresh` where the node reports a Cassandra older than 4.0 (the node's script decides
       * from its own `nodetool version`); `refresh`: the 3.11 path forced on any version (files placed in
       * the live table folder, then `nodetool refresh`); `load`: `sstableloader`, any topology.
       */
      mode: z.enum(['import', 'refresh', 'load']),
      /** The Cassandra version the backup was taken on (its manifest's); null for backups that lack it. */
      backupVersion: z.string().nullable(),
      /** Addresses sstableloader streams to, comma-separated (the SSM parameter's form). */
      loadTargets: z.string(),
      schemaInstanceId: z.string(),
      targets: z.array(z.object({ instanceId: z.string(), name: z.string(), dataDir: z.string() })),
      nodes: z.array(restoreNodeAssignmentSchema),
      bytes: z.number(),
      /** Row counts to take after the restore and compare; null when the backup has none or they are off. */
      rowCounts: z
        .object({
          /** The backup's counts (and the tables to count). */
          backupKey: z.string(),
          /** Where the restore's counts go. */
          restoredKey: z.string(),
          consistency: z.enum(['ONE', 'QUORUM']),
          check: z.enum(['exact', 'report']),
        })
        .nullable(),
    })
    .nullable(),
  minio: z
    .object({
      buckets: z.array(restoreBucketSchema),
      /** Target objects the backup does not hold: `report` them by name, or `delete` them (recoverably). */
      extraObjects: z.enum(['report', 'delete']).default('report'),
    })
    .nullable(),
  postgresql: z
    .object({
      /** Host that runs the restore, and the server it creates there. */
      instanceId: z.string(),
      name: z.string(),
      dataDir: z.string(),
      port: z.number().int(),
      socketDir: z.string(),
      osUser: z.string(),
      binDir: z.string(),
      /** Keep WAL archiving on in the restored server: it is the cluster's primary again. */
      archive: z.boolean(),
      /** From the backup's manifest. */
      baseKey: z.string(),
      baseSha256: z.string(),
      labelKey: z.string(),
      rowCountsKey: z.string(),
      walPrefix: z.string(),
      timeline: z.number().int(),
      startWalFile: z.string(),
      countsLsn: z.string(),
      stopTime: z.string(),
      bytes: z.number(),
      /** Recover to this moment (UTC, ISO); '' = to the end of the base backup. */
      targetTime: z.string(),
      verifyRowCounts: z.enum(['fail', 'report', 'off']),
    })
    .nullable()
    .default(null),
});
/** The restore plan. */
export type RestorePlan = z.infer<typeof restorePlanSchema>;

/** One target node's preflight (before and after the restore). */
export const targetNodeCheckSchema = z.object({
  target: z.looseObject({ instanceId: z.string(), name: z.string() }),
  result: z.looseObject({
    nodetoolStatusB64: z.string().optional(),
    /** What the node's `nodetool version` printed (ReleaseVersion). */
    cassandraVersion: z.string().nullable().optional(),
  }),
});
/** One target node's preflight. */
export type TargetNodeCheck = z.infer<typeof targetNodeCheckSchema>;

/** What the schema script reports (its dry run and its restore). */
export const schemaRestoreResultSchema = z.looseObject({
  /** Keyspaces whose replication factor exceeds the target cluster's nodes, with the fix. */
  replicationWarnings: z.array(z.string()).optional(),
});

/** The Check Targets Parallel's results, by branch name. */
export const restoreChecksSchema = z.object({
  wireServer: branchResult(z.looseObject({})),
  cassandra: branchResult(
    z.object({ nodes: z.array(targetNodeCheckSchema), schema: schemaRestoreResultSchema }),
  ),
  minio: branchResult(z.looseObject({ buckets: z.array(z.looseObject({ targetBucket: z.string() })) })),
  postgresql: branchResult(z.looseObject({ lastArchivedWal: z.string(), coveredUntil: z.string() })),
});
/** The Check Targets Parallel's results. */
export type RestoreChecks = z.infer<typeof restoreChecksSchema>;

/** What Evaluate Targets found before anything is written (the restore is refused otherwise). */
export const restoreTargetsSchema = z.object({
  cassandra: z
    .object({
      /** Target nodes, all `UN`. */
      nodes: z.number(),
      /** The Cassandra version the backup was taken on (null: the backup did not record it). */
      backupVersion: z.string().nullable(),
      /** The version each target node reported (`nodetool version`), by instance id. */
      targetVersions: z.record(z.string(), z.string()),
      /** How the SSTables will be loaded: `import` / `refresh` (same topology) or `load` (sstableloader). */
      loader: z.enum(['import', 'refresh', 'load']),
    })
    .nullable(),
});
/** What Evaluate Targets found. */
export type RestoreTargets = z.infer<typeof restoreTargetsSchema>;

/** What the PostgreSQL restore reports (`postgresql-restore.sh`): the server is up, rows counted. */
export const postgresqlRestoreResultSchema = z.object({
  dataDir: z.string(),
  /** Where the previous data directory was kept ('' when the target was empty). */
  keptAside: z.string(),
  target: z.string(),
  recoveryStopped: z.string(),
  lastReplayedCommit: z.string(),
  lastArchivedWal: z.string(),
  tables: z.number(),
  rows: z.number(),
  rowCounts: z.record(z.string(), z.number()),
  /** '' when every table's count equals the backup's (or the target was a time: nothing to compare). */
  rowCountDifferences: z.string(),
  logFile: z.string(),
});
/** What the PostgreSQL restore reports. */
export type PostgresqlRestoreResult = z.infer<typeof postgresqlRestoreResultSchema>;

/** The Restore Parallel's results, by branch name. */
export const restoreResultsSchema = z.object({
  wireServer: branchResult(z.looseObject({})),
  cassandra: branchResult(z.object({ schema: schemaRestoreResultSchema, nodes: z.array(z.looseObject({})) })),
  minio: branchResult(z.looseObject({ batches: z.number(), objects: z.number(), bytes: z.number() })),
  postgresql: branchResult(postgresqlRestoreResultSchema),
});
/** The Restore Parallel's results. */
export type RestoreResults = z.infer<typeof restoreResultsSchema>;

/** One table whose row count differs between the backup and the restore. */
export type RowCountDifference = z.infer<typeof rowCountDifferenceSchema>;
/** One table whose row count differs between the backup and the restore. */
export const rowCountDifferenceSchema = z.object({
  table: z.string(),
  backup: z.number(),
  /** null: the table was not counted on the target. */
  restored: z.number().nullable(),
  /** Its rows expire by themselves (table TTL, or a Wire table written with a TTL). */
  expiring: z.boolean(),
});

/** What the row-count comparison found; kept in the restore report. */
export const rowCountComparisonSchema = z.object({
  check: z.enum(['exact', 'report']),
  tables: z.number(),
  matching: z.number(),
  backupRows: z.number(),
  restoredRows: z.number(),
  differences: z.array(rowCountDifferenceSchema),
  /** Tables with fewer rows (or none counted) whose rows do not expire: data the restore lacks. */
  missingRows: z.array(z.string()),
});
/** What the row-count comparison found. */
export type RowCountComparison = z.infer<typeof rowCountComparisonSchema>;

/** What Verify Restore found after the restore. */
export const restoreVerifiedSchema = z.object({
  cassandra: z.object({ nodes: z.number() }).nullable(),
  rowCounts: rowCountComparisonSchema.nullable(),
  minio: z.array(
    z.object({
      targetBucket: z.string(),
      objects: z.number(),
      bytes: z.number(),
      /** Objects in the bucket that the backup does not hold, after the restore. */
      extra: z.number(),
      /** The first of them, by key. */
      extraKeys: z.array(z.string()).optional(),
    }),
  ),
});
/** What Verify Restore found after the restore. */
export type RestoreVerified = z.infer<typeof restoreVerifiedSchema>;

/** What a restore (or its dry run) reports: a person can act on it. */
export const restoreReportSchema = z.object({
  restoreId: z.string(),
  backupId: z.string(),
  outcome: z.enum(['dry-run', 'restored', 'failed']),
  startedAt: z.string(),
  finishedAt: z.string(),
  /** Recovery time: seconds from the start of the restore to its end. */
  durationSeconds: z.number(),
  plan: restorePlanSchema,
  checks: restoreChecksSchema.optional(),
  results: restoreResultsSchema.optional(),
  verified: restoreVerifiedSchema.optional(),
  error: z.object({ error: z.string(), cause: z.string() }).optional(),
  /** Where the report is in the vault (none for a dry run, which writes nothing). */
  reportKey: z.string().nullable(),
});
/** What a restore (or its dry run) reports. */
export type RestoreReport = z.infer<typeof restoreReportSchema>;

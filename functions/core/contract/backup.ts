import { z } from 'zod';
import { branchResult, caughtErrorSchema, componentsSchema } from './common.js';

/**
 * The backup state machine's messages: the plan Prepare makes and every later step reads, what
 * each step returns, and the manifest Commit writes last. Producers and consumers import these
 * schemas and their `z.infer` types; handlers parse their events with them.
 */

/** One node as the backup plans it. */
export const plannedNodeSchema = z.object({
  instanceId: z.string(),
  name: z.string(),
  /** Cassandra data directory on this host. */
  dataDir: z.string(),
  /** files.tsv of this node in the previous complete backup, or '' (upload everything). */
  previousFilesKey: z.string(),
  /** Host id the node had then ('' if none): a different one now means a replaced node. */
  previousHostId: z.string(),
  /** Where this node's snapshot inventory goes (`vault-layout.ts`). */
  inventoryKey: z.string(),
  /** Where this node's facts (host id, tokens, address, version) go. */
  nodeInfoKey: z.string(),
  /** This node captures the cluster schema (the first healthy node). */
  captureSchema: z.boolean(),
  /** Count the rows of every table (done by the node that captures the schema). */
  countRows: z.boolean(),
  /** Upload limit of this node's new files, MB/s (0 = none): `cassandra.uploadMaxBandwidthMBps`. */
  uploadMaxBandwidthMBps: z.number().int(),
});
/** One node as the backup plans it. */
export type PlannedNode = z.infer<typeof plannedNodeSchema>;

/** A configured node that did not pass preflight (recorded when `cassandra.allowPartial` is set). */
export const downNodeSchema = z.object({ instanceId: z.string(), name: z.string(), reason: z.string() });

/** A configured PostgreSQL server as the plan carries it. */
export const postgresqlServerSchema = z.object({
  name: z.string(),
  instanceId: z.string(),
  host: z.string(),
  port: z.number().int(),
  dataDir: z.string(),
});
/** A configured PostgreSQL server. */
export type PostgresqlServer = z.infer<typeof postgresqlServerSchema>;

/** The PostgreSQL part of a backup plan (null when the configuration has no `postgresql`). */
export const postgresqlPlanSchema = z.object({
  secretName: z.string(),
  database: z.string(),
  primary: postgresqlServerSchema,
  /** The preflight's form of the servers: `name=instanceId@host:port:dataDir` (standbys comma-separated). */
  primarySpec: z.string(),
  standbySpecs: z.string(),
  maxLagBytes: z.number().int(),
  walWaitSeconds: z.number().int(),
  /** Vault keys (`vault-layout.ts`). */
  baseKey: z.string(),
  labelKey: z.string(),
  rowCountsKey: z.string(),
  walPrefix: z.string(),
});
/** The PostgreSQL part of a backup plan. */
export type PostgresqlPlan = z.infer<typeof postgresqlPlanSchema>;

/** What the PostgreSQL preflight reports (`postgresql-preflight.sh`). */
export const postgresqlPreflightSchema = z.object({
  serverVersion: z.string(),
  timeline: z.number(),
  archiveMode: z.string(),
  archiveCommand: z.string(),
  lastArchivedWal: z.string(),
  source: z.object({
    instanceId: z.string(),
    name: z.string(),
    role: z.enum(['primary', 'standby']),
    host: z.string(),
    port: z.number().int(),
    dataDir: z.string(),
  }),
  standbys: z.array(
    z.object({ name: z.string(), state: z.string(), lagBytes: z.number(), usable: z.boolean() }),
  ),
  lagging: z.array(z.string()),
});
/** What the PostgreSQL preflight reports. */
export type PostgresqlPreflight = z.infer<typeof postgresqlPreflightSchema>;

/** One item of the Plan MinIO Map: part `part` of `parts` of a bucket. */
export const planPartItemSchema = z.object({
  bucket: z.string().min(1),
  part: z.number().int().positive(),
  parts: z.number().int().positive(),
});
/** One item of the Plan MinIO Map. */
export type PlanPartItem = z.infer<typeof planPartItemSchema>;

/** What Prepare hands to the rest of the state machine. */
export const backupPlanSchema = z.object({
  backupId: z.string(),
  startedAt: z.string(),
  executionId: z.string(),
  vaultBucket: z.string(),
  clusterName: z.string(),
  components: componentsSchema,
  previousBackupId: z.string().nullable(),
  cassandra: z.object({
    dataDir: z.string(),
    /** Keyspaces to snapshot, comma-separated (the SSM parameter's form); '' for every non-system keyspace. */
    keyspaces: z.string(),
    allowPartial: z.boolean(),
    /** Vault folder of the cluster's SSTables; each node writes below `<prefix><its host id>/`. */
    sstableClusterPrefix: z.string(),
    /** Where the node that captures the schema writes it. */
    schemaKey: z.string(),
    /** Where the node that counts rows writes every table's count. */
    rowCountsKey: z.string(),
    nodes: z.array(plannedNodeSchema),
    downNodes: z.array(downNodeSchema),
  }),
  wireServer: z.object({
    instanceId: z.string(),
    path: z.string(),
    archiveKey: z.string(),
    compressionLevel: z.number().int().min(1).max(9),
    expectedEntries: z.array(z.string()),
  }),
  minio: z.object({
    buckets: z.array(z.string()),
    /** The previous complete backup's manifest of each bucket, by bucket. */
    previousManifestKeys: z.record(z.string(), z.string()),
    batchMaxObjects: z.number().int().positive(),
    /**
     * Interrupted backups (failed or abandoned, newer than the previous complete one, young enough that
     * no purge can have deleted what they copied), newest first: a bucket's plan carries the objects the
     * newest of them that planned the bucket already copied (`minio-plan.ts`, "Resuming").
     */
    resumeCandidates: z.array(z.string()),
    /**
     * The Plan MinIO Map's items: each bucket in the parts the previous backup's `<bucket>.parts.json`
     * splits it into (one part without one), each planned by its own invocation (`minio-plan.ts`, "Parts").
     */
    parts: z.array(planPartItemSchema),
    /** Finalize MinIO records every this-many-th manifest key: the next backup's parts (configuration `minio.planPartObjects`). */
    planPartObjects: z.number().int().positive(),
  }),
  postgresql: postgresqlPlanSchema.nullable(),
});
/** What Prepare hands to the rest of the state machine. */
export type BackupPlan = z.infer<typeof backupPlanSchema>;

/** One row of `nodetool status` (see `parseNodetoolStatus`). */
export const nodeStatusSchema = z.object({
  datacenter: z.string(),
  status: z.enum(['U', 'D', '?']),
  state: z.enum(['N', 'L', 'J', 'M']),
  address: z.string(),
  load: z.string(),
  loadBytes: z.number().nullable(),
  tokens: z.number(),
  owns: z.number().nullable(),
  ownsEffective: z.boolean(),
  hostId: z.string().nullable(),
  token: z.string().nullable(),
  rack: z.string(),
});

/** Plan after preflight, with the cluster's state recorded. */
export const preflightedPlanSchema = backupPlanSchema.extend({
  cluster: z.object({ nodes: z.array(nodeStatusSchema), cassandraVersion: z.string().nullable() }),
  /** Where the PostgreSQL base backup is taken (the preflight's choice), null without PostgreSQL. */
  postgresqlSource: postgresqlPreflightSchema.nullable(),
});
/** Plan after preflight, with the cluster's state recorded. */
export type PreflightedPlan = z.infer<typeof preflightedPlanSchema>;

/** What the preflight script reports from a Cassandra node. */
export const nodePreflightResultSchema = z.looseObject({
  nodetoolStatusB64: z.string().optional(),
  cassandraVersion: z.string().optional(),
  hostname: z.string().optional(),
});

/** One node's preflight as the Map state returns it: a result, or the caught error. */
export const nodePreflightSchema = z.object({
  node: plannedNodeSchema,
  result: nodePreflightResultSchema.optional(),
  error: caughtErrorSchema.optional(),
});
/** One node's preflight. */
export type NodePreflight = z.infer<typeof nodePreflightSchema>;

/** The Preflight Parallel's results, by branch name. */
export const preflightResultsSchema = z.object({
  cassandra: z.array(nodePreflightSchema),
  wireServer: z.unknown(),
  minio: z.unknown(),
  postgresql: branchResult(postgresqlPreflightSchema),
});

/** Result of the wire-server branch (the archive verification). */
export const wireServerResultSchema = z.object({
  key: z.string(),
  versionId: z.string().optional(),
  bytes: z.number(),
  sha256: z.string(),
  entries: z.number(),
  rootEntry: z.string().optional(),
});
/** Result of the wire-server branch. */
export type WireServerResult = z.infer<typeof wireServerResultSchema>;

/** What Finalize Node returns for one node (and the manifest keeps). */
export const nodeManifestSummarySchema = z.object({
  instanceId: z.string(),
  name: z.string(),
  hostId: z.string(),
  address: z.string().nullable(),
  manifestKey: z.string(),
  filesKey: z.string(),
  schemaKey: z.string().nullable(),
  rowCountsKey: z.string().nullable(),
  files: z.number(),
  bytes: z.number(),
  newFiles: z.number(),
  newBytes: z.number(),
  reusedFiles: z.number(),
  reusedBytes: z.number(),
  verifiedBytes: z.number(),
  /** Reused files this run looked up again (its rotating sample; absent when every one was). */
  sampledReusedFiles: z.number().optional(),
});
/** What Finalize Node returns for one node. */
export type NodeManifestSummary = z.infer<typeof nodeManifestSummarySchema>;

/** Result of the MinIO branch for one bucket. */
export const bucketResultSchema = z.object({
  bucket: z.string(),
  manifestKey: z.string(),
  objects: z.number(),
  bytes: z.number(),
  copiedObjects: z.number(),
  copiedBytes: z.number(),
  carriedObjects: z.number(),
  /** Of the carried objects, those an interrupted backup copied (absent in older results). */
  resumed: z.object({ from: z.string(), objects: z.number() }).optional(),
  /** Carried objects this run re-checked in the vault (its rotating sample; absent in older results). */
  sampledObjects: z.number().optional(),
  /** Objects deleted from the source between listing and copy, so not in this backup: how many, the first keys. */
  vanished: z.object({ count: z.number(), keys: z.array(z.string()) }).optional(),
});
/** Result of the MinIO branch for one bucket. */
export type BucketResult = z.infer<typeof bucketResultSchema>;

/**
 * What Finalize MinIO returns for one bucket: its result, and how many objects could not be copied
 * with the vault list naming them (the names stay in the vault, so a bucket's result stays small in
 * the Map's output however long its keys). Check MinIO Copies fails the backup if any bucket has some.
 */
export const bucketFinalizedSchema = bucketResultSchema.extend({
  failed: z.object({ count: z.number().int().nonnegative(), listKey: z.string().optional() }),
});
/** What Finalize MinIO returns for one bucket. */
export type BucketFinalized = z.infer<typeof bucketFinalizedSchema>;

/** Input of Check MinIO Copies: every bucket's Finalize MinIO result, in the order of `minio.buckets`. */
export const minioCopiesCheckInputSchema = z.object({ buckets: z.array(bucketFinalizedSchema) });

/**
 * One iteration of the Plan MinIO Map: the bucket it plans, with what every bucket's planning needs
 * (the whole `previousManifestKeys`, as a Map's item selector cannot index it by the bucket).
 */
export const minioBucketPlanInputSchema = z.object({
  bucket: z.string().min(1),
  /** Which part of the bucket this iteration plans (1 of 1: the whole bucket). */
  part: z.number().int().positive(),
  parts: z.number().int().positive(),
  backupId: z.string().min(1),
  previousManifestKeys: z.record(z.string(), z.string()),
  batchMaxObjects: z.number().int().positive(),
  resumeCandidates: z.array(z.string()),
});
/** One iteration of the Plan MinIO Map. */
export type MinioBucketPlanInput = z.infer<typeof minioBucketPlanInputSchema>;

/** What Plan MinIO returns for one bucket (and `plan.json` records): counts and batch files, no keys. */
export const bucketBackupPlanSchema = z.object({
  bucket: z.string(),
  /** The part of the bucket planned (1 of 1: the whole bucket). */
  part: z.number().int().positive(),
  parts: z.number().int().positive(),
  /** Folder holding `00001.jsonl` … (and, once copied, their `.result.jsonl`). */
  batchPrefix: z.string(),
  /** Number of batch files, numbered 1…batches (`batchKeyOf`). */
  batches: z.number().int().nonnegative(),
  toCopyObjects: z.number(),
  toCopyBytes: z.number(),
  carriedObjects: z.number(),
  carriedBytes: z.number(),
  /** Of the carried objects, those an interrupted run (`resumedFrom`) copied: this run resumes its copy. */
  resumedObjects: z.number(),
  resumedBytes: z.number(),
  /** The interrupted backup whose copies this plan carries, or null. */
  resumedFrom: z.string().nullable(),
  /** In the previous manifest, gone from the source now (their versions stay in the vault). */
  deletedObjects: z.number(),
  /** Listed keys that are not valid UTF-8 (not copied; named in `unreadable-keys.jsonl`). */
  unreadableKeys: z.number(),
});
/** What Plan MinIO returns for one bucket. */
export type BucketBackupPlan = z.infer<typeof bucketBackupPlanSchema>;

/** Input of Index MinIO Batches: every bucket's plan (each part's), in the order of `minio.parts`. */
export const minioBatchIndexInputSchema = z.object({
  backupId: z.string().min(1),
  buckets: z.array(bucketBackupPlanSchema),
});

/** One iteration of the Finalize MinIO Map. */
export const minioBucketFinalizeInputSchema = z.object({
  bucket: z.string().min(1),
  backupId: z.string().min(1),
  /** Every this-many-th key of the manifest is recorded in `<bucket>.parts.json` for the next plan. */
  planPartObjects: z.number().int().positive(),
  /** The backup's start: picks this run's rotating sample of carried objects. */
  startedAt: z.string(),
});
/** One iteration of the Finalize MinIO Map. */
export type MinioBucketFinalizeInput = z.infer<typeof minioBucketFinalizeInputSchema>;

/** What the PostgreSQL base backup reports (`postgresql-backup.sh`); the manifest keeps it. */
export const postgresqlBackupResultSchema = z.object({
  baseKey: z.string(),
  labelKey: z.string(),
  rowCountsKey: z.string(),
  bytes: z.number(),
  sha256: z.string(),
  /** WAL location where the base backup starts and where pg_backup_stop ended it. */
  startLsn: z.string(),
  stopLsn: z.string(),
  /** The LSN the row counts belong to (>= stopLsn): a restore to the end of the backup replays to it. */
  countsLsn: z.string(),
  timeline: z.number(),
  startTime: z.string(),
  stopTime: z.string(),
  startWalFile: z.string(),
  stopWalFile: z.string(),
  tables: z.number(),
  rows: z.number(),
  fromStandby: z.boolean(),
});
/** What the PostgreSQL base backup reports. */
export type PostgresqlBackupResult = z.infer<typeof postgresqlBackupResultSchema>;

/** The Back Up Parallel's results, by branch name. */
export const backupResultsSchema = z.object({
  wireServer: branchResult(wireServerResultSchema),
  cassandra: branchResult(z.array(nodeManifestSummarySchema)),
  minio: branchResult(z.object({ buckets: z.array(bucketResultSchema) })),
  postgresql: branchResult(postgresqlBackupResultSchema),
});
/** The Back Up Parallel's results. */
export type BackupResults = z.infer<typeof backupResultsSchema>;

/** The committed manifest: its presence means the backup is complete. */
export const backupManifestSchema = z.object({
  /**
   * 1: MinIO objects at `minio/<bucket>/<key>`. 2: bucket manifest entries name their vault key (layout 2,
   * `vault-layout.ts`) and carry content headers and tags. Both are read; 2 is written.
   */
  formatVersion: z.union([z.literal(1), z.literal(2)]),
  backupId: z.string(),
  clusterName: z.string(),
  startedAt: z.string(),
  completedAt: z.string(),
  durationSeconds: z.number(),
  executionId: z.string(),
  previousBackupId: z.string().nullable(),
  components: componentsSchema,
  wireServer: wireServerResultSchema.nullable(),
  cassandra: z
    .object({
      cassandraVersion: z.string().nullable(),
      schemaKey: z.string().nullable(),
      /** Every table's row count just before the snapshot (`keyspace\ttable\trows\tdefault_ttl`); null when not counted. */
      rowCountsKey: z.string().nullable(),
      keyspaces: z.string(),
      ring: z.array(nodeStatusSchema),
      downNodes: z.array(downNodeSchema),
      nodes: z.array(nodeManifestSummarySchema),
    })
    .nullable(),
  minio: z.object({ buckets: z.array(bucketResultSchema) }).nullable(),
  /** The PostgreSQL base backup and where its WAL is; manifests from before PostgreSQL lack it (null). */
  postgresql: postgresqlBackupResultSchema
    .extend({
      serverVersion: z.string(),
      database: z.string(),
      /** The server the base backup was read from, and the standbys the preflight found lagging. */
      source: z.string(),
      lagging: z.array(z.string()),
      walPrefix: z.string(),
    })
    .nullable()
    .default(null),
  totals: z.object({
    bytes: z.number(),
    newBytes: z.number(),
    reusedBytes: z.number(),
    files: z.number(),
    objects: z.number(),
  }),
});
/** The committed manifest. */
export type BackupManifest = z.infer<typeof backupManifestSchema>;

/** The backup state machine's output: a summary a person can act on. */
export const backupSummarySchema = z.object({
  backupId: z.string(),
  manifestKey: z.string(),
  manifest: backupManifestSchema,
});
/** The backup state machine's output. */
export type BackupSummary = z.infer<typeof backupSummarySchema>;

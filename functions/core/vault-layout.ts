import { createHash } from 'node:crypto';

/**
 * The vault layout (DESIGN.md "Vault layout"), in one place: every vault key and prefix is computed
 * here, and everyone else asks — handlers and core modules, the IAM grants of the stack
 * (`lib/wire-backup-stack.ts` scopes them to {@link vaultPrefixes}), and the host scripts, which
 * receive their keys as SSM parameters. A backup is complete exactly when `backups/<id>/manifest.json`
 * exists; it is written last.
 *
 * ```
 * backups/<id>/manifest.json                          completion marker and index (written last)
 * backups/<id>/started.json, failed.json              markers
 * backups/<id>/wire-server.tar.gz                     the wire-server folder
 * backups/<id>/cassandra/schema.cql, row-counts.tsv   cluster schema and row counts
 * backups/<id>/cassandra/<instanceId>/…               per node: inventory.tsv, node.json, files.tsv, manifest.json
 * backups/<id>/minio/batches.jsonl                    index of every batch file (Distributed Map items)
 * backups/<id>/minio/<bucket>/plan.json               what planBucketBackup decided (written last)
 * backups/<id>/minio/<bucket>/batches/00001.jsonl     objects to copy; …/00001.result.jsonl what was copied
 * backups/<id>/minio/<bucket>/carried.jsonl.gz        unchanged objects carried from the previous manifest
 * backups/<id>/minio/<bucket>/failed-objects.jsonl   objects that could not be copied (bucket, key, cause)
 * backups/<id>/minio/<bucket>/unreadable-keys.jsonl   listed keys that are not valid UTF-8
 * backups/<id>/minio/<bucket>/parts/0002/…            a bucket planned in parts: each part's plan.json,
 *                                                     batches/, carried.jsonl.gz, unreadable-keys.jsonl
 * backups/<id>/minio/<bucket>.manifest.jsonl.gz       the bucket manifest (source key → vault key + version)
 * backups/<id>/minio/<bucket>.parts.json              every Nth key of that manifest: the next plan's parts
 * cassandra/<cluster>/<hostId>/<keyspace>/<table>/…   SSTables, shared by every backup that references them
 * minio/_keys/<bucket>/<sha256 of the source key>     MinIO objects (layout 2); versions are the history
 * minio/<bucket>/<key>                                MinIO objects of layout 1 (read, never written)
 * backups/<id>/postgresql/base.tar.gz, backup_label    PostgreSQL base backup (tar.gz of the data directory)
 * backups/<id>/postgresql/row-counts.tsv              every PostgreSQL table's row count at the backup's end
 * postgresql/<cluster>/wal/<WAL file>.gz              archived WAL, written by the archive_command
 * restores/<restoreId>/report.json, failed.json       the restore report
 * restores/<restoreId>/row-counts.tsv                 row counts taken on the restored cluster
 * restores/<restoreId>/minio/batches.jsonl            index of every restore batch file
 * restores/<restoreId>/minio/<bucket>/batches/00001.jsonl  manifest entries to restore (+ .result.jsonl)
 * restores/<restoreId>/minio/<bucket>/removed.jsonl   objects removed from the target (extraObjects: delete)
 * restores/<restoreId>/minio/<bucket>/removed/<sha256 of key>  a removed object set aside (unversioned target)
 * map-runs/…                                          Distributed Map run reports (ResultWriter)
 * host-commands/<reference>.json                      a host command's task token, while the command runs
 * restores/<restoreId>/started.json                   a restore is running (which backup it reads)
 * purges/<purgeId>/plan.json, deletions.jsonl         what a purge decided, the versions it deletes
 * purges/<purgeId>/report.json                        what it did (or, in a dry run, would do)
 * ```
 *
 * The archive bucket (another region) has a layout of its own, {@link archivePrefixes}.
 */

/** The top-level folders of the vault: every key starts with exactly one of these. */
export const vaultPrefixes = {
  /** One folder per backup: markers, manifests, per-node and per-bucket working files. */
  backups: 'backups/',
  /** SSTables, shared by the backups of a node (differential). */
  cassandra: 'cassandra/',
  /** MinIO objects, one vault key per source key (versions are the history); see {@link minioObjectKey}. */
  minio: 'minio/',
  /** PostgreSQL's archived WAL, per cluster (continuous: every base backup of the cluster replays it). */
  postgresql: 'postgresql/',
  /** One folder per restore: report, row counts, restore batch files. */
  restores: 'restores/',
  /** Run reports of the Distributed Maps (their `ResultWriter` writes under this prefix). */
  mapRuns: 'map-runs/',
  /**
   * One record per running host command: the Step Functions task token its completion is sent to,
   * written before SendCommand and deleted when the completion has been sent.
   */
  hostCommands: 'host-commands/',
  /** One folder per purge: its plan, the versions it deletes, its report. */
  purges: 'purges/',
} as const;

/** A top-level folder of the vault. */
export type VaultPrefix = (typeof vaultPrefixes)[keyof typeof vaultPrefixes];

// --- backups/<id>/ -------------------------------------------------------------------------------

/** Prefix of one backup's own objects. */
export const backupPrefix = (backupId: string): string => `${vaultPrefixes.backups}${backupId}/`;
/** The completion marker and index of a backup. */
export const manifestKey = (backupId: string): string => `${backupPrefix(backupId)}manifest.json`;
/** Written when a backup starts. */
export const startedKey = (backupId: string): string => `${backupPrefix(backupId)}started.json`;
/** Written when a backup fails, with the cause. */
export const failedKey = (backupId: string): string => `${backupPrefix(backupId)}failed.json`;
/** The wire-server folder archive. */
export const wireServerArchiveKey = (backupId: string): string =>
  `${backupPrefix(backupId)}wire-server.tar.gz`;

/** The backup id of a backup folder (`backups/<id>/`, as a delimited listing returns it), else undefined. */
export function backupIdOfPrefix(prefix: string): string | undefined {
  if (!prefix.startsWith(vaultPrefixes.backups) || !prefix.endsWith('/')) return undefined;
  const id = prefix.slice(vaultPrefixes.backups.length, -1);
  return id && !id.includes('/') ? id : undefined;
}

// --- map-runs/ ----------------------------------------------------------------------------------

/**
 * A Distributed Map run's report of its failed child executions, as the `ResultWriter` names it:
 * `map-runs/<map run id>/FAILED_<n>.json` (a JSON array of execution records).
 */
export function isMapRunFailedReport(key: string): boolean {
  return new RegExp(`^${vaultPrefixes.mapRuns}[^/]+/FAILED_\\d+\\.json$`).test(key);
}

// --- backups/<id>/cassandra/ ---------------------------------------------------------------------

/**
 * Cassandra folder of a backup: the snapshot script uploads its per-node folder (`<instanceId>/…`) and,
 * on the first node, `schema.cql` and `row-counts.tsv` here, laid out as the keys below.
 */
export const cassandraBackupPrefix = (backupId: string): string => `${backupPrefix(backupId)}cassandra/`;
/** Per-node folder of a backup. */
export const nodePrefix = (backupId: string, instanceId: string): string =>
  `${cassandraBackupPrefix(backupId)}${instanceId}/`;
/** Final per-node file list (`relpath\tsize\tsha256\tversionId`), read by the next backup of that node. */
export const nodeFilesKey = (backupId: string, instanceId: string): string =>
  `${nodePrefix(backupId, instanceId)}files.tsv`;
/** Per-node manifest. */
export const nodeManifestKey = (backupId: string, instanceId: string): string =>
  `${nodePrefix(backupId, instanceId)}manifest.json`;
/** Host's inventory of its snapshot (`relpath\tsize\tsha256\tnew|reused\tversionId`). */
export const nodeInventoryKey = (backupId: string, instanceId: string): string =>
  `${nodePrefix(backupId, instanceId)}inventory.tsv`;
/** Host facts (host id, tokens, address). */
export const nodeInfoKey = (backupId: string, instanceId: string): string =>
  `${nodePrefix(backupId, instanceId)}node.json`;
/** Cluster schema (`DESCRIBE SCHEMA`). */
export const schemaKey = (backupId: string): string => `${cassandraBackupPrefix(backupId)}schema.cql`;
/** Every table's row count just before the snapshot (`keyspace\ttable\trows\tdefault_time_to_live`). */
export const rowCountsKey = (backupId: string): string => `${cassandraBackupPrefix(backupId)}row-counts.tsv`;

// --- cassandra/ ----------------------------------------------------------------------------------

/**
 * SSTable store of a cluster. The snapshot script learns the host id only on the host, so it gets this
 * prefix and appends `<hostId>/` itself (the result is {@link sstablePrefix}).
 */
export const clusterSstablePrefix = (clusterName: string): string =>
  `${vaultPrefixes.cassandra}${clusterName}/`;
/** Shared SSTable store of one node (differential: referenced by many backups). */
export const sstablePrefix = (clusterName: string, hostId: string): string =>
  `${clusterSstablePrefix(clusterName)}${hostId}/`;
/** One keyspace's SSTables of one node (what a node restore downloads). */
export const sstableKeyspacePrefix = (clusterName: string, hostId: string, keyspace: string): string =>
  `${sstablePrefix(clusterName, hostId)}${keyspace}/`;
/** Vault key of one snapshot file (`relpath` = `<keyspace>/<table dir>/<file>`, as in `files.tsv`). */
export const sstableKey = (clusterName: string, hostId: string, relpath: string): string =>
  `${sstablePrefix(clusterName, hostId)}${relpath}`;

// --- backups/<id>/minio/ and minio/ --------------------------------------------------------------

/** MinIO folder of a backup. */
export const minioBackupPrefix = (backupId: string): string => `${backupPrefix(backupId)}minio/`;
/** Index of MinIO batch files (JSONL), read by the Distributed Map. */
export const minioBatchesKey = (backupId: string): string => `${minioBackupPrefix(backupId)}batches.jsonl`;
/** Bucket manifest: every object present at backup time with its vault version id. */
export const bucketManifestKey = (backupId: string, bucket: string): string =>
  `${minioBackupPrefix(backupId)}${bucket}.manifest.jsonl.gz`;
/** Working folder of one bucket in one backup. */
export const bucketWorkPrefix = (backupId: string, bucket: string): string =>
  `${minioBackupPrefix(backupId)}${bucket}/`;
/**
 * One part of a bucket's plan (`minio-plan.ts`, "Parts"): part `part` of `parts`, 1-based. A bucket
 * planned in one part keeps its files in its working folder; one planned in several keeps each part's
 * in `parts/<part, 4 digits>/` below it, so parts planned at the same time never touch each other's.
 */
export interface PlanPart {
  readonly part: number;
  readonly parts: number;
}
/** The plan of a bucket planned whole. */
export const wholeBucket: PlanPart = { part: 1, parts: 1 };
/** Working folder of one part of a bucket's plan (the bucket's own folder when it has one part). */
export const partWorkPrefix = (backupId: string, bucket: string, part: PlanPart = wholeBucket): string =>
  part.parts === 1
    ? bucketWorkPrefix(backupId, bucket)
    : `${bucketWorkPrefix(backupId, bucket)}parts/${String(part.part).padStart(4, '0')}/`;
/** Folder of the batch files of one bucket (or part) (the Distributed Map's items). */
export const batchPrefixOf = (backupId: string, bucket: string, part: PlanPart = wholeBucket): string =>
  `${partWorkPrefix(backupId, bucket, part)}batches/`;
/** Batch file `n` (1-based, zero-padded to 5 digits) of a bucket (or part). */
export const batchKeyOf = (
  backupId: string,
  bucket: string,
  n: number,
  part: PlanPart = wholeBucket,
): string => `${batchPrefixOf(backupId, bucket, part)}${batchFileName(n)}`;
/** Result file of a batch file (backup or restore): next to it, `.result.jsonl`. */
export const batchResultKeyOf = (batchKey: string): string => batchKey.replace(/\.jsonl$/, '.result.jsonl');
/** Unchanged entries carried over from the previous manifest. */
export const carriedKeyOf = (backupId: string, bucket: string, part: PlanPart = wholeBucket): string =>
  `${partWorkPrefix(backupId, bucket, part)}carried.jsonl.gz`;
/** The plan record (counts and number of batches). */
export const planKeyOf = (backupId: string, bucket: string, part: PlanPart = wholeBucket): string =>
  `${partWorkPrefix(backupId, bucket, part)}plan.json`;
/**
 * Every Nth key of a bucket manifest, written with it by Finalize MinIO: where the next backup's plan
 * of the bucket splits into parts (`minio-plan.ts`, "Parts").
 */
export const planPartsKey = (backupId: string, bucket: string): string =>
  `${minioBackupPrefix(backupId)}${bucket}.parts.json`;
/**
 * MinIO object layouts. Layout 1 (until manifest format 2) stored a source object at
 * `minio/<bucket>/<source key>`, which cannot hold every key S3 accepts: a 1,024-byte source key
 * plus the prefix exceeds S3's key limit, and a MinIO vault refuses versions of keys ending in `/`
 * and keys that are the parent "folder" of another. Layout 2 names the vault object by the SHA-256
 * of the source key's UTF-8 bytes, under a folder no layout-1 key can be in (`_` is not allowed in
 * bucket names), so both layouts live side by side in one vault: `minio/_keys/<bucket>/<64 hex>`.
 * The bucket manifest maps each source key to its vault key and version (`vaultKey`, `versionId`);
 * an entry without `vaultKey` was written by layout 1 and is read with {@link legacyMinioObjectKey}.
 */
export const minioLayoutVersion = 2;
/** The folder under `minio/` that holds layout-2 objects; never a bucket name (S3 forbids `_`). */
const minioKeysFolder = '_keys';
/** The vault folder of one source bucket's objects (layout 2). */
export const minioBucketPrefix = (bucket: string): string =>
  `${vaultPrefixes.minio}${minioKeysFolder}/${bucket}/`;
/**
 * Vault key of a MinIO object (layout 2): the SHA-256 of the source key's UTF-8 bytes, so every key S3
 * accepts (up to 1,024 bytes, ending in `/`, any UTF-8) maps to a 64-character name. Its versions are
 * the object's history; the bucket manifest holds the source key.
 */
export const minioObjectKey = (bucket: string, key: string): string =>
  `${minioBucketPrefix(bucket)}${createHash('sha256').update(key, 'utf8').digest('hex')}`;
/** The vault folder of one source bucket's objects in layout 1 (read only). */
export const legacyMinioBucketPrefix = (bucket: string): string => `${vaultPrefixes.minio}${bucket}/`;
/** Vault key of a MinIO object in layout 1: the source key verbatim (read only: restores of old backups). */
export const legacyMinioObjectKey = (bucket: string, key: string): string =>
  `${legacyMinioBucketPrefix(bucket)}${key}`;
/** Where a bucket manifest entry's bytes are: its `vaultKey` (layout 2), else the layout-1 key. */
export const minioEntryVaultKey = (
  bucket: string,
  entry: { readonly key: string; readonly vaultKey?: string | undefined },
): string => entry.vaultKey ?? legacyMinioObjectKey(bucket, entry.key);
/** Full list of the objects of one bucket that a backup could not copy (bucket, key, cause per line). */
export const failedObjectsKeyOf = (backupId: string, bucket: string): string =>
  `${bucketWorkPrefix(backupId, bucket)}failed-objects.jsonl`;
/** Source objects the listing could not name (key not valid UTF-8), found while planning. */
export const unreadableKeysKeyOf = (backupId: string, bucket: string, part: PlanPart = wholeBucket): string =>
  `${partWorkPrefix(backupId, bucket, part)}unreadable-keys.jsonl`;

function batchFileName(n: number): string {
  return `${String(n).padStart(5, '0')}.jsonl`;
}

const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
const batchKeyPattern = new RegExp(
  `^${escaped(vaultPrefixes.backups)}([^/]+)/minio/([^/]+)/(?:parts/\\d+/)?batches/(\\d+)\\.jsonl$`,
);
const manifestKeyPattern = new RegExp(
  `^${escaped(vaultPrefixes.backups)}([^/]+)/minio/([^/]+)\\.manifest\\.jsonl\\.gz$`,
);

/** Backup id, bucket and number of a batch file key, or undefined if `key` is not one. */
export function parseBatchKey(key: string): { backupId: string; bucket: string; n: number } | undefined {
  const match = batchKeyPattern.exec(key);
  if (!match?.[1] || !match[2] || !match[3]) return undefined;
  return { backupId: match[1], bucket: match[2], n: Number(match[3]) };
}

/** Backup id and bucket of a bucket manifest key, or undefined if `key` is not one. */
export function parseManifestKey(key: string): { backupId: string; bucket: string } | undefined {
  const match = manifestKeyPattern.exec(key);
  if (!match?.[1] || !match[2]) return undefined;
  return { backupId: match[1], bucket: match[2] };
}

// --- backups/<id>/postgresql/ and postgresql/ --------------------------------------------------

/** PostgreSQL folder of a backup. */
export const postgresqlBackupPrefix = (backupId: string): string => `${backupPrefix(backupId)}postgresql/`;
/** The base backup: the data directory as tar.gz, streamed by the host (no WAL: that is archived). */
export const postgresqlBaseKey = (backupId: string): string =>
  `${postgresqlBackupPrefix(backupId)}base.tar.gz`;
/** The base backup's `backup_label` (what pg_backup_stop returned), put back before recovery. */
export const postgresqlLabelKey = (backupId: string): string =>
  `${postgresqlBackupPrefix(backupId)}backup_label`;
/** Every PostgreSQL user table's row count at the backup's end (`schema.table\trows`). */
export const postgresqlRowCountsKey = (backupId: string): string =>
  `${postgresqlBackupPrefix(backupId)}row-counts.tsv`;
/**
 * The archived WAL of a PostgreSQL cluster: `<WAL file name>.gz`. The archive_command writes here (its
 * settings file names this prefix), the backup waits for its end segment, the restore replays from it.
 */
export const postgresqlWalPrefix = (clusterName: string): string =>
  `${vaultPrefixes.postgresql}${clusterName}/wal/`;

// --- restores/<restoreId>/ -----------------------------------------------------------------------

/** Prefix of one restore's own objects. */
export const restorePrefix = (restoreId: string): string => `${vaultPrefixes.restores}${restoreId}/`;
/** The report of a restore that ended. */
export const restoreReportKey = (restoreId: string): string => `${restorePrefix(restoreId)}report.json`;
/** The report of a restore that failed, with the cause. */
export const restoreFailedKey = (restoreId: string): string => `${restorePrefix(restoreId)}failed.json`;
/** The row counts a restore took on its target, in the format of {@link rowCountsKey}. */
export const restoreRowCountsKey = (restoreId: string): string => `${restorePrefix(restoreId)}row-counts.tsv`;
/** Working folder of one restore's MinIO part. */
export const restoreMinioPrefix = (restoreId: string): string => `${restorePrefix(restoreId)}minio/`;
/** Working folder of one source bucket in one restore. */
export const restoreBucketPrefix = (restoreId: string, bucket: string): string =>
  `${restoreMinioPrefix(restoreId)}${bucket}/`;
/** Restore batch file `n` (1-based, zero-padded to 5 digits) of a source bucket. */
export const restoreBatchKeyOf = (restoreId: string, bucket: string, n: number): string =>
  `${restoreBucketPrefix(restoreId, bucket)}batches/${batchFileName(n)}`;
/** Objects a restore removed from a target bucket (not in the backup), with where each can be recovered. */
export const restoreRemovedKeyOf = (restoreId: string, bucket: string): string =>
  `${restoreBucketPrefix(restoreId, bucket)}removed.jsonl`;
/** Where a restore sets aside a copy of an object it removes from an unversioned target bucket. */
export const restoreSetAsideKeyOf = (restoreId: string, bucket: string, key: string): string =>
  `${restoreBucketPrefix(restoreId, bucket)}removed/${createHash('sha256').update(key, 'utf8').digest('hex')}`;
/** The index of every restore batch file of a restore, across buckets (JSONL). */
export const restoreBatchIndexKey = (restoreId: string): string =>
  `${restoreMinioPrefix(restoreId)}batches.jsonl`;

// --- host-commands/ -----------------------------------------------------------------------------

/** A host command's reference: what its SSM `Comment` carries after {@link hostCommandCommentPrefix}. */
export const hostCommandReferencePattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Start of the SSM `Comment` of every command wire-backup sends (then the reference). */
export const hostCommandCommentPrefix = 'wire-backup host command ';
/** The record of a running host command (its task token), by the reference its SSM Comment carries. */
export const hostCommandTokenKey = (reference: string): string =>
  `${vaultPrefixes.hostCommands}${reference}.json`;
// --- retention: restore markers and purges/ (issue 13) --------------------------------------------

/** Written when a restore starts (which backup it reads); the purge keeps that backup while it runs. */
export const restoreStartedKey = (restoreId: string): string => `${restorePrefix(restoreId)}started.json`;
/** The restore id of a restore folder (`restores/<id>/`, as a delimited listing returns it), else undefined. */
export function restoreIdOfPrefix(prefix: string): string | undefined {
  if (!prefix.startsWith(vaultPrefixes.restores) || !prefix.endsWith('/')) return undefined;
  const id = prefix.slice(vaultPrefixes.restores.length, -1);
  return id && !id.includes('/') ? id : undefined;
}
/** Prefix of one purge's own objects. */
export const purgePrefix = (purgeId: string): string => `${vaultPrefixes.purges}${purgeId}/`;
/** What a purge decided: every backup with its decision and reasons, counts (written before deleting). */
export const purgePlanKey = (purgeId: string): string => `${purgePrefix(purgeId)}plan.json`;
/** Every object version a purge deletes, with why (JSONL, gzip'd; manifests first). */
export const purgeDeletionsKey = (purgeId: string): string => `${purgePrefix(purgeId)}deletions.jsonl.gz`;
/** What a purge did (or, in a dry run, would do); `wire-backup purge` prints it. */
export const purgeReportKey = (purgeId: string): string => `${purgePrefix(purgeId)}report.json`;
/** The purge id of a purge folder (`purges/<id>/`), else undefined. */
export function purgeIdOfPrefix(prefix: string): string | undefined {
  if (!prefix.startsWith(vaultPrefixes.purges) || !prefix.endsWith('/')) return undefined;
  const id = prefix.slice(vaultPrefixes.purges.length, -1);
  return id && !id.includes('/') ? id : undefined;
}

// --- the archive bucket (cross-region copies; issue 13) ----------------------------------------------

/**
 * Top-level folders of the archive bucket (`archive.region`). Objects are content-addressed by their
 * SHA-256, so an object that several backups reference (a reused SSTable, a carried MinIO object) is
 * copied once; each backup's folder holds copies of its small index files and, written last, its
 * archive manifest.
 *
 * ```
 * backups/<id>/archive.json          archive manifest: counts, storage class, verified (written last)
 * backups/<id>/archive-objects.jsonl.gz  every object of the backup → its archive key, size, SHA-256
 * backups/<id>/<vault key below backups/<id>/>   the backup's own index files (manifest.json, files.tsv, …)
 * objects/sha256/<ab>/<sha256>       content-addressed objects (SSTables, MinIO objects, wire-server archive)
 * ```
 */
export const archivePrefixes = {
  /** One folder per archived backup. */
  backups: 'backups/',
  /** Content-addressed objects, shared by every archived backup that references them. */
  objects: 'objects/',
} as const;

/** A top-level folder of the archive bucket. */
export type ArchivePrefix = (typeof archivePrefixes)[keyof typeof archivePrefixes];

/** The archive manifest of a backup: its presence means the archive copy is complete. */
export const archiveManifestKey = (backupId: string): string =>
  `${archivePrefixes.backups}${backupId}/archive.json`;
/** Where a vault object of a backup's own folder (`backups/<id>/…`) is kept in the archive (same key). */
export const archiveIndexKey = (vaultKey: string): string => {
  if (!vaultKey.startsWith(vaultPrefixes.backups))
    throw new Error(
      `${vaultKey} is not below ${vaultPrefixes.backups}: only a backup's own files are index files`,
    );
  return `${archivePrefixes.backups}${vaultKey.slice(vaultPrefixes.backups.length)}`;
};
/**
 * The folder of the content-addressed archive objects. A restore from the archive gives it to
 * `restore-cassandra-node.sh` as its SSTable prefix, and the script appends `<first two hex>/<sha256>`
 * for each file of `files.tsv` (as {@link archiveObjectKey} does; the snapshot script likewise appends
 * the host id to {@link clusterSstablePrefix}).
 */
export const archiveObjectPrefix = `${archivePrefixes.objects}sha256/`;
/** Content-addressed archive key of an object with this SHA-256 (hex). */
export const archiveObjectKey = (sha256: string): string => {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`"${sha256}" is not a SHA-256 in hex`);
  return `${archiveObjectPrefix}${sha256.slice(0, 2)}/${sha256}`;
};
/**
 * The list of every object an archived backup holds (vault key and version → archive key, size,
 * SHA-256); written by Plan Archive, worked through by the copy, named by the archive manifest.
 */
export const archiveObjectsKey = (backupId: string): string =>
  `${archivePrefixes.backups}${backupId}/archive-objects.jsonl.gz`;
/** The backup id of an archive folder (`backups/<id>/`), else undefined. */
export function archivedBackupIdOfPrefix(prefix: string): string | undefined {
  if (!prefix.startsWith(archivePrefixes.backups) || !prefix.endsWith('/')) return undefined;
  const id = prefix.slice(archivePrefixes.backups.length, -1);
  return id && !id.includes('/') ? id : undefined;
}

// --- where a restore reads a backup from -------------------------------------------------------------

/** Where a restore reads a backup: the vault (default) or the archive bucket (restore input `source`). */
export const backupSources = ['vault', 'archive'] as const;
/** Where a restore reads a backup. */
export type BackupSource = (typeof backupSources)[number];

/** One object of a backup as the backup names it (its vault key and version, the SHA-256 it recorded). */
export interface BackupObjectRef {
  /**
   * `index`: one of the backup's own files below `backups/<id>/` (manifest, files.tsv, schema, bucket
   * manifests, row counts); `data`: an object the backup references by content (SSTable, MinIO object
   * version, the wire-server archive), which the archive keeps content-addressed.
   */
  readonly kind: 'index' | 'data';
  readonly vaultKey: string;
  /** The vault version the backup recorded ('null' or undefined: none). */
  readonly versionId?: string | undefined;
  /** The SHA-256 the backup recorded (required for `data`). */
  readonly sha256?: string | undefined;
}

/**
 * Where a restore reads one object of a backup from `source`, the one rule every restore reader
 * follows: in the vault its vault key and version; in the archive an index file under the same key
 * below the archive's `backups/` ({@link archiveIndexKey}) and a data object at its content address
 * ({@link archiveObjectKey}), both without a version id (the archive's copies are not the vault's
 * versions; content-addressed keys cannot hold other content, and the archive manifest vouches for the
 * rest).
 */
export function backupReadLocation(
  source: BackupSource,
  ref: BackupObjectRef,
): { readonly key: string; readonly versionId: string | undefined } {
  if (source === 'vault') return { key: ref.vaultKey, versionId: ref.versionId };
  if (ref.kind === 'index') return { key: archiveIndexKey(ref.vaultKey), versionId: undefined };
  if (!ref.sha256)
    throw new Error(
      `${ref.vaultKey}: a data object is read from the archive by its SHA-256, and none was given`,
    );
  return { key: archiveObjectKey(ref.sha256), versionId: undefined };
}

// --- ids -----------------------------------------------------------------------------------------

/** A backup id: the UTC start time to the second, sortable (`20261126T061500Z`). */
export const backupIdPattern = /^[0-9]{8}T[0-9]{6}Z$/;

/** Allocates the backup id of a backup starting at `now`. */
export function allocateBackupId(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

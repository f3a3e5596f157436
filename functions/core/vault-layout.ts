/**
 * The vault layout (DESIGN.md "Vault layout"), in one place. A backup is complete exactly when
 * `backups/<id>/manifest.json` exists; it is written last.
 */

/** Prefix of one backup's own objects. */
export const backupPrefix = (backupId: string): string => `backups/${backupId}/`;
/** The completion marker and index of a backup. */
export const manifestKey = (backupId: string): string => `backups/${backupId}/manifest.json`;
/** Written when a backup starts. */
export const startedKey = (backupId: string): string => `backups/${backupId}/started.json`;
/** Written when a backup fails, with the cause. */
export const failedKey = (backupId: string): string => `backups/${backupId}/failed.json`;
/** The wire-server folder archive. */
export const wireServerArchiveKey = (backupId: string): string => `backups/${backupId}/wire-server.tar.gz`;
/** Per-node folder of a backup. */
export const nodePrefix = (backupId: string, instanceId: string): string =>
  `backups/${backupId}/cassandra/${instanceId}/`;
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
export const schemaKey = (backupId: string): string => `backups/${backupId}/cassandra/schema.cql`;
/** Every table's row count just before the snapshot (`keyspace\ttable\trows\tdefault_time_to_live`). */
export const rowCountsKey = (backupId: string): string => `backups/${backupId}/cassandra/row-counts.tsv`;
/** The row counts a restore took on its target, in the same format. */
export const restoreRowCountsKey = (restoreId: string): string => `restores/${restoreId}/row-counts.tsv`;
/** Shared SSTable store of one node (differential: referenced by many backups). */
export const sstablePrefix = (clusterName: string, hostId: string): string =>
  `cassandra/${clusterName}/${hostId}/`;
/** Index of MinIO batch files (JSONL), read by the Distributed Map. */
export const minioBatchesKey = (backupId: string): string => `backups/${backupId}/minio/batches.jsonl`;
/** Bucket manifest: every object present at backup time with its vault version id. */
export const bucketManifestKey = (backupId: string, bucket: string): string =>
  `backups/${backupId}/minio/${bucket}.manifest.jsonl.gz`;
/** Vault key of a MinIO object (its versions are the history). */
export const minioObjectKey = (bucket: string, key: string): string => `minio/${bucket}/${key}`;

/** A backup id: the UTC start time to the second, sortable (`20261126T061500Z`). */
export const backupIdPattern = /^[0-9]{8}T[0-9]{6}Z$/;

/** Allocates the backup id of a backup starting at `now`. */
export function allocateBackupId(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

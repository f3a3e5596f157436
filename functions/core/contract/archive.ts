import { z } from 'zod';

/**
 * The archive state machine's messages: the "Backup Completed" event that starts it, the items it
 * copies, its progress, and the archive manifest written last in the archive bucket.
 */

/** The "Backup Completed" EventBridge event as a rule target receives it (`statemachines/backup.ts`, Announce Backup). */
export const backupCompletedEventSchema = z.looseObject({
  source: z.literal('wire-backup'),
  'detail-type': z.literal('Backup Completed'),
  detail: z.object({
    backupId: z.string(),
    manifestKey: z.string(),
    vaultBucket: z.string(),
    clusterName: z.string(),
  }),
});
/** The "Backup Completed" event. */
export type BackupCompletedEvent = z.infer<typeof backupCompletedEventSchema>;

/** One vault object version to archive. */
export const archiveItemSchema = z.object({
  /** `object`: content-addressed (SSTable, MinIO object, wire-server archive); `index`: the backup's own files. */
  kind: z.enum(['object', 'index']),
  vaultKey: z.string(),
  versionId: z.string(),
  /** SHA-256 the backup recorded (objects); '' for index files (taken while copying). */
  sha256: z.string(),
  size: z.number().int().nonnegative(),
  archiveKey: z.string(),
});
/** One vault object version to archive. */
export type ArchiveItem = z.infer<typeof archiveItemSchema>;

/** What Plan Archive returns. */
export const archivePlanSchema = z.object({
  backupId: z.string(),
  vaultBucket: z.string(),
  archiveBucket: z.string(),
  archiveRegion: z.string(),
  storageClass: z.string(),
  itemsKey: z.string(),
  items: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  /** The backup is already archived (its archive manifest exists): nothing to do. */
  alreadyArchived: z.boolean(),
});
/** What Plan Archive returns. */
export type ArchivePlan = z.infer<typeof archivePlanSchema>;

/** Progress of Copy To Archive (looped until `done`). */
export const archiveProgressSchema = z.object({
  /** Items handled so far (the next call starts here). */
  cursor: z.number().int().nonnegative(),
  done: z.boolean(),
  copiedObjects: z.number().int().nonnegative(),
  copiedBytes: z.number().int().nonnegative(),
  /** Objects already in the archive (an earlier backup's, or an interrupted run's): referenced, not copied. */
  referencedObjects: z.number().int().nonnegative(),
});
/** Progress of Copy To Archive. */
export type ArchiveProgress = z.infer<typeof archiveProgressSchema>;

/** One line of the archive's object list (`backups/<id>/archive-objects.jsonl.gz` in the archive bucket). */
export const archivedObjectSchema = archiveItemSchema.extend({ sha256: z.string().regex(/^[0-9a-f]{64}$/) });
/** One archived object. */
export type ArchivedObject = z.infer<typeof archivedObjectSchema>;

/** The archive manifest (`backups/<id>/archive.json` in the archive bucket): its presence means the archive is complete. */
export const archiveManifestSchema = z.object({
  formatVersion: z.literal(1),
  backupId: z.string(),
  clusterName: z.string(),
  archivedAt: z.string(),
  sourceVaultBucket: z.string(),
  archiveBucket: z.string(),
  region: z.string(),
  storageClass: z.string(),
  objectsKey: z.string(),
  objects: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  copiedObjects: z.number().int().nonnegative(),
  copiedBytes: z.number().int().nonnegative(),
  referencedObjects: z.number().int().nonnegative(),
  /** Every archived object's size and SHA-256 were checked in the archive before this manifest was written. */
  verified: z.literal(true),
});
/** The archive manifest. */
export type ArchiveManifest = z.infer<typeof archiveManifestSchema>;

/** The archive state machine's state. */
export interface ArchiveState {
  readonly detail: BackupCompletedEvent['detail'];
  readonly plan: ArchivePlan;
  readonly progress: ArchiveProgress;
  readonly manifest: ArchiveManifest;
  readonly error: { readonly Error?: string; readonly Cause?: string };
}

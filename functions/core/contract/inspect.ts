import { z } from 'zod';
import { archiveManifestSchema } from './archive.js';
import { backupManifestSchema } from './backup.js';

/**
 * What the read-only operator verbs report (`wire-backup status`, `show`, `verify`, `archive list`;
 * `functions/core/vault-inspect.ts`): `--json` prints these, the text summaries are made from them.
 */

/** The state of one backup folder in the vault. */
export const backupStateSchema = z.enum(['complete', 'failed', 'incomplete', 'unreadable']);
/** The state of one backup folder. */
export type BackupState = z.infer<typeof backupStateSchema>;

/** One backup folder, as `show` and `status` read it. */
export const backupRecordSchema = z.object({
  backupId: z.string(),
  state: backupStateSchema,
  /** The manifest, when the backup is complete. */
  manifest: backupManifestSchema.optional(),
  /** The failed marker's error and first line of its cause, when the backup failed. */
  failure: z.object({ error: z.string(), cause: z.string() }).optional(),
  /** Why the manifest is unreadable (`unreadable`). */
  problem: z.string().optional(),
});
/** One backup folder. */
export type BackupRecord = z.infer<typeof backupRecordSchema>;

/** Nagios plugin states, by their exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). */
export const nagiosStates = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;

/** What `status` found: the newest good backup's age against the thresholds. */
export const statusReportSchema = z.object({
  state: z.enum(nagiosStates),
  /** The Nagios exit code of `state`. */
  code: z.number().int().min(0).max(3),
  /** One line a person (or a monitoring system) can act on. */
  message: z.string(),
  checkedAt: z.string(),
  warningSeconds: z.number().positive(),
  criticalSeconds: z.number().positive(),
  /** The newest complete backup, its completion time and age; null when the vault holds none. */
  lastGood: z.object({ backupId: z.string(), completedAt: z.string(), ageSeconds: z.number() }).nullable(),
  /** Backup runs newer than the last good one that failed, or have neither manifest nor failed marker. */
  newerRuns: z.array(z.object({ backupId: z.string(), state: backupStateSchema, detail: z.string() })),
});
/** What `status` found. */
export type StatusReport = z.infer<typeof statusReportSchema>;

/** One backup with everything `show` prints: the record, and its archive copy when there is an archive. */
export const backupDetailsSchema = backupRecordSchema.extend({
  archive: z
    .object({
      bucket: z.string(),
      /** The archive manifest, when the archive copy is complete; null: not archived (or not yet). */
      manifest: archiveManifestSchema.nullable(),
      /** The archive folder exists without a manifest: a copy running or interrupted (not restorable). */
      incomplete: z.boolean(),
    })
    .optional(),
});
/** One backup with its archive copy. */
export type BackupDetails = z.infer<typeof backupDetailsSchema>;

/** What a verify found wrong with one object version. */
export const verifyProblemSchema = z.object({
  /** `wireServer`, `cassandra <node>`, `minio <bucket>`, `postgresql`. */
  component: z.string(),
  /** The object as the backup names it (SSTable relpath, MinIO source key, vault key). */
  name: z.string(),
  vaultKey: z.string(),
  versionId: z.string(),
  kind: z.enum(['missing', 'size', 'checksum']),
  expected: z.string(),
  found: z.string(),
});
/** One damaged or missing object. */
export type VerifyProblem = z.infer<typeof verifyProblemSchema>;

/** What `verify <id>` found. */
export const verifyReportSchema = z.object({
  backupId: z.string(),
  vaultBucket: z.string(),
  /** `deep`: every object read and its SHA-256 taken; `quick`: every object HEADed (exists, size). */
  mode: z.enum(['quick', 'deep']),
  /** The rotating share checked (scheduled verify), or null: every object. */
  share: z.object({ divisor: z.number().int().positive(), slot: z.number().int().nonnegative() }).nullable(),
  /** Objects outside the share or of an excluded component (scheduled: the wire-server archive), not checked. */
  skippedObjects: z.number().int().nonnegative(),
  objects: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  /** Objects per component (`wireServer`, `cassandra <node>`, `minio <bucket>`, `postgresql`). */
  components: z.record(z.string(), z.object({ objects: z.number(), bytes: z.number() })),
  problems: z.array(verifyProblemSchema),
  seconds: z.number(),
});
/** What `verify <id>` found. */
export type VerifyReport = z.infer<typeof verifyReportSchema>;

/** One backup folder in the archive bucket. */
export const archiveListingSchema = z.object({
  backupId: z.string(),
  /** The archive manifest (archive complete), or null (copy running or interrupted: not restorable). */
  manifest: archiveManifestSchema.nullable(),
});
/** One backup folder in the archive bucket. */
export type ArchiveListing = z.infer<typeof archiveListingSchema>;

import { z } from 'zod';
import type { caughtErrorSchema } from './common.js';

/**
 * The purge state machine's messages: its input, the plan Plan Purge writes and returns, the lines of
 * the deletion list, and the report written at the end (and printed by `wire-backup purge`).
 */

/** Execution input of the purge state machine. The schedule sends `{"trigger": "schedule"}`. */
export const purgeInputSchema = z
  .object({
    /** List what would be deleted and why; delete nothing. */
    dryRun: z.boolean().default(false),
    trigger: z.enum(['schedule', 'manual']).optional(),
  })
  .strict();
/** Execution input of the purge state machine. */
export type PurgeInput = z.infer<typeof purgeInputSchema>;

/** What a backup folder in the vault is. */
export const backupStatusSchema = z.enum(['complete', 'failed', 'running', 'abandoned']);
/** What a backup folder in the vault is. */
export type BackupStatus = z.infer<typeof backupStatusSchema>;

/** The purge's decision for one backup folder. */
export const purgeBackupDecisionSchema = z.object({
  backupId: z.string(),
  status: backupStatusSchema,
  /** keep: retained or pinned; delete: its folder goes; locked: expired but Object Lock holds its manifest. */
  action: z.enum(['keep', 'delete', 'locked']),
  /** Why, in words (`hourly #3 (2026-11-26T06)`, `failed 9 days ago (> 7)`, …). */
  reason: z.string(),
});
/** The purge's decision for one backup folder. */
export type PurgeBackupDecision = z.infer<typeof purgeBackupDecisionSchema>;

/** What a deleted object version was. */
export const deletionCategorySchema = z.enum([
  'manifest',
  'backup-folder',
  'sstable',
  'minio-object',
  'postgresql-wal',
]);
/** What a deleted object version was. */
export type DeletionCategory = z.infer<typeof deletionCategorySchema>;

/** A count of 0 for every deletion category (the start of a plan's or a deletion's tally). */
export function zeroByCategory(): Record<DeletionCategory, number> {
  return Object.fromEntries(deletionCategorySchema.options.map((c) => [c, 0])) as Record<
    DeletionCategory,
    number
  >;
}

/** One line of the deletion list (`purges/<id>/deletions.jsonl.gz`): one object version. */
export const deletionLineSchema = z.object({
  key: z.string().min(1),
  versionId: z.string().min(1),
  size: z.number().int().nonnegative(),
  category: deletionCategorySchema,
  reason: z.string(),
});
/** One line of the deletion list. */
export type DeletionLine = z.infer<typeof deletionLineSchema>;

/** A version Object Lock (retention or legal hold) protects: reported, never forced. */
export const lockedVersionSchema = z.object({
  key: z.string(),
  versionId: z.string(),
  /** ISO time the retention ends; null for a legal hold. */
  retainUntil: z.string().nullable(),
  mode: z.string().nullable(),
  legalHold: z.boolean(),
});
/** A version Object Lock protects. */
export type LockedVersion = z.infer<typeof lockedVersionSchema>;

/** Counts by category (versions and bytes). */
export const categoryCountsSchema = z.object({
  versions: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  byCategory: z.record(deletionCategorySchema, z.number().int().nonnegative()),
});
/** Counts by category. */
export type CategoryCounts = z.infer<typeof categoryCountsSchema>;

/** What Plan Purge writes to `purges/<id>/plan.json`. */
export const purgePlanSchema = z.object({
  purgeId: z.string(),
  vaultBucket: z.string(),
  dryRun: z.boolean(),
  startedAt: z.string(),
  /** Only versions last modified before this time may be deleted (grace period, running backups). */
  fence: z.string(),
  retention: z.object({
    hourly: z.number(),
    daily: z.number(),
    weekly: z.number(),
    monthly: z.number(),
    failedDays: z.number(),
    graceHours: z.number(),
  }),
  backups: z.array(purgeBackupDecisionSchema),
  /** Running restores and which backup each reads. */
  runningRestores: z.array(z.object({ restoreId: z.string(), backupId: z.string() })),
  /** Running backups and what they pin. */
  runningBackups: z.array(
    z.object({ backupId: z.string(), startedAt: z.string(), pins: z.array(z.string()) }),
  ),
  /** Archived WAL folders and where their WAL is kept from (plans from before WAL was purged: none). */
  wal: z
    .array(z.object({ walPrefix: z.string(), startWalFile: z.string(), backupId: z.string() }))
    .default([]),
  /** Object versions referenced by a kept backup (never deleted). */
  referencedVersions: z.number().int().nonnegative(),
  /** Unreferenced versions younger than the fence (left for a later purge). */
  withinGrace: z.number().int().nonnegative(),
  planned: categoryCountsSchema,
  locked: z.object({ versions: z.number().int().nonnegative(), examples: z.array(lockedVersionSchema) }),
  /** The first deletions, with reasons (the whole list is in `deletionsKey`). */
  sample: z.array(deletionLineSchema),
  planKey: z.string(),
  deletionsKey: z.string(),
  reportKey: z.string(),
});
/** What Plan Purge decided. */
export type PurgePlan = z.infer<typeof purgePlanSchema>;

/** What Plan Purge returns into the state (small: the lists stay in the vault). */
export const purgePlanSummarySchema = z.object({
  purgeId: z.string(),
  dryRun: z.boolean(),
  planKey: z.string(),
  deletions: z.number().int().nonnegative(),
});
/** What Plan Purge returns into the state. */
export type PurgePlanSummary = z.infer<typeof purgePlanSummarySchema>;

/** What Delete Expired returns. */
export const purgeDeletedSchema = z.object({
  deleted: categoryCountsSchema,
  /** Versions the store refused to delete because Object Lock holds them. */
  refusedLocked: z.array(z.object({ key: z.string(), versionId: z.string(), message: z.string() })),
});
/** What Delete Expired returns. */
export type PurgeDeleted = z.infer<typeof purgeDeletedSchema>;

/** The purge report (`purges/<id>/report.json`). */
export const purgeReportSchema = z.object({
  purgeId: z.string(),
  status: z.enum(['succeeded', 'dry-run', 'failed']),
  finishedAt: z.string(),
  plan: purgePlanSchema.nullable(),
  deleted: purgeDeletedSchema.nullable(),
  error: z.object({ error: z.string(), cause: z.string() }).nullable(),
  reportKey: z.string(),
});
/** The purge report. */
export type PurgeReport = z.infer<typeof purgeReportSchema>;

/** The purge state machine's state. */
export interface PurgeState {
  readonly input: PurgeInput;
  readonly plan: PurgePlanSummary;
  readonly deleted: PurgeDeleted;
  readonly error: z.infer<typeof caughtErrorSchema>;
  readonly report: PurgeReport;
}

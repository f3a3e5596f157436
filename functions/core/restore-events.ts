import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { type BackupSource, backupSources } from './vault-layout.js';

/** One bucket of a restore plan, as the MinIO restore steps receive it. */
export const restoreBucketSchema = z.object({
  sourceBucket: z.string(),
  targetBucket: z.string(),
  manifestKey: z.string(),
});

/** Event of the MinIO restore steps (check targets, plan batches): the parts of the plan they read. */
export const restoreMinioEventSchema = z.object({
  plan: z.looseObject({
    restoreId: z.string(),
    overwrite: z.boolean(),
    dryRun: z.boolean().default(false),
    /** Where the backup is read (`restorePlanSchema`). */
    source: z.enum(backupSources).default('vault'),
    sourceBucket: z.string(),
    minio: z.object({
      buckets: z.array(restoreBucketSchema),
      extraObjects: z.enum(['report', 'delete']).default('report'),
    }),
  }),
});

/** The source access of a restore step: where its plan reads the backup, with the client for it. */
export function sourceAccessOf(
  plan: { readonly source: BackupSource; readonly sourceBucket: string },
  access: { readonly s3: S3Client; readonly bucket: string },
): { readonly source: BackupSource; readonly client: S3Client; readonly bucket: string } {
  return { source: plan.source, client: access.s3, bucket: access.bucket };
}

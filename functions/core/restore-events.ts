import { z } from 'zod';

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
    minio: z.object({
      buckets: z.array(restoreBucketSchema),
      extraObjects: z.enum(['report', 'delete']).default('report'),
    }),
  }),
});

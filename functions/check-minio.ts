import { z } from 'zod';
import { parseEvent } from './core/handler-kit.js';
import { checkSourceBuckets, sourceClientFromEnv } from './core/source-minio.js';

const eventSchema = z.object({
  plan: z.looseObject({ minio: z.looseObject({ buckets: z.array(z.string()) }) }),
});

/** Preflight of the source MinIO: every configured bucket exists and is readable. */
export async function handler(event: unknown): Promise<{ buckets: string[] }> {
  const { plan } = parseEvent('check-minio', eventSchema, event);
  const { s3, endpoint } = await sourceClientFromEnv();
  return checkSourceBuckets(s3, endpoint, plan.minio.buckets);
}

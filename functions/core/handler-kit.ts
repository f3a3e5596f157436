import type { S3Client } from '@aws-sdk/client-s3';
import type { z } from 'zod';
import { createVaultS3Client, vaultS3ConfigFromEnv } from './clients.js';
import { configuredArchive, env, envNames } from './env.js';
import { InvalidInputError, RestoreRefusedError } from './errors.js';
import type { BackupSource } from './vault-layout.js';

/** Parses a state's event with a zod schema; the error names the function and each bad field. */
export function parseEvent<S extends z.ZodType>(fn: string, schema: S, event: unknown): z.infer<S> {
  const result = schema.safeParse(event);
  if (!result.success) {
    const fields = result.error.issues.map((i) => `${i.path.join('.') || 'event'}: ${i.message}`).join('; ');
    throw new InvalidInputError(`${fn}: event rejected (${fields})`);
  }
  return result.data;
}

/** The vault client and bucket every handler uses (built once per container). */
export function vault(): { s3: ReturnType<typeof createVaultS3Client>; bucket: string } {
  return { s3: createVaultS3Client(), bucket: env.vaultBucket() };
}

/** The archive bucket's client and name when the stack has `archive` configured, else undefined. */
export function archive(): { s3: S3Client; bucket: string } | undefined {
  const configured = configuredArchive();
  if (!configured) return undefined;
  return {
    s3: createVaultS3Client({ ...vaultS3ConfigFromEnv(), region: configured.region }),
    bucket: configured.bucket,
  };
}

/**
 * The client and bucket a restore reads its backup from (`plan.source`): the vault, or the archive
 * bucket in the archive's region.
 */
export function backupSource(plan: { readonly source: BackupSource; readonly sourceBucket: string }): {
  s3: S3Client;
  bucket: string;
} {
  if (plan.source === 'vault') return vault();
  const configured = archive();
  if (!configured)
    throw new RestoreRefusedError(
      `the restore reads from the archive bucket ${plan.sourceBucket}, but this function has no archive configured (no ${envNames.archiveBucket} in its environment) — add "archive" to the configuration and deploy`,
    );
  return { s3: configured.s3, bucket: plan.sourceBucket };
}

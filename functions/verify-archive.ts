import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { verifyWireServerArchive } from './core/archive-verify.js';
import type { WireServerResult } from './core/contract/backup.js';
import { ruleString, rules } from './core/contract/rules.js';
import { env } from './core/env.js';
import { parseEvent, vault } from './core/handler-kit.js';

const eventSchema = z.object({
  plan: z.looseObject({ wireServer: z.looseObject({ expectedEntries: z.array(z.string()) }) }),
  archive: z.looseObject({
    key: z.string(),
    bytes: z.number(),
    sha256: ruleString(rules.sha256),
    versionId: z.string().optional(),
  }),
});

/**
 * Verifies the wire-server archive as the manual procedure does by hand — gzip'd TAR, not empty,
 * listing parses, expected entries present — plus its SHA-256 and that it is under the archive's own
 * KMS key, by streaming it once.
 */
export async function handler(event: unknown): Promise<WireServerResult> {
  const { plan, archive } = parseEvent('verify-archive', eventSchema, event);
  const { s3, bucket } = vault();
  // Pin the version the host just wrote, so restores fetch exactly this archive.
  const versionId =
    archive.versionId ??
    (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: archive.key }))).VersionId;
  const verified = await verifyWireServerArchive({
    vault: s3,
    bucket,
    key: archive.key,
    expectedSha256: archive.sha256,
    expectedEntries: plan.wireServer.expectedEntries,
    expectedKmsKeyArn: env.wireServerArchiveKeyArn(),
    ...(versionId ? { versionId } : {}),
  });
  return { ...verified, ...(versionId ? { versionId } : {}) };
}

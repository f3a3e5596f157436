import type { S3Client } from '@aws-sdk/client-s3';
import { type BackupManifest, backupManifestSchema } from '../functions/core/contract/backup.js';
import { listBackupIds, readJsonOrUndefined } from '../functions/core/vault-io.js';
import { failedKey, manifestKey, vaultPrefixes } from '../functions/core/vault-layout.js';
import { formatBytes } from './format.js';

export { listBackupIds };

/** Lists the vault's backups, newest first: complete (restorable), failed (with cause), incomplete. */
export async function listBackups(
  s3: S3Client,
  bucket: string,
  options: { readonly pageSize?: number; readonly limit?: number } = {},
): Promise<string> {
  const all = await listBackupIds(s3, bucket, options);
  const ids = options.limit ? all.slice(0, options.limit) : all;
  const lines = [
    `${all.length} backup(s) in s3://${bucket}/${vaultPrefixes.backups} (newest first${ids.length < all.length ? `, ${ids.length} shown` : ''}):`,
  ];
  for (const id of ids) {
    const raw = await readJsonOrUndefined<BackupManifest>(s3, bucket, manifestKey(id));
    const manifest = raw === undefined ? undefined : backupManifestSchema.safeParse(raw);
    if (manifest?.success) {
      const m = manifest.data;
      lines.push(
        `  ${id}  complete    ${formatBytes(m.totals.bytes)}, ${m.totals.files} files, ${m.totals.objects} objects (${formatBytes(m.totals.newBytes)} new)`,
      );
      continue;
    }
    if (manifest) {
      lines.push(`  ${id}  UNREADABLE  manifest does not parse: check s3://${bucket}/${manifestKey(id)}`);
      continue;
    }
    const failed = await readJsonOrUndefined<{ error?: string; cause?: string }>(s3, bucket, failedKey(id));
    lines.push(
      failed
        ? `  ${id}  FAILED      ${failed.error}: ${(failed.cause ?? '').split('\n')[0]?.slice(0, 120)}`
        : `  ${id}  incomplete  (running, or interrupted: not restorable)`,
    );
  }
  return lines.join('\n');
}

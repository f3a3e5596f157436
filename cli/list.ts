import type { S3Client } from '@aws-sdk/client-s3';
import { readBackupRecord } from '../functions/core/vault-inspect.js';
import { listBackupIds } from '../functions/core/vault-io.js';
import { vaultPrefixes } from '../functions/core/vault-layout.js';
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
    const record = await readBackupRecord(s3, bucket, id);
    const m = record.manifest;
    if (m) {
      lines.push(
        `  ${id}  complete    ${formatBytes(m.totals.bytes)}, ${m.totals.files} files, ${m.totals.objects} objects (${formatBytes(m.totals.newBytes)} new)`,
      );
      continue;
    }
    if (record.state === 'unreadable') lines.push(`  ${id}  UNREADABLE  ${record.problem}`);
    else if (record.failure)
      lines.push(`  ${id}  FAILED      ${record.failure.error}: ${record.failure.cause.slice(0, 120)}`);
    else lines.push(`  ${id}  incomplete  (running, or interrupted: not restorable)`);
  }
  return lines.join('\n');
}

import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { BackupManifest } from '../functions/core/contract/backup.js';
import { readJsonOrUndefined } from '../functions/core/vault-io.js';
import { backupIdOfPrefix, failedKey, manifestKey, vaultPrefixes } from '../functions/core/vault-layout.js';
import { createStackS3Client } from '../local/stack-clients.js';
import { readStackInfo } from '../local/stack-info.js';
import { formatBytes } from './format.js';

/** Lists the local vault's backups, newest first: complete (restorable), failed (with cause), incomplete. */
export async function listBackups(): Promise<string> {
  const stack = readStackInfo();
  const s3 = createStackS3Client(stack.vault);
  try {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: stack.vault.bucket, Prefix: vaultPrefixes.backups, Delimiter: '/' }),
    );
    const ids = (page.CommonPrefixes ?? [])
      .map((p) => backupIdOfPrefix(p.Prefix ?? '') ?? '')
      .sort()
      .reverse();
    const lines = [
      `${ids.length} backup(s) in s3://${stack.vault.bucket}/${vaultPrefixes.backups} (newest first):`,
    ];
    for (const id of ids) {
      const manifest = await readJsonOrUndefined<BackupManifest>(s3, stack.vault.bucket, manifestKey(id));
      if (manifest) {
        lines.push(
          `  ${id}  complete    ${formatBytes(manifest.totals.bytes)}, ${manifest.totals.files} files, ${manifest.totals.objects} objects`,
        );
        continue;
      }
      const failed = await readJsonOrUndefined<{ error?: string; cause?: string }>(
        s3,
        stack.vault.bucket,
        failedKey(id),
      );
      lines.push(
        failed
          ? `  ${id}  FAILED      ${failed.error}: ${(failed.cause ?? '').split('\n')[0]?.slice(0, 120)}`
          : `  ${id}  incomplete  (running, or interrupted: not restorable)`,
      );
    }
    return lines.join('\n');
  } finally {
    s3.destroy();
  }
}

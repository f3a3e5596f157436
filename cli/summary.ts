import type { BackupManifest } from '../functions/core/commit.js';
import { formatBytes, formatDuration } from './format.js';

/** The end-of-backup summary: per component what was stored, new vs reused, where the manifest is. */
export function backupSummary(manifest: BackupManifest, vaultBucket: string): string {
  const lines = [
    `wire-backup: backup ${manifest.backupId} complete in ${formatDuration(manifest.durationSeconds)}`,
  ];
  const w = manifest.wireServer;
  if (w)
    lines.push(
      `  wire-server  archive ${formatBytes(w.bytes)}, ${w.entries} entries, sha256 ${w.sha256.slice(0, 12)}…  (verified)`,
    );
  for (const n of manifest.cassandra?.nodes ?? []) {
    lines.push(
      `  cassandra    ${n.name}: ${n.files} files ${formatBytes(n.bytes)} — new ${n.newFiles} (${formatBytes(n.newBytes)}), reused ${n.reusedFiles} (${formatBytes(n.reusedBytes)})`,
    );
  }
  for (const d of manifest.cassandra?.downNodes ?? [])
    lines.push(`  cassandra    ${d.name}: NOT BACKED UP (${d.reason})`);
  for (const b of manifest.minio?.buckets ?? []) {
    lines.push(
      `  minio        ${b.bucket}: ${b.objects} objects ${formatBytes(b.bytes)} — copied ${b.copiedObjects} (${formatBytes(b.copiedBytes)}), unchanged ${b.carriedObjects}`,
    );
  }
  const t = manifest.totals;
  lines.push(
    `  total        ${formatBytes(t.bytes)}: new ${formatBytes(t.newBytes)}, reused ${formatBytes(t.reusedBytes)}`,
  );
  lines.push(`  manifest     s3://${vaultBucket}/backups/${manifest.backupId}/manifest.json`);
  lines.push(
    `Next: check a restore without writing anything: wire-backup restore --local --backup-id ${manifest.backupId} --confirm ${manifest.backupId} --dry-run`,
  );
  return lines.join('\n');
}

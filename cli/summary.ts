import type { BackupManifest } from '../functions/core/contract/backup.js';
import { isSkipped } from '../functions/core/contract/common.js';
import type { RestoreReport } from '../functions/core/contract/restore.js';
import { restoreRowCounts, restoreWarnings } from '../functions/core/restore-report.js';
import type { DrillReport } from '../local/drill.js';
import { formatBytes, formatDuration } from './format.js';

/** The end-of-backup summary: per component what was stored, new vs reused, where the manifest is. */
export function backupSummary(manifest: BackupManifest, vaultBucket: string): string {
  return [
    `wire-backup: backup ${manifest.backupId} complete in ${formatDuration(manifest.durationSeconds)}`,
    ...backupComponentLines(manifest, vaultBucket),
    `Next: check a restore without writing anything: wire-backup restore --local --backup-id ${manifest.backupId} --confirm ${manifest.backupId} --dry-run`,
  ].join('\n');
}

/** Per component what a backup stored (new vs reused), its totals and manifest: `backup` and `show` print these. */
export function backupComponentLines(manifest: BackupManifest, vaultBucket: string): string[] {
  const lines: string[] = [];
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
  if (manifest.cassandra?.rowCountsKey)
    lines.push(
      `  row counts   every table's, taken before the snapshot, for restores to verify against: s3://${vaultBucket}/${manifest.cassandra.rowCountsKey}`,
    );
  for (const d of manifest.cassandra?.downNodes ?? [])
    lines.push(`  cassandra    ${d.name}: NOT BACKED UP (${d.reason})`);
  for (const b of manifest.minio?.buckets ?? []) {
    lines.push(
      `  minio        ${b.bucket}: ${b.objects} objects ${formatBytes(b.bytes)} — copied ${b.copiedObjects} (${formatBytes(b.copiedBytes)}), unchanged ${b.carriedObjects}${b.resumed ? ` (${b.resumed.objects} of them copied by interrupted backup ${b.resumed.from}: resumed)` : ''}`,
    );
    if (b.vanished && b.vanished.count > 0) {
      const more =
        b.vanished.count > b.vanished.keys.length
          ? `, and ${b.vanished.count - b.vanished.keys.length} more`
          : '';
      lines.push(
        `  NOT BACKED UP ${b.bucket}: ${b.vanished.count} object(s) deleted from the source while the backup ran: ${b.vanished.keys.map((k) => JSON.stringify(k)).join(', ')}${more}`,
      );
    }
  }
  const pg = manifest.postgresql;
  if (pg) {
    lines.push(
      `  postgresql   base backup ${formatBytes(pg.bytes)} from ${pg.source}${pg.fromStandby ? ' (standby)' : ' (primary)'}, PostgreSQL ${pg.serverVersion}, timeline ${pg.timeline}, LSN ${pg.startLsn} → ${pg.stopLsn} (${pg.startTime} → ${pg.stopTime}); ${pg.tables} tables, ${pg.rows} rows at ${pg.countsLsn}`,
    );
    lines.push(
      `  postgresql   WAL archived continuously to s3://${vaultBucket}/${pg.walPrefix}: restorable to any moment after ${pg.stopTime}`,
    );
    if (pg.lagging.length > 0)
      lines.push(`  WARNING      PostgreSQL standby(s) lagging or not streaming: ${pg.lagging.join(', ')}`);
  }
  const t = manifest.totals;
  lines.push(
    `  total        ${formatBytes(t.bytes)}: new ${formatBytes(t.newBytes)}, reused ${formatBytes(t.reusedBytes)}`,
  );
  lines.push(`  manifest     s3://${vaultBucket}/backups/${manifest.backupId}/manifest.json`);
  return lines;
}

/** The end-of-restore summary (or dry-run plan). */
export function restoreSummary(report: RestoreReport, vaultBucket: string): string {
  const p = report.plan;
  const head =
    report.outcome === 'dry-run'
      ? `wire-backup: dry run of restoring backup ${report.backupId}: every check passed, nothing was written`
      : `wire-backup: restored backup ${report.backupId} in ${formatDuration(report.durationSeconds)} (restore ${report.restoreId})`;
  const lines = [head];
  if (p.source === 'archive')
    lines.push(`  source       the archive copy in s3://${p.sourceBucket} (not the vault)`);
  if (p.wireServer)
    lines.push(
      `  wire-server  ${formatBytes(p.wireServer.bytes)} archive → ${p.wireServer.instanceId}:${p.wireServer.targetPath}`,
    );
  if (p.cassandra) {
    lines.push(
      `  cassandra    ${p.cassandra.nodes.length} node backup(s), ${formatBytes(p.cassandra.bytes)}, keyspaces ${p.cassandra.keyspaces || 'all'} → ${p.cassandra.targets.map((t) => t.name).join(', ')} (${p.cassandra.mode === 'import' ? 'nodetool import, same topology' : 'sstableloader, new topology'})`,
    );
  }
  for (const w of restoreWarnings(report)) lines.push(`  WARNING      ${w}`);
  const counts = restoreRowCounts(report);
  if (counts) {
    const differing = counts.differences.map(
      (d) => `${d.table} ${d.backup} → ${d.restored ?? 'not counted'}${d.expiring ? ' (rows expire)' : ''}`,
    );
    lines.push(
      `  row counts   ${counts.matching}/${counts.tables} tables as in the backup (${counts.restoredRows} of ${counts.backupRows} rows)${differing.length > 0 ? `; differ: ${differing.join(', ')}` : ''}`,
    );
  } else if (p.cassandra && report.outcome === 'restored') {
    lines.push('  row counts   not compared (the backup has none, or verifyRowCounts was off)');
  }
  for (const b of p.minio?.buckets ?? [])
    lines.push(
      `  minio        ${b.sourceBucket}: ${b.objects} objects ${formatBytes(b.bytes)} → bucket ${b.targetBucket}`,
    );
  if (p.postgresql) {
    const pg = p.postgresql;
    lines.push(
      `  postgresql   base backup ${formatBytes(pg.bytes)} + WAL to ${pg.targetTime || `the end of the backup (LSN ${pg.countsLsn})`} → ${pg.instanceId}:${pg.dataDir} (port ${pg.port}${pg.archive ? ', archiving on: the cluster’s primary' : ', archiving off: beside the cluster'})`,
    );
    const r = report.results?.postgresql;
    if (r && !isSkipped(r)) {
      lines.push(
        `  postgresql   up and promoted (${r.recoveryStopped || 'reached its target'}); ${r.tables} tables, ${r.rows} rows${r.rowCountDifferences ? `; row counts differ: ${r.rowCountDifferences}` : pg.targetTime ? '' : ', every count as in the backup'}${r.keptAside ? `; previous data directory kept as ${r.keptAside}` : ''}`,
      );
    }
  }
  if (report.reportKey) lines.push(`  report       s3://${vaultBucket}/${report.reportKey}`);
  lines.push(
    report.outcome === 'dry-run'
      ? `Next: run it for real by repeating the command without --dry-run.`
      : 'Next: restart the Wire services and check logins, conversations and assets.',
  );
  return lines.join('\n');
}

/** The drill's verdict and recovery time. */
export function drillSummary(report: DrillReport): string {
  const ok = report.differences.length === 0;
  return [
    `wire-backup drill: ${ok ? 'PASSED' : 'FAILED'} — ${report.fromNodes}-node backup restored${report.source === 'archive' ? ' from the archive (primary vault emptied; PostgreSQL not archived, not compared)' : ''} into a fresh ${report.toNodes}-node cluster`,
    `  cassandra    ${report.fromVersion === report.toVersion ? report.fromVersion : `${report.fromVersion} → ${report.toVersion}`}, SSTables loaded by ${[...new Set(report.loaders)].join(', ') || 'nothing'}`,
    `  compared     ${report.rows} rows, ${report.objects} objects, ${report.files} files, PostgreSQL ${report.postgresRows} rows in ${report.postgresTables} tables: ${ok ? 'no differences' : `${report.differences.length} difference(s), listed above`}`,
    report.rowCounts
      ? `  row counts   the restore verified ${report.rowCounts.matching}/${report.rowCounts.tables} tables against the backup's counts (${report.rowCounts.restoredRows} of ${report.rowCounts.backupRows} rows)`
      : '  row counts   not verified by the restore (the backup has none)',
    `  backup       ${report.backupId} in ${formatDuration(report.backupSeconds)}`,
    `  recovery     ${formatDuration(report.recoverySeconds)} (restore ${report.restoreId}, start to verified)`,
    ...report.warnings.map((w) => `  WARNING      ${w}`),
  ].join('\n');
}

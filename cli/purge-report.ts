import type { S3Client } from '@aws-sdk/client-s3';
import { type PurgeReport, purgeReportSchema } from '../functions/core/contract/purge.js';
import { listFolderIds, readJsonOrUndefined } from '../functions/core/vault-io.js';
import { purgeIdOfPrefix, purgeReportKey, vaultPrefixes } from '../functions/core/vault-layout.js';
import { formatBytes } from './format.js';

/** The newest purge report in the vault (every page of `purges/` is read), or undefined. */
export async function readLatestPurgeReport(s3: S3Client, bucket: string): Promise<PurgeReport | undefined> {
  const ids = await listFolderIds(s3, bucket, vaultPrefixes.purges, purgeIdOfPrefix);
  for (const id of ids) {
    const raw = await readJsonOrUndefined(s3, bucket, purgeReportKey(id));
    if (raw !== undefined) return purgeReportSchema.parse(raw);
  }
  return undefined;
}

/** The purge report as a person reads it: what was kept and why, what went, what Object Lock holds. */
export function formatPurgeReport(report: PurgeReport, bucket: string): string {
  const lines: string[] = [];
  const plan = report.plan;
  const title =
    report.status === 'dry-run'
      ? 'Purge DRY RUN — nothing was deleted'
      : report.status === 'failed'
        ? 'Purge FAILED'
        : 'Purge done';
  lines.push(`${title}: ${report.purgeId} (s3://${bucket}/${report.reportKey})`);
  if (report.error) lines.push(`  ${report.error.error}: ${report.error.cause}`);
  if (!plan) return lines.join('\n');
  const r = plan.retention;
  lines.push(
    `  retention: hourly ${r.hourly}, daily ${r.daily}, weekly ${r.weekly}, monthly ${r.monthly}; failed backups ${r.failedDays} d; grace ${r.graceHours} h (fence ${plan.fence})`,
  );
  const count = (action: string) => plan.backups.filter((b) => b.action === action).length;
  lines.push(
    `  backups: ${count('keep')} kept, ${count('delete')} deleted, ${count('locked')} held by Object Lock`,
  );
  for (const b of plan.backups) {
    const mark = b.action === 'delete' ? 'DELETE' : b.action === 'locked' ? 'LOCKED' : 'keep  ';
    lines.push(`    ${mark} ${b.backupId}  ${b.status.padEnd(9)} ${b.reason}`);
  }
  for (const x of plan.runningRestores)
    lines.push(`  restore ${x.restoreId} is running on ${x.backupId}: kept`);
  for (const x of plan.runningBackups)
    lines.push(`  backup ${x.backupId} is running: its base ${x.pins.join(', ') || '(none)'} kept`);
  for (const w of plan.wal)
    lines.push(
      `  PostgreSQL WAL in ${w.walPrefix} kept from ${w.startWalFile} (start of the oldest kept backup, ${w.backupId})`,
    );
  const c = plan.planned.byCategory;
  const verb = report.status === 'dry-run' ? 'would delete' : 'planned';
  lines.push(
    `  ${verb}: ${plan.planned.versions} object version(s), ${formatBytes(plan.planned.bytes)} (manifests ${c.manifest}, backup files ${c['backup-folder']}, SSTables ${c.sstable}, MinIO objects ${c['minio-object']}, PostgreSQL WAL ${c['postgresql-wal']})`,
  );
  lines.push(
    `  kept: ${plan.referencedVersions} version(s) referenced by kept backups; ${plan.withinGrace} unreferenced but within the grace period`,
  );
  for (const s of plan.sample.slice(0, 10)) lines.push(`    ${s.key} (${s.versionId}): ${s.reason}`);
  if (plan.sample.length > 10 || plan.planned.versions > plan.sample.length)
    lines.push(`    … the whole list: s3://${bucket}/${plan.deletionsKey}`);
  if (report.deleted) {
    lines.push(
      `  deleted: ${report.deleted.deleted.versions} version(s), ${formatBytes(report.deleted.deleted.bytes)}`,
    );
    for (const l of report.deleted.refusedLocked.slice(0, 10))
      lines.push(`    refused by Object Lock: ${l.key} (${l.versionId}): ${l.message}`);
  }
  if (plan.locked.versions > 0) {
    lines.push(
      `  Object Lock holds ${plan.locked.versions} version(s) (never forced; a later purge deletes them):`,
    );
    for (const l of plan.locked.examples.slice(0, 10))
      lines.push(
        `    ${l.key} (${l.versionId}): ${l.legalHold ? 'legal hold' : `${l.mode} until ${l.retainUntil}`}`,
      );
  }
  return lines.join('\n');
}

import type { S3Client } from '@aws-sdk/client-s3';
import type {
  ArchiveListing,
  BackupDetails,
  StatusReport,
  VerifyReport,
} from '../functions/core/contract/inspect.js';
import {
  type BucketAccess,
  backupDetails,
  backupStatus,
  defaultStatusThresholds,
  listArchive,
  parseAge,
  verifyBackup,
} from '../functions/core/vault-inspect.js';
import { archiveManifestKey } from '../functions/core/vault-layout.js';
import { createStackS3Client } from '../local/stack-clients.js';
import { readStackInfo } from '../local/stack-info.js';
import { createDeployedS3Client, type DeployedFlags, resolveDeployedBuckets } from './deployed.js';
import { formatBytes, formatDuration } from './format.js';
import { backupComponentLines } from './summary.js';

/**
 * The read-only verbs `status`, `show`, `verify` and `archive list`: the same core
 * (`functions/core/vault-inspect.ts`) against the local stack (`--local`) or the deployed stack's
 * buckets (its outputs); these functions only find the buckets and print.
 */

const out = (text: string) => process.stdout.write(`${text}\n`);

/** The vault and (when there is one) the archive the verbs read. */
export interface VaultAccess {
  readonly vault: BucketAccess;
  readonly archive: BucketAccess | undefined;
  /** Closes the clients. */
  close(): void;
}

/** The local stack's vault and its second bucket, the local archive. */
export function localVaultAccess(): VaultAccess {
  const stack = readStackInfo();
  const client = createStackS3Client(stack.vault);
  return {
    vault: { client, bucket: stack.vault.bucket },
    archive: { client, bucket: stack.vault.archiveBucket },
    close: () => client.destroy(),
  };
}

/** The deployed stack's vault and archive (another region), from its outputs or flags. */
export function deployedVaultAccess(flags: DeployedFlags): VaultAccess {
  const buckets = resolveDeployedBuckets(flags);
  const vault = createDeployedS3Client();
  const archive: S3Client | undefined = buckets.archive
    ? createDeployedS3Client(buckets.archive.region)
    : undefined;
  return {
    vault: { client: vault, bucket: buckets.vaultBucket },
    archive: archive && buckets.archive ? { client: archive, bucket: buckets.archive.bucket } : undefined,
    close: () => {
      vault.destroy();
      archive?.destroy();
    },
  };
}

/** Runs `verb` with the buckets of `--local` or the deployed stack, closing the clients after. */
export async function withVaultAccess(
  flags: DeployedFlags & { readonly local?: boolean | undefined },
  verb: (access: VaultAccess) => Promise<number>,
): Promise<number> {
  const access = flags.local ? localVaultAccess() : deployedVaultAccess(flags);
  try {
    return await verb(access);
  } finally {
    access.close();
  }
}

/** The Nagios plugin line: state, message, performance data (`age=<s>;<warn>;<crit>`). */
export function formatStatus(report: StatusReport): string {
  const perf =
    report.lastGood === null
      ? ''
      : ` | age=${report.lastGood.ageSeconds}s;${report.warningSeconds};${report.criticalSeconds};0;`;
  return `WIRE-BACKUP ${report.state} - ${report.message}${perf}`;
}

/**
 * `wire-backup status [--warning 2h] [--critical 6h]`: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
 * (the vault unreadable, thresholds that do not parse), as a Nagios plugin.
 */
export async function statusCommand(
  access: VaultAccess,
  flags: {
    readonly warning?: string | undefined;
    readonly critical?: string | undefined;
    readonly json?: boolean;
  },
  now = new Date(),
): Promise<number> {
  let report: StatusReport;
  try {
    report = await backupStatus(
      access.vault.client,
      access.vault.bucket,
      {
        warningSeconds: flags.warning
          ? parseAge('--warning', flags.warning)
          : defaultStatusThresholds.warningSeconds,
        criticalSeconds: flags.critical
          ? parseAge('--critical', flags.critical)
          : defaultStatusThresholds.criticalSeconds,
      },
      now,
    );
  } catch (error) {
    out(`WIRE-BACKUP UNKNOWN - ${(error as Error).message}`);
    return 3;
  }
  out(flags.json ? JSON.stringify(report, null, 2) : formatStatus(report));
  return report.code;
}

/** What `show` prints for one backup. */
export function formatDetails(details: BackupDetails, vaultBucket: string): string {
  const lines: string[] = [];
  const m = details.manifest;
  if (!m) {
    lines.push(`backup ${details.backupId}: ${details.state.toUpperCase()} (not restorable)`);
    if (details.failure) lines.push(`  cause        ${details.failure.error}: ${details.failure.cause}`);
    if (details.problem) lines.push(`  problem      ${details.problem}`);
    if (details.state === 'incomplete')
      lines.push('  neither manifest nor failed marker: running, or interrupted (the next backup marks it)');
    return lines.join('\n');
  }
  lines.push(
    `backup ${m.backupId}: COMPLETE (cluster ${m.clusterName}, manifest format ${m.formatVersion})`,
    `  started      ${m.startedAt}, completed ${m.completedAt} (${formatDuration(m.durationSeconds)}), execution ${m.executionId}`,
    `  components   ${Object.entries(m.components)
      .filter(([, on]) => on)
      .map(([name]) => name)
      .join(', ')}`,
  );
  lines.push(...backupComponentLines(m, vaultBucket));
  const reusedFiles = (m.cassandra?.nodes ?? []).reduce((n, node) => n + node.reusedFiles, 0);
  const carried = (m.minio?.buckets ?? []).reduce((n, b) => n + b.carriedObjects, 0);
  lines.push(
    `  references   previous backup ${m.previousBackupId ?? '(none: a full backup)'}; ${reusedFiles} SSTable(s) (${formatBytes(m.totals.reusedBytes)}) and ${carried} MinIO object(s) written by earlier backups`,
  );
  const verified = (m.cassandra?.nodes ?? []).reduce((n, node) => n + node.verifiedBytes, 0);
  const sampledFiles = (m.cassandra?.nodes ?? []).reduce((n, node) => n + (node.sampledReusedFiles ?? 0), 0);
  const sampledObjects = (m.minio?.buckets ?? []).reduce((n, b) => n + (b.sampledObjects ?? 0), 0);
  lines.push(
    `  verification at backup: wire-server archive ${m.wireServer ? 'listed and hashed' : '—'}; SSTables ${formatBytes(verified)} checked, ${sampledFiles} reused re-checked (sample); MinIO copies checked, ${sampledObjects} carried re-checked (sample); re-check all: wire-backup verify ${m.backupId} --deep`,
  );
  const a = details.archive;
  if (a?.manifest)
    lines.push(
      `  archive copy ${a.manifest.region} s3://${a.bucket}/${archiveManifestKey(m.backupId)}: ${a.manifest.objects} objects ${formatBytes(a.manifest.bytes)} (${a.manifest.copiedObjects} copied, ${a.manifest.referencedObjects} already archived), verified, ${a.manifest.archivedAt}`,
    );
  else if (a)
    lines.push(
      `  archive copy ${a.incomplete ? 'INCOMPLETE (copy running or interrupted: no archive manifest)' : 'none'} in s3://${a.bucket}`,
    );
  else lines.push('  archive copy (no archive configured)');
  return lines.join('\n');
}

/** `wire-backup show <id>`. */
export async function showCommand(
  access: VaultAccess,
  backupId: string,
  flags: { readonly json?: boolean },
): Promise<number> {
  const details = await backupDetails(access.vault.client, access.vault.bucket, backupId, access.archive);
  out(flags.json ? JSON.stringify(details, null, 2) : formatDetails(details, access.vault.bucket));
  return details.state === 'complete' ? 0 : 1;
}

/** What `verify` prints: counts per component, then every problem with the object and what to do. */
export function formatVerify(report: VerifyReport): string {
  const lines = [
    `wire-backup: verify (${report.mode === 'deep' ? 'deep: every object read and hashed' : 'quick: every object present with its size'}) of backup ${report.backupId}: ${report.objects} objects, ${formatBytes(report.bytes)} in ${formatDuration(report.seconds)}`,
  ];
  for (const [component, c] of Object.entries(report.components))
    lines.push(`  ${component.padEnd(24)} ${c.objects} objects, ${formatBytes(c.bytes)}`);
  if (report.problems.length === 0) {
    lines.push(`OK: every object the backup references matches its manifest.`);
    return lines.join('\n');
  }
  lines.push(`DAMAGED: ${report.problems.length} object(s) do not match the manifest:`);
  for (const p of report.problems.slice(0, 50))
    lines.push(
      `  ${p.kind.toUpperCase().padEnd(8)} ${p.component}: ${JSON.stringify(p.name)} — s3://${report.vaultBucket}/${p.vaultKey} version ${p.versionId}: expected ${p.expected}, found ${p.found}`,
    );
  if (report.problems.length > 50)
    lines.push(`  … and ${report.problems.length - 50} more (--json lists all)`);
  lines.push(
    'Next: this backup does not restore as recorded. Restore an older complete backup (wire-backup list), or run a full backup now (wire-backup backup --full) so that the next backups stop referencing the damaged objects.',
  );
  return lines.join('\n');
}

/** `wire-backup verify <id> [--deep]`: exit 0 when everything matches, 1 when anything is damaged or missing. */
export async function verifyCommand(
  access: VaultAccess,
  backupId: string,
  flags: { readonly deep?: boolean; readonly json?: boolean },
  log: (line: string) => void,
): Promise<number> {
  const report = await verifyBackup(access.vault.client, access.vault.bucket, backupId, {
    deep: flags.deep ?? false,
    log,
  });
  out(flags.json ? JSON.stringify(report, null, 2) : formatVerify(report));
  return report.problems.length === 0 ? 0 : 1;
}

/** What `archive list` prints. */
export function formatArchiveList(listing: readonly ArchiveListing[], archiveBucket: string): string {
  const lines = [`${listing.length} backup(s) in the archive s3://${archiveBucket} (newest first):`];
  for (const { backupId, manifest: a } of listing)
    lines.push(
      a
        ? `  ${backupId}  archived    ${a.objects} objects ${formatBytes(a.bytes)} (${a.copiedObjects} copied, ${a.referencedObjects} already archived), ${a.storageClass}, ${a.region}, ${a.archivedAt}`
        : `  ${backupId}  INCOMPLETE  no archive manifest: copy running or interrupted (not restorable from the archive)`,
    );
  return lines.join('\n');
}

/** `wire-backup archive list`. */
export async function archiveListCommand(
  access: VaultAccess,
  flags: { readonly json?: boolean },
): Promise<number> {
  if (!access.archive) {
    process.stderr.write(
      "wire-backup archive list: the stack has no archive (no ArchiveBucketName output): configure 'archive' and deploy, or pass --archive-bucket and --archive-region\n",
    );
    return 1;
  }
  const listing = await listArchive(access.archive);
  out(flags.json ? JSON.stringify(listing, null, 2) : formatArchiveList(listing, access.archive.bucket));
  return 0;
}

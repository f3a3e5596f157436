import type { S3Client } from '@aws-sdk/client-s3';
import type { RowCountComparison, RowCountDifference } from './contract/restore.js';
import { RestoreVerificationError, VerificationFailedError } from './errors.js';
import { readVaultText } from './vault-io.js';

/** One table's row count, as the host scripts write it (`keyspace\ttable\trows\tdefault_time_to_live`). */
export interface TableRowCount {
  readonly keyspace: string;
  readonly table: string;
  readonly rows: number;
  /** The table's default_time_to_live in seconds (> 0: its rows expire by themselves). */
  readonly defaultTtl: number;
}

/**
 * Wire tables without a table-level TTL whose rows the application writes with one (WIRE-SCHEMA.md,
 * "Notifications have no table-level TTL"): fewer rows after a restore is expected there.
 */
export const wireExpiringTables: readonly string[] = [
  'gundeck.notifications',
  'gundeck.notification_payload',
  'galley.team_notifications',
  'brig.user_cookies',
  'brig.activation_keys',
  'brig.password_reset',
  'brig.team_invitation',
  'brig.team_invitation_email',
  'brig.team_invitation_info',
  'brig.vcodes',
  'spar.authreq',
  'spar.verdict',
];

const name = /^[A-Za-z0-9_]{1,48}$/;

/** Parses a counts file; `source` names it in errors. Comment lines (`#`) and blank lines are skipped. */
export function parseRowCounts(text: string, source: string): TableRowCount[] {
  const counts: TableRowCount[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const [keyspace = '', table = '', rows = '', ttl = ''] = line.split('\t');
    if (!name.test(keyspace) || !name.test(table) || !/^\d+$/.test(rows) || !/^\d+$/.test(ttl)) {
      throw new VerificationFailedError(
        `${source} line ${i + 1} is malformed (keyspace, table, rows, default_time_to_live expected): ${JSON.stringify(line.slice(0, 200))}`,
      );
    }
    counts.push({ keyspace, table, rows: Number(rows), defaultTtl: Number(ttl) });
  });
  return counts;
}

/** Reads and parses a counts file of the vault. */
export async function readRowCounts(s3: S3Client, bucket: string, key: string): Promise<TableRowCount[]> {
  return parseRowCounts(await readVaultText(s3, bucket, key), `s3://${bucket}/${key}`);
}

function describe(d: RowCountDifference): string {
  if (d.restored === null) return `${d.table}: ${d.backup} rows in the backup, not counted after the restore`;
  const delta = d.restored - d.backup;
  return `${d.table}: ${d.backup} rows in the backup, ${d.restored} restored (${delta > 0 ? '+' : ''}${delta})`;
}

/**
 * Compares the restore's counts with the backup's, table by table (the backup's tables, limited to
 * `keyspaces` when given). More rows than the backup counted is reported, never a failure (the count
 * is taken just before the snapshot, rows written meanwhile are in it; an overwrite merges). Fewer rows
 * in a table whose rows do not expire fails with `check: 'exact'` ({@link RestoreVerificationError}
 * naming every such table); `report` only reports.
 */
export function compareRowCounts(args: {
  readonly backup: readonly TableRowCount[];
  readonly restored: readonly TableRowCount[];
  readonly keyspaces: readonly string[];
  readonly check: 'exact' | 'report';
  readonly backupId: string;
  readonly expiringTables?: readonly string[];
}): RowCountComparison {
  const expiringNames = new Set(args.expiringTables ?? wireExpiringTables);
  const restored = new Map(args.restored.map((c) => [`${c.keyspace}.${c.table}`, c.rows]));
  const wanted = args.backup.filter(
    (c) => args.keyspaces.length === 0 || args.keyspaces.includes(c.keyspace),
  );
  const differences: RowCountDifference[] = [];
  let restoredRows = 0;
  for (const c of wanted) {
    const table = `${c.keyspace}.${c.table}`;
    const after = restored.get(table) ?? null;
    restoredRows += after ?? 0;
    if (after === c.rows) continue;
    differences.push({
      table,
      backup: c.rows,
      restored: after,
      expiring: c.defaultTtl > 0 || expiringNames.has(table),
    });
  }
  const missing = differences.filter((d) => !d.expiring && (d.restored === null || d.restored < d.backup));
  const comparison: RowCountComparison = {
    check: args.check,
    tables: wanted.length,
    matching: wanted.length - differences.length,
    backupRows: wanted.reduce((n, c) => n + c.rows, 0),
    restoredRows,
    differences,
    missingRows: missing.map((d) => d.table),
  };
  if (args.check === 'exact' && missing.length > 0) {
    throw new RestoreVerificationError(
      `row counts after the restore are below backup ${args.backupId}'s in ${missing.length} table(s): ${missing.map(describe).join('; ')}. ` +
        'The data is loaded but incomplete: check the restore nodes’ logs (sstableloader/nodetool import) and restore again with overwrite. ' +
        'If the backup was taken while Wire deleted rows, the counts (taken just before the snapshot) can be above the snapshot: restore with "verifyRowCounts": "report" to compare without failing.',
    );
  }
  return comparison;
}

import { describe, expect, it } from 'vitest';
import { RestoreVerificationError, VerificationFailedError } from '../../functions/core/errors.js';
import { compareRowCounts, parseRowCounts, type TableRowCount } from '../../functions/core/row-counts.js';

function count(table: string, rows: number, defaultTtl = 0): TableRowCount {
  const [keyspace = '', name = ''] = table.split('.');
  return { keyspace, table: name, rows, defaultTtl };
}

const backupId = '20261126T061500Z';

describe('parseRowCounts', () => {
  it('reads keyspace, table, rows and default TTL, skipping the header and blank lines', () => {
    const text = '# keyspace\ttable\trows\tdefault_time_to_live\nbrig\tuser\t17\t0\nbrig\tnonce\t3\t300\n\n';
    expect(parseRowCounts(text, 'counts.tsv')).toEqual([count('brig.user', 17), count('brig.nonce', 3, 300)]);
  });

  it('names the file and line of a malformed count', () => {
    expect(() => parseRowCounts('brig\tuser\tmany\t0\n', 's3://vault/x.tsv')).toThrow(
      VerificationFailedError,
    );
    expect(() => parseRowCounts('brig\tuser\tmany\t0\n', 's3://vault/x.tsv')).toThrow(
      /s3:\/\/vault\/x\.tsv line 1 is malformed/,
    );
    expect(() => parseRowCounts('brig;drop\tuser\t1\t0\n', 'f')).toThrow(/line 1 is malformed/);
  });
});

describe('compareRowCounts', () => {
  const backup = [count('brig.user', 17), count('galley.member', 30), count('brig.nonce', 5, 300)];

  it('passes and counts matching tables when every count is the backup’s', () => {
    const result = compareRowCounts({ backup, restored: backup, keyspaces: [], check: 'exact', backupId });
    expect(result).toMatchObject({
      tables: 3,
      matching: 3,
      backupRows: 52,
      restoredRows: 52,
      differences: [],
    });
  });

  it('fails an exact check naming each table with fewer rows or not counted, with both counts', () => {
    const restored = [count('brig.user', 15), count('brig.nonce', 5, 300)];
    const run = () => compareRowCounts({ backup, restored, keyspaces: [], check: 'exact', backupId });
    expect(run).toThrow(RestoreVerificationError);
    expect(run).toThrow(/in 2 table\(s\): brig\.user: 17 rows in the backup, 15 restored \(-2\)/);
    expect(run).toThrow(/galley\.member: 30 rows in the backup, not counted after the restore/);
    expect(run).toThrow(/"verifyRowCounts": "report"/);
  });

  it('tolerates fewer rows where rows expire (table TTL or a Wire table written with a TTL)', () => {
    const withTtl = [...backup, count('gundeck.notifications', 40)];
    const restored = [count('brig.user', 17), count('galley.member', 30), count('brig.nonce', 0, 300)];
    const result = compareRowCounts({
      backup: withTtl,
      restored: [...restored, count('gundeck.notifications', 38)],
      keyspaces: [],
      check: 'exact',
      backupId,
    });
    expect(result.missingRows).toEqual([]);
    expect(result.differences).toEqual([
      { table: 'brig.nonce', backup: 5, restored: 0, expiring: true },
      { table: 'gundeck.notifications', backup: 40, restored: 38, expiring: true },
    ]);
  });

  it('reports more rows than the backup counted without failing', () => {
    const restored = [count('brig.user', 18), count('galley.member', 30), count('brig.nonce', 5, 300)];
    const result = compareRowCounts({ backup, restored, keyspaces: [], check: 'exact', backupId });
    expect(result).toMatchObject({ matching: 2, missingRows: [] });
    expect(result.differences).toEqual([{ table: 'brig.user', backup: 17, restored: 18, expiring: false }]);
  });

  it('only reports missing rows with check report', () => {
    const result = compareRowCounts({ backup, restored: [], keyspaces: [], check: 'report', backupId });
    expect(result.missingRows).toEqual(['brig.user', 'galley.member']);
    expect(result.restoredRows).toBe(0);
  });

  it('compares only the restored keyspaces', () => {
    const restored = [count('galley.member', 30)];
    const result = compareRowCounts({ backup, restored, keyspaces: ['galley'], check: 'exact', backupId });
    expect(result).toMatchObject({ tables: 1, matching: 1, differences: [] });
  });
});

import { describe, expect, it } from 'vitest';
import { restoreSummary } from '../../cli/summary.js';
import type { RestorePlan, RestoreReport } from '../../functions/core/contract/restore.js';
import { restoreWarnings } from '../../functions/core/restore-report.js';

const rf =
  'keyspace brig has replication factor 3 but the cluster has 1 node(s): QUORUM reads and writes fail';

function report(overrides: Partial<RestoreReport>): RestoreReport {
  const plan = {
    restoreId: '20261126T100000Z',
    backupId: '20261126T061500Z',
    dryRun: false,
    wireServer: null,
    cassandra: {
      nodes: [{}],
      bytes: 1024,
      keyspaces: 'brig',
      mode: 'load',
      targets: [{ instanceId: 'mi-00000000000000c01', name: 'node1', dataDir: '/data' }],
    },
    minio: null,
  } as unknown as RestorePlan;
  return {
    restoreId: plan.restoreId,
    backupId: plan.backupId,
    outcome: 'restored',
    startedAt: '2026-11-26T10:00:00.000Z',
    finishedAt: '2026-11-26T10:01:00.000Z',
    durationSeconds: 60,
    plan,
    reportKey: 'restores/20261126T100000Z/report.json',
    ...overrides,
  };
}

describe('restoreWarnings', () => {
  it('takes the schema step’s replication warnings from the restore, or from a dry run’s checks', () => {
    const skipped = { skipped: true } as const;
    const cassandra = { schema: { replicationWarnings: [rf] }, nodes: [] };
    expect(
      restoreWarnings(
        report({ results: { wireServer: skipped, cassandra, minio: skipped, postgresql: skipped } }),
      ),
    ).toEqual([rf]);
    expect(
      restoreWarnings(
        report({
          checks: {
            wireServer: {},
            cassandra: { nodes: [], schema: { replicationWarnings: [rf] } },
            minio: skipped,
            postgresql: skipped,
          },
        }),
      ),
    ).toEqual([rf]);
    expect(
      restoreWarnings(
        report({
          results: {
            wireServer: {},
            cassandra: skipped,
            minio: { batches: 0, objects: 0, bytes: 0 },
            postgresql: skipped,
          },
        }),
      ),
    ).toEqual([]);
  });
});

describe('restoreSummary', () => {
  it('prints the replication warning and the row counts that differ', () => {
    const text = restoreSummary(
      report({
        results: {
          wireServer: { skipped: true },
          cassandra: { schema: { replicationWarnings: [rf] }, nodes: [] },
          minio: { skipped: true },
          postgresql: { skipped: true },
        },
        verified: {
          cassandra: { nodes: 1 },
          minio: [],
          rowCounts: {
            check: 'exact',
            tables: 3,
            matching: 2,
            backupRows: 50,
            restoredRows: 48,
            differences: [{ table: 'gundeck.notifications', backup: 10, restored: 8, expiring: true }],
            missingRows: [],
          },
        },
      }),
      'vault',
    );
    expect(text).toContain(`  WARNING      ${rf}`);
    expect(text).toContain(
      '  row counts   2/3 tables as in the backup (48 of 50 rows); differ: gundeck.notifications 10 → 8 (rows expire)',
    );
  });

  it('says when row counts were not compared', () => {
    expect(
      restoreSummary(report({ verified: { cassandra: { nodes: 1 }, minio: [], rowCounts: null } }), 'vault'),
    ).toContain('row counts   not compared (the backup has none, or verifyRowCounts was off)');
  });
});

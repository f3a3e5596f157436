import { beforeAll, describe, expect, it } from 'vitest';
import { errorNames } from '../../functions/core/errors.js';
import { archiveConfig, type DrillReport, runDrill } from '../../local/drill.js';
import { localConfig } from '../../local/local-config.js';
import { runLocal } from '../../local/local-run.js';
import { formatDifferences } from '../../local/seed/index.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';

/**
 * Restore from the cross-region archive (issue 13, README "Archive"): the drill backs up seeded Wire
 * data, archives the backup through its "Backup Completed" event (the synthesized archive state
 * machine, into the vault server's second bucket), then the disaster takes Cassandra, MinIO's bucket,
 * the wire-server folder and the primary vault (every object version deleted); the synthesized restore
 * state machine reads the archive only (`"source": "archive"`) and every row, object and file must
 * match. Only the AWS control plane is simulated (the local runner, with the synthesized IAM).
 */
describe('restore from the archive', () => {
  let stack: StackInfo;
  let report: DrillReport;

  beforeAll(() => {
    stack = readStackInfo();
  });

  it('passes the drill from the archive with the primary vault emptied: zero differences', async () => {
    report = await runDrill({ fromNodes: 1, toNodes: 1, size: 'smoke', fromArchive: true });
    expect(report.source).toBe('archive');
    expect(formatDifferences(report.differences)).toBe('');
    expect(report.differences).toHaveLength(0);
    expect(report.rows).toBeGreaterThan(0);
    expect(report.objects).toBeGreaterThan(0);
    expect(report.files).toBeGreaterThan(0);
    expect(report.rowCounts?.missingRows ?? []).toEqual([]);
    stack = readStackInfo();
  }, 3_600_000);

  const restore = (input: Record<string, string | boolean | string[]>, withArchive = true) =>
    runLocal({
      stateMachine: 'wire-restore',
      input,
      stack,
      config: withArchive ? archiveConfig(stack) : localConfig(stack),
    });

  it('refuses a restore from the archive of a backup with PostgreSQL unless components leave it out', async () => {
    const id = report.backupId;
    const refused = await restore({ backupId: id, confirm: id, source: 'archive', dryRun: true });
    expect(refused.status).toBe('FAILED');
    expect(refused.error).toBe(errorNames.restoreRefused);
    expect(refused.cause).toMatch(/holds PostgreSQL, which the archive does not keep/);
    expect(refused.cause).toMatch(/"components": \["wireServer","cassandra","minio"\]/);
  }, 600_000);

  it('refuses a backup whose archive manifest is missing, naming it', async () => {
    const refused = await restore({
      backupId: '20000101T000000Z',
      confirm: '20000101T000000Z',
      source: 'archive',
      dryRun: true,
    });
    expect(refused.status).toBe('FAILED');
    expect(refused.error).toBe(errorNames.backupNotFound);
    expect(refused.cause).toMatch(/backups\/20000101T000000Z\/archive\.json/);
  }, 600_000);

  it('refuses source archive on a stack without an archive configured', async () => {
    const id = report.backupId;
    const refused = await restore(
      { backupId: id, confirm: id, source: 'archive', components: ['cassandra'], dryRun: true },
      false,
    );
    expect(refused.status).toBe('FAILED');
    expect(refused.error).toBe(errorNames.restoreRefused);
    expect(refused.cause).toMatch(/no archive configured/);
  }, 600_000);
});

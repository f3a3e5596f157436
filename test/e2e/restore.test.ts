import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupManifest } from '../../functions/core/contract/backup.js';
import type { RestoreReport } from '../../functions/core/contract/restore.js';
import { runDrill } from '../../local/drill.js';
import { runLocal } from '../../local/local-run.js';
import { maxHistoryEvents } from '../../local/runner/history.js';
import { diffSnapshots, mutateWire, seedWire, snapshotWire } from '../../local/seed/index.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import {
  countVersions,
  emptyAndDeleteBucket,
  listKeys,
  readVaultJson,
  readVaultText,
} from '../support/vault.js';

/** Every file (path, size, SHA-256) under a folder: to prove a dry run changed nothing on disk. */
function fingerprint(dir: string): string {
  const hash = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else
        hash.update(
          `${path}\t${st.size}\t${createHash('sha256').update(readFileSync(path)).digest('hex')}\n`,
        );
    }
  };
  walk(dir);
  return hash.digest('hex');
}

/**
 * The restore state machine end to end (synthesized definition, real handlers and host scripts),
 * and the disaster-recovery drill.
 */
describe('restore state machine', () => {
  let stack: StackInfo;
  let s3: S3Client;
  let backupId: string;

  const restore = (input: Record<string, unknown>) =>
    runLocal({ stateMachine: 'wire-restore', input: input as never, stack });
  const seededDataDirs = () =>
    ['brig', 'galley', 'spar', 'gundeck'].map((ks) =>
      fingerprint(join(stack.cassandra.nodes[0]?.dataDir ?? '', ks)),
    );

  beforeAll(async () => {
    stack = readStackInfo();
    s3 = createStackS3Client(stack.vault);
    await seedWire({ stack, size: 'smoke', reset: true, flush: true });
    const result = await runLocal({ stateMachine: 'wire-backup', input: {}, stack });
    if (result.status !== 'SUCCEEDED') throw new Error(`backup failed: ${result.error} ${result.cause}`);
    backupId = (result.output as unknown as { manifest: BackupManifest }).manifest.backupId;
  });
  afterAll(() => s3?.destroy());

  it('refuses an unknown backup id, naming it', async () => {
    const result = await restore({ backupId: '20000101T000000Z', confirm: '20000101T000000Z' });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('BackupNotFoundError');
    expect(result.cause).toMatch(/20000101T000000Z does not exist/);
  });

  it('refuses an incomplete backup', async () => {
    const id = '20000102T000000Z';
    await s3.send(
      new PutObjectCommand({ Bucket: stack.vault.bucket, Key: `backups/${id}/started.json`, Body: '{}' }),
    );

    const result = await restore({ backupId: id, confirm: id });

    expect(result.error).toBe('BackupNotFoundError');
    expect(result.cause).toMatch(/incomplete/);
  });

  it('refuses a confirmation that does not repeat the backup id, saying which one', async () => {
    const result = await restore({ backupId: 'latest', confirm: 'yes' });

    expect(result.error).toBe('RestoreRefusedError');
    expect(result.cause).toContain(`"confirm": "${backupId}"`);
  });

  it('refuses malformed input, naming the field', async () => {
    const result = await restore({
      backupId: '../../etc',
      confirm: 'x',
      targets: { minio: { buckets: { assets: 'Bad_Bucket' } } },
    });

    expect(result.error).toBe('InvalidInputError');
    expect(result.cause).toMatch(/backupId/);
  });

  it('refuses to write into non-empty targets without overwrite, before writing anything', async () => {
    const restoresBefore = await countVersions(s3, stack.vault.bucket, 'restores/');

    const result = await restore({ backupId, confirm: backupId });

    expect(result.status).toBe('FAILED');
    // The checks run in parallel and the first refusal ends them: MinIO's (RestoreRefusedError from
    // its Lambda) or a host's dry run (HostCommandError from its script), whichever comes first.
    expect(['RestoreRefusedError', 'HostCommandError']).toContain(result.error);
    expect(result.cause).toMatch(/overwrite/);
    expect(await countVersions(s3, stack.vault.bucket, 'restores/')).toBe(restoresBefore);
  });

  it('refuses a target node that does not answer', async () => {
    const result = await restore({
      backupId,
      confirm: backupId,
      overwrite: true,
      components: ['cassandra'],
      targets: {
        cassandra: { nodes: [{ instanceId: 'mi-00000000000000c09', name: 'gone', address: '127.0.0.9' }] },
      },
    });

    expect(result.status).toBe('FAILED');
    expect(result.cause).toMatch(/mi-00000000000000c09/);
  });

  it('dry-runs every check and leaves Cassandra, MinIO, the folder and the vault unchanged', async () => {
    const before = await snapshotWire({ stack, detail: 'digest' });
    const files = seededDataDirs();
    const folder = fingerprint(stack.deployHost.wireServerPath);
    const restoresBefore = await countVersions(s3, stack.vault.bucket, 'restores/');

    const result = await restore({ backupId, confirm: backupId, overwrite: true, dryRun: true });

    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    const report = result.output as unknown as RestoreReport;
    expect(report.outcome).toBe('dry-run');
    expect(report.plan.cassandra?.mode).toBe('import');
    expect(report.reportKey).toBeNull();
    const after = await snapshotWire({ stack, detail: 'digest' });
    expect(diffSnapshots(before, after)).toEqual([]);
    expect(seededDataDirs()).toEqual(files);
    expect(fingerprint(stack.deployHost.wireServerPath)).toBe(folder);
    expect(await countVersions(s3, stack.vault.bucket, 'restores/')).toBe(restoresBefore);
  });

  it('restores objects of an older backup into another bucket exactly as they were then', async () => {
    const target = `assets-restored-${Date.now().toString(36)}`;
    const atBackup = await snapshotWire({ stack, components: { minio: true }, detail: 'digest' });
    await mutateWire({ stack, round: 2, components: { minio: true } });

    const result = await restore({
      backupId,
      confirm: backupId,
      components: ['minio'],
      targets: { minio: { buckets: { assets: target } } },
    });

    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    const restored = await snapshotWire({
      stack,
      components: { minio: true },
      buckets: [target],
      detail: 'digest',
    });
    const [original] = atBackup.minio?.buckets ?? [];
    const [copy] = restored.minio?.buckets ?? [];
    expect(copy?.objectCount).toBe(original?.objectCount);
    expect(copy?.objectCount).toBeGreaterThan(0);
    expect(JSON.stringify(copy?.objects)).toBe(JSON.stringify(original?.objects));
    await emptyAndDeleteBucket(stack, target);
  });

  it('fails verification naming a table with fewer rows than the backup counted, and reports the failure', async () => {
    // Arrange: the backup claims five more brig.user rows than its snapshot holds.
    const bucket = stack.vault.bucket;
    const key = `backups/${backupId}/cassandra/row-counts.tsv`;
    const original = await readVaultText(s3, bucket, key);
    const inflated = original.replace(/^brig\tuser\t(\d+)\t/m, (_, n) => `brig\tuser\t${Number(n) + 5}\t`);
    expect(inflated).not.toBe(original);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: inflated }));
    try {
      // Act: load brig again over itself (same rows, same counts).
      const result = await restore({
        backupId,
        confirm: backupId,
        overwrite: true,
        components: ['cassandra'],
        targets: { cassandra: { keyspaces: ['brig'] } },
      });

      // Assert
      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('RestoreVerificationError');
      expect(result.cause).toMatch(/brig\.user: \d+ rows in the backup, \d+ restored \(-5\)/);
      expect(result.cause).not.toMatch(/brig\.(clients|prekeys)/);
      const failures = (await listKeys(s3, bucket, 'restores/')).filter((k) => k.endsWith('/failed.json'));
      const reports = await Promise.all(failures.map((k) => readVaultJson<RestoreReport>(s3, bucket, k)));
      expect(
        reports.some((r) => r.backupId === backupId && r.error?.error === 'RestoreVerificationError'),
      ).toBe(true);
    } finally {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: original }));
    }
  });

  it('passes the disaster-recovery drill with zero differences, restoring the older of two backups', async () => {
    const report = await runDrill({ fromNodes: 1, toNodes: 1, size: 'smoke', restoreOlder: true });

    expect(report.differences).toEqual([]);
    expect(report.rows).toBeGreaterThan(0);
    // The restore state machine compared every seeded table's row count with the backup's itself.
    expect(report.rowCounts?.tables).toBeGreaterThanOrEqual(20);
    expect(report.rowCounts?.missingRows).toEqual([]);
    expect(report.rowCounts?.restoredRows).toBeGreaterThan(0);
    expect(report.objects).toBeGreaterThan(0);
    expect(report.files).toBeGreaterThan(0);
    // Host commands wait on task tokens: a node adds a fixed number of history events, however long
    // its commands run, so six nodes stay far below Step Functions' 25,000.
    const sixNodes = (h: { total: number; perNode: number }) => h.total + (6 - 1) * h.perNode;
    console.log(
      `history: backup ${report.history.backup.total} events (${report.history.backup.perNode}/node → ${sixNodes(report.history.backup)} for 6 nodes); restore ${report.history.restore.total} (${report.history.restore.perNode}/node → ${sixNodes(report.history.restore)} for 6 nodes); limit ${maxHistoryEvents}`,
    );
    expect(report.history.restore.perNode).toBeGreaterThan(0);
    expect(sixNodes(report.history.backup)).toBeLessThan(maxHistoryEvents / 10);
    expect(sixNodes(report.history.restore)).toBeLessThan(maxHistoryEvents / 10);
  });
});

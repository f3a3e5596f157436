import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveManifestSchema } from '../../functions/core/contract/archive.js';
import { verifyReportSchema } from '../../functions/core/contract/inspect.js';
import { backupStatus } from '../../functions/core/vault-inspect.js';
import {
  allocateBackupId,
  archiveManifestKey,
  archiveObjectsKey,
} from '../../functions/core/vault-layout.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { runWireBackup } from '../support/cli.js';
import { type SyntheticFile, SyntheticVault } from '../support/synthetic-vault.js';

/**
 * `wire-backup status`, `show`, `verify` and `archive list`, run as the operator runs them
 * (bin/wire-backup in its own process) against the deployed-stack path: the real @aws-sdk/client-s3
 * with its endpoint overridden the standard way (AWS_ENDPOINT_URL_S3) at buckets of the local vault
 * server that hold synthetic backups in the real layout (`test/support/synthetic-vault.ts`), so the
 * ages, failures and damage are exactly what each case needs. `--local` is run against the stack's
 * own vault and archive.
 */
describe('wire-backup status, show, verify, archive list', () => {
  let stack: StackInfo;
  let s3: S3Client;
  const suffix = Date.now().toString(36);
  let vault: SyntheticVault;
  let archive: SyntheticVault;
  const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);
  const idAt = (d: Date) => allocateBackupId(d);

  const cli = (args: string[]) => runWireBackup(stack, args);
  const deployed = () => [
    '--vault-bucket',
    vault.bucket,
    '--archive-bucket',
    archive.bucket,
    '--archive-region',
    stack.vault.region,
  ];

  // A complete backup 30 minutes old: one node with three SSTables, one bucket with two objects.
  const good = idAt(minutesAgo(40));
  const goodTimes = { startedAt: minutesAgo(40).toISOString(), completedAt: minutesAgo(30).toISOString() };
  let sstables: SyntheticFile[];
  // A failed run 20 minutes ago (written by the 'show' case).
  const failedId = idAt(minutesAgo(20));

  beforeAll(async () => {
    stack = readStackInfo();
    s3 = createStackS3Client(stack.vault);
    vault = new SyntheticVault(s3, `inspect-vault-${suffix}`);
    archive = new SyntheticVault(s3, `inspect-archive-${suffix}`);
    await vault.create();
    await archive.create();
    sstables = [
      await vault.putSstable('h1', 'brig/user-1/nb-1-big-Data.db', 'sstable one'),
      await vault.putSstable('h1', 'brig/user-1/nb-2-big-Data.db', 'sstable two'),
      await vault.putSstable('h1', 'galley/conv-1/nb-1-big-Data.db', 'sstable three'),
    ];
    const objects = [
      await vault.putMinio('assets', 'a/1', 'asset one'),
      await vault.putMinio('assets', 'a/2', 'asset two'),
    ];
    await vault.commit(
      good,
      [{ instanceId: 'mi-1', hostId: 'h1', files: sstables }],
      { assets: objects },
      goodTimes,
    );
  }, 120_000);
  afterAll(async () => {
    await vault?.destroy();
    await archive?.destroy();
    s3?.destroy();
  });

  it('status: OK (exit 0) with the age as performance data while the last good backup is young', async () => {
    const { code, stdout } = await cli(['status', ...deployed()]);
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(
      new RegExp(
        `^WIRE-BACKUP OK - last good backup ${good} completed \\d+ min ago \\| age=\\d+s;7200;21600;0;`,
      ),
    );
  });

  it('status: WARNING (exit 1) past --warning, CRITICAL (exit 2) past --critical, UNKNOWN (exit 3) on a bad threshold', async () => {
    const warning = await cli(['status', ...deployed(), '--warning', '20m']);
    expect(warning.code, warning.stdout).toBe(1);
    expect(warning.stdout).toMatch(/^WIRE-BACKUP WARNING - .*\(warning from 20 min\)/);
    const critical = await cli(['status', ...deployed(), '--warning', '10m', '--critical', '25m']);
    expect(critical.code, critical.stdout).toBe(2);
    expect(critical.stdout).toMatch(/^WIRE-BACKUP CRITICAL - .*\(critical from 25 min\)/);
    const unknown = await cli(['status', ...deployed(), '--warning', 'soon']);
    expect(unknown.code).toBe(3);
    expect(unknown.stdout).toMatch(/^WIRE-BACKUP UNKNOWN - --warning takes an age such as 90m, 2h or 1d/);
    const noVault = await cli(['status']);
    expect(noVault.code).toBe(3);
    expect(noVault.stdout).toMatch(/^WIRE-BACKUP UNKNOWN - the deployed stack's VaultBucketName is unknown/);
  });

  it('status: a newer failed run makes an OK a WARNING and is named; an empty vault is CRITICAL', async () => {
    const empty = new SyntheticVault(s3, `inspect-empty-${suffix}`);
    await empty.create();
    try {
      const none = await cli(['status', '--vault-bucket', empty.bucket]);
      expect(none.code).toBe(2);
      expect(none.stdout).toMatch(/^WIRE-BACKUP CRITICAL - no complete backup in s3:\/\/inspect-empty-/);
      // The same vault seen by the core, with a failed run newer than a good one.
      const failedId = idAt(minutesAgo(10));
      await empty.commit(good, [], {}, goodTimes);
      await empty.started(failedId, minutesAgo(10).toISOString());
      await empty.failed(failedId);
      const report = await backupStatus(
        s3,
        empty.bucket,
        { warningSeconds: 7200, criticalSeconds: 21600 },
        new Date(),
      );
      expect(report).toMatchObject({ state: 'WARNING', code: 1, lastGood: { backupId: good } });
      expect(report.message).toMatch(
        new RegExp(`1 newer run\\(s\\) failed, newest ${failedId}: HostCommandError: synthetic`),
      );
      const cli1 = await cli(['status', '--vault-bucket', empty.bucket, '--json']);
      expect(cli1.code).toBe(1);
      expect(JSON.parse(cli1.stdout)).toMatchObject({
        state: 'WARNING',
        newerRuns: [{ backupId: failedId, state: 'failed' }],
      });
    } finally {
      await empty.destroy();
    }
  });

  it('show: components, sizes, references, verification and the archive copy once it exists', async () => {
    const before = await cli(['show', good, ...deployed()]);
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toMatch(new RegExp(`^backup ${good}: COMPLETE`));
    expect(before.stdout).toMatch(/cassandra +mi-1: 3 files/);
    expect(before.stdout).toMatch(/minio +assets: 2 objects/);
    expect(before.stdout).toMatch(/references +previous backup \(none: a full backup\)/);
    expect(before.stdout).toMatch(/verification at backup:/);
    expect(before.stdout).toMatch(/archive copy none in s3:\/\/inspect-archive-/);

    await archive.put(archiveObjectsKey(good), '');
    const partial = await cli(['show', good, ...deployed()]);
    expect(partial.stdout).toMatch(/archive copy INCOMPLETE \(copy running or interrupted/);

    const manifest = archiveManifestSchema.parse({
      formatVersion: 1,
      backupId: good,
      clusterName: 'wire',
      archivedAt: new Date().toISOString(),
      sourceVaultBucket: vault.bucket,
      archiveBucket: archive.bucket,
      region: stack.vault.region,
      storageClass: 'GLACIER_IR',
      objectsKey: archiveObjectsKey(good),
      objects: 5,
      bytes: 100,
      copiedObjects: 5,
      copiedBytes: 100,
      referencedObjects: 0,
      verified: true,
    });
    await archive.put(archiveManifestKey(good), JSON.stringify(manifest));
    const after = await cli(['show', good, ...deployed(), '--json']);
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({
      state: 'complete',
      archive: { manifest: { objects: 5 } },
    });
  });

  it('show: a failed backup exits 1 with its cause; an unknown id names the fix', async () => {
    await vault.started(failedId, minutesAgo(20).toISOString());
    await vault.failed(failedId);
    const failed = await cli(['show', failedId, ...deployed()]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/FAILED \(not restorable\)\n {2}cause +HostCommandError: synthetic/);
    const unknown = await cli(['show', '20000101T000000Z', ...deployed()]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(
      /backup 20000101T000000Z is not in s3:\/\/inspect-vault-.*: take an id from 'wire-backup list'/,
    );
  });

  it('verify: every referenced object matches (exit 0), read-only', async () => {
    const versionsBefore = (await vault.versions('')).length;
    const quick = await cli(['verify', good, ...deployed()]);
    expect(quick.code, quick.stdout + quick.stderr).toBe(0);
    expect(quick.stdout).toMatch(/quick: every object present with its size\) of backup .*: 5 objects/);
    expect(quick.stdout).toMatch(/cassandra mi-1 +3 objects/);
    expect(quick.stdout).toMatch(/minio assets +2 objects/);
    const deep = await cli(['verify', good, ...deployed(), '--deep', '--json']);
    expect(deep.code, deep.stderr).toBe(0);
    expect(verifyReportSchema.parse(JSON.parse(deep.stdout))).toMatchObject({
      mode: 'deep',
      objects: 5,
      problems: [],
    });
    expect((await vault.versions('')).length).toBe(versionsBefore);
  });

  it('verify --deep: finds content that differs from the recorded SHA-256 and a missing version, names both', async () => {
    // A backup whose files.tsv records another SHA-256 for one SSTable (same size: the bytes changed),
    // and references an SSTable version that is then deleted.
    const damagedId = idAt(minutesAgo(5));
    const rotten = await vault.putSstable('h1', 'brig/user-1/nb-3-big-Data.db', 'sstable rot');
    const gone = await vault.putSstable('h1', 'brig/user-1/nb-4-big-Data.db', 'sstable gone');
    const recorded = { ...rotten, sha256: 'f'.repeat(64) };
    await vault.commit(
      damagedId,
      [{ instanceId: 'mi-1', hostId: 'h1', files: [...sstables, recorded, gone] }],
      {},
      { startedAt: minutesAgo(5).toISOString(), completedAt: minutesAgo(4).toISOString() },
    );
    await s3.send(
      new DeleteObjectCommand({ Bucket: vault.bucket, Key: gone.key, VersionId: gone.versionId }),
    );

    const quick = await cli(['verify', damagedId, ...deployed(), '--json']);
    expect(quick.code).toBe(1);
    expect(verifyReportSchema.parse(JSON.parse(quick.stdout)).problems.map((p) => [p.kind, p.name])).toEqual([
      ['missing', 'brig/user-1/nb-4-big-Data.db'],
    ]);
    const deep = await cli(['verify', damagedId, ...deployed(), '--deep']);
    expect(deep.code).toBe(1);
    expect(deep.stdout).toMatch(/DAMAGED: 2 object\(s\) do not match the manifest/);
    expect(deep.stdout).toMatch(
      new RegExp(
        `CHECKSUM +cassandra mi-1: "brig/user-1/nb-3-big-Data.db" — s3://${vault.bucket}/cassandra/wire/h1/brig/user-1/nb-3-big-Data.db version ${rotten.versionId}: expected SHA-256 f{64}, found SHA-256 ${rotten.sha256}`,
      ),
    );
    expect(deep.stdout).toMatch(/MISSING +cassandra mi-1: "brig\/user-1\/nb-4-big-Data.db"/);
    expect(deep.stdout).toMatch(/Next: this backup does not restore as recorded/);
  });

  it('verify: a backup without a manifest is refused with its state', async () => {
    const { code, stderr } = await cli(['verify', failedId, ...deployed()]);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      new RegExp(`backup ${failedId} is failed in s3://inspect-vault-.* \\(no manifest\\)`),
    );
  });

  it('archive list: archived and incomplete copies, newest first; no archive names the fix', async () => {
    const newer = idAt(minutesAgo(1));
    await archive.put(archiveObjectsKey(newer), '');
    const { code, stdout } = await cli(['archive', 'list', ...deployed()]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^2 backup\(s\) in the archive s3:\/\/inspect-archive-/);
    expect(stdout).toMatch(
      new RegExp(
        `\\n {2}${newer} +INCOMPLETE +no archive manifest[^\\n]*\\n {2}${good} +archived +5 objects`,
      ),
    );
    const none = await cli(['archive', 'list', '--vault-bucket', vault.bucket]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/the stack has no archive \(no ArchiveBucketName output\)/);
  });

  it('--local reads the stack vault and its second bucket (the local archive) with the same core', async () => {
    const status = await cli(['status', '--local', '--json']);
    const expected = await backupStatus(
      s3,
      stack.vault.bucket,
      { warningSeconds: 7200, criticalSeconds: 21600 },
      new Date(),
    );
    expect(status.code).toBe(expected.code);
    expect(JSON.parse(status.stdout)).toMatchObject({
      state: expected.state,
      lastGood: { backupId: expected.lastGood?.backupId, completedAt: expected.lastGood?.completedAt },
    });
    const listing = await cli(['archive', 'list', '--local']);
    expect(listing.code).toBe(0);
    expect(listing.stdout).toMatch(new RegExp(`in the archive s3://${stack.vault.archiveBucket} `));
  });
});

import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VerificationFailedError } from '../../functions/core/errors.js';
import type { ManifestEntry } from '../../functions/core/minio-layout.js';
import { scheduledVerify, weeklyShareOf } from '../../functions/core/vault-inspect.js';
import { allocateBackupId } from '../../functions/core/vault-layout.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo } from '../../local/stack-info.js';
import { type SyntheticFile, SyntheticVault } from '../support/synthetic-vault.js';

/**
 * The scheduled deep verification's core (`scheduledVerify`, run weekly by the scheduled-verify Lambda)
 * against buckets of the local vault server holding synthetic backups in the real layout. "Damage" is a
 * stored version whose bytes no longer hash to what the backup recorded: the vault server cannot flip a
 * byte of a stored version, so the backups record the SHA-256 of other bytes for exactly that version.
 */
describe('scheduledVerify', () => {
  let s3: S3Client;
  const suffix = Date.now().toString(36);
  let vault: SyntheticVault;
  const week = 7 * 86_400_000;
  const times = (hoursAgo: number) => ({
    startedAt: new Date(Date.now() - hoursAgo * 3_600_000).toISOString(),
    completedAt: new Date(Date.now() - hoursAgo * 3_600_000 + 60_000).toISOString(),
  });
  const idOf = (hoursAgo: number) => allocateBackupId(new Date(Date.now() - hoursAgo * 3_600_000));

  beforeAll(async () => {
    s3 = createStackS3Client(readStackInfo().vault);
    vault = new SyntheticVault(s3, `scheduled-verify-${suffix}`);
    await vault.create();
  }, 60_000);
  afterAll(async () => {
    await vault?.destroy();
    s3?.destroy();
  });

  it('re-hashes each object of the newest backup in exactly one of the weekly shares', async () => {
    const files: SyntheticFile[] = [];
    for (let i = 0; i < 12; i++)
      files.push(await vault.putSstable('h1', `brig/user-1/nb-${i}-big-Data.db`, `sstable ${i}`));
    const objects: ManifestEntry[] = [];
    for (let i = 0; i < 12; i++) objects.push(await vault.putMinio('assets', `a/${i}`, `asset ${i}`));
    const id = idOf(3);
    await vault.commit(id, [{ instanceId: 'mi-1', hostId: 'h1', files }], { assets: objects }, times(3));

    const checked: number[] = [];
    for (let w = 0; w < 3; w++) {
      const now = new Date(w * week + 1000);
      expect(weeklyShareOf(now, 3)).toEqual({ divisor: 3, slot: w });
      const report = await scheduledVerify(s3, vault.bucket, { shares: 3, now });
      expect(report).toMatchObject({
        backupId: id,
        mode: 'deep',
        share: { divisor: 3, slot: w },
        problems: [],
      });
      expect(report.objects + report.skippedObjects).toBe(24);
      checked.push(report.objects);
    }
    expect(checked.reduce((a, b) => a + b, 0)).toBe(24);
    expect(Math.min(...checked)).toBeGreaterThan(0);
  });

  it('fails naming a damaged reused SSTable and carried MinIO object, and every backup that references them', async () => {
    // Two backups share one SSTable version and one MinIO object version (reused / carried); both
    // recorded SHA-256s the stored bytes no longer have. A third, older backup references neither.
    const clean = await vault.putSstable('h1', 'galley/conv-1/nb-1-big-Data.db', 'clean');
    const unaffected = idOf(2.5);
    await vault.commit(unaffected, [{ instanceId: 'mi-1', hostId: 'h1', files: [clean] }], {}, times(2.5));
    const sstable = await vault.putSstable('h1', 'brig/user-1/nb-99-big-Data.db', 'reused sstable');
    const object = await vault.putMinio('assets', 'carried/1', 'carried object');
    const rotSstable = { ...sstable, sha256: '0'.repeat(64) };
    const rotObject = { ...object, sha256: '1'.repeat(64) };
    const older = idOf(2);
    const newer = idOf(1);
    await vault.commit(
      older,
      [{ instanceId: 'mi-1', hostId: 'h1', files: [clean, rotSstable] }],
      { assets: [rotObject] },
      times(2),
    );
    await vault.commit(
      newer,
      [{ instanceId: 'mi-1', hostId: 'h1', files: [clean, rotSstable] }],
      { assets: [rotObject] },
      times(1),
    );

    const failure = await scheduledVerify(s3, vault.bucket, { shares: 1, now: new Date() }).catch(
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(VerificationFailedError);
    const message = (failure as Error).message;
    expect(message).toMatch(
      new RegExp(
        `^scheduled verify of ${newer} \\(share 1 of 1\\): 2 object version\\(s\\) damaged or missing`,
      ),
    );
    expect(message).toContain(
      `checksum s3://${vault.bucket}/${sstable.key} version ${sstable.versionId} (cassandra mi-1)`,
    );
    expect(message).toContain(
      `checksum s3://${vault.bucket}/${object.vaultKey} version ${object.versionId} (minio assets)`,
    );
    expect(message).toContain(
      `Backups that reference them and do not restore as recorded: ${newer}, ${older}.`,
    );
    expect(message).not.toContain(unaffected);
    // No source key in the message (it may carry user data): only vault keys (hashes for MinIO).
    expect(message).not.toContain('carried/1');
  });
});

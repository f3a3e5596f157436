import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referencedObjects } from '../../functions/core/backup-objects.js';
import { backupManifestSchema, backupSummarySchema } from '../../functions/core/contract/backup.js';
import { purgeReportSchema } from '../../functions/core/contract/purge.js';
import { isNotFoundError } from '../../functions/core/minio-errors.js';
import { verifyBackup } from '../../functions/core/vault-inspect.js';
import { manifestKey, vaultPrefixes } from '../../functions/core/vault-layout.js';
import type { WireBackupConfig } from '../../lib/config.js';
import { restoreAndCompare } from '../../local/faults/restore-compare.js';
import { localConfig } from '../../local/local-config.js';
import { runLocal } from '../../local/local-run.js';
import { formatDifferences, mutateWire, seedWire, snapshotWire } from '../../local/seed/index.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { readVaultJson } from '../support/vault.js';

/**
 * A real purge through the synthesized purge state machine, deleting (`npm run test:slow`, opt-in:
 * about 80 minutes, most of it waiting). The purge never deletes an object version younger than
 * `vault.retention.graceHours`, whose minimum is 1 hour, and the local runner does not move the
 * Lambdas' clock, so this test waits for real: two backups of the seeded Wire data, the second after a
 * change (it shares SSTables and MinIO objects with the first and leaves some of the first's versions
 * to it alone), then, once the first backup's objects are past the grace period, a purge with a
 * retention that keeps only the newest backup. What must go and what must stay is computed here from
 * the two manifests, not from the purge's own answer; the kept backup is then re-hashed whole and
 * restored after the drill's disaster, row by row equal to the data it was taken from.
 */
const HOUR = 3_600_000;
const ref = (key: string, versionId: string | undefined) => `${key}\u0000${versionId ?? 'current'}`;

describe('purge after the grace period (real backups, synthesized purge state machine)', () => {
  let stack: StackInfo;
  let s3: S3Client;
  let config: WireBackupConfig;

  beforeAll(async () => {
    stack = readStackInfo();
    s3 = createStackS3Client(stack.vault);
    const base = localConfig(stack);
    config = {
      ...base,
      vault: {
        ...base.vault,
        // A lock no longer than what the retention keeps (the config refuses more). The local vault has no
        // default retention, so nothing is locked here; the purge's lock handling is covered by purge.test.ts.
        objectLockDays: 1,
        // One backup per hour for the last hour: the older backup of the two is expired.
        retention: { ...base.vault.retention, hourly: 1, daily: 0, weekly: 0, monthly: 0, graceHours: 1 },
      },
    };
    await seedWire({ stack, size: 'smoke', reset: true, flush: true });
  }, 900_000);
  afterAll(() => s3?.destroy());

  const backup = async () => {
    const run = await runLocal({ stateMachine: 'wire-backup', input: { trigger: 'manual' }, stack, config });
    expect(run.status, `${run.error}: ${run.cause}`).toBe('SUCCEEDED');
    return backupSummarySchema.parse(run.output);
  };
  const referenced = async (backupId: string) => {
    const manifest = backupManifestSchema.parse(
      await readVaultJson(s3, stack.vault.bucket, manifestKey(backupId)),
    );
    const refs = new Map<string, { key: string; versionId: string | undefined }>();
    for await (const o of referencedObjects(s3, stack.vault.bucket, manifest))
      refs.set(ref(o.vaultKey, o.versionId), { key: o.vaultKey, versionId: o.versionId });
    return refs;
  };
  const exists = async (key: string, versionId: string | undefined) => {
    try {
      await s3.send(new HeadObjectCommand({ Bucket: stack.vault.bucket, Key: key, VersionId: versionId }));
      return true;
    } catch (error) {
      if (isNotFoundError(error)) return false;
      throw error;
    }
  };

  it(
    'deletes what only the expired backup referenced, and nothing the kept one needs',
    async () => {
      const first = await backup();
      const firstDone = Date.now();
      await mutateWire({ stack, round: 1 });
      // What the kept backup holds: compared row by row after the purge, through a real restore.
      const before = await snapshotWire({ stack, detail: 'rows' });
      const second = await backup();
      const firstRefs = await referenced(first.backupId);
      const secondRefs = await referenced(second.backupId);
      const onlyFirst = [...firstRefs].filter(([k]) => !secondRefs.has(k)).map(([, v]) => v);
      const shared = [...firstRefs.keys()].filter((k) => secondRefs.has(k));
      // The change leaves versions to the first backup alone, and the second still shares most.
      expect(onlyFirst.length).toBeGreaterThan(0);
      expect(shared.length).toBeGreaterThan(0);

      // Before the grace period ends, a dry run deletes nothing and leaves the first backup's versions
      // inside the grace period.
      const early = await runLocal({ stateMachine: 'wire-purge', input: { dryRun: true }, stack, config });
      expect(early.status, `${early.error}: ${early.cause}`).toBe('SUCCEEDED');
      const earlyReport = purgeReportSchema.parse(early.output);
      expect(earlyReport.plan?.backups.find((b) => b.backupId === first.backupId)?.action).toBe('delete');
      // (Shared SSTables and MinIO versions wait for the grace period; the backup's own folder, where its
      // wire-server archive and PostgreSQL base backup are, goes with the backup.)
      const shareable = onlyFirst.filter(
        (v) => v.key.startsWith(vaultPrefixes.cassandra) || v.key.startsWith(vaultPrefixes.minio),
      );
      expect(shareable.length).toBeGreaterThan(0);
      expect(earlyReport.plan?.withinGrace).toBeGreaterThanOrEqual(shareable.length);

      // Wait until every version the first backup wrote is older than graceHours (1 h), plus a minute.
      const until = firstDone + HOUR + 60_000;
      while (Date.now() < until) {
        console.log(`purge-after-grace: waiting ${Math.ceil((until - Date.now()) / 60_000)} more minute(s)`);
        await new Promise((r) => setTimeout(r, Math.min(300_000, Math.max(0, until - Date.now()))));
      }

      const purge = await runLocal({ stateMachine: 'wire-purge', input: { dryRun: false }, stack, config });
      expect(purge.status, `${purge.error}: ${purge.cause}`).toBe('SUCCEEDED');
      const report = purgeReportSchema.parse(purge.output);
      expect(report.status).toBe('succeeded');
      const decisions = new Map(report.plan?.backups.map((b) => [b.backupId, b]));
      expect(decisions.get(first.backupId)?.action).toBe('delete');
      expect(decisions.get(second.backupId)).toMatchObject({ action: 'keep' });
      expect(report.deleted?.refusedLocked).toEqual([]);

      // Gone: the first backup's manifest and every version only it referenced.
      expect(await exists(manifestKey(first.backupId), undefined)).toBe(false);
      for (const v of onlyFirst)
        expect(await exists(v.key, v.versionId), `${v.key} ${v.versionId}`).toBe(false);
      // Kept: the second backup is whole, every object read back and hashed.
      const verified = await verifyBackup(s3, stack.vault.bucket, second.backupId, { deep: true });
      expect(verified.problems).toEqual([]);
      expect(verified.objects).toBe(secondRefs.size);
      // The report written to the vault is the one the execution returned (what `wire-backup purge` shows).
      expect(purgeReportSchema.parse(await readVaultJson(s3, stack.vault.bucket, report.reportKey))).toEqual(
        report,
      );
      // And the kept backup restores: the drill's disaster, a restore through the restore state machine,
      // every row, object and file compared with the data it was taken from.
      const restored = await restoreAndCompare(second.backupId, before);
      expect(formatDifferences(restored.differences)).toBe('');
    },
    3 * HOUR,
  );
});

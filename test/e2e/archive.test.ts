import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ArchivedObject,
  type ArchiveManifest,
  archivedObjectSchema,
  archiveManifestSchema,
} from '../../functions/core/contract/archive.js';
import { backupSummarySchema } from '../../functions/core/contract/backup.js';
import { purgeReportSchema } from '../../functions/core/contract/purge.js';
import { readJson, readJsonLines } from '../../functions/core/manifest-io.js';
import { archiveManifestKey, archiveObjectsKey, archivePrefixes } from '../../functions/core/vault-layout.js';
import type { WireBackupConfig } from '../../lib/config.js';
import { deliverEvents, readRecordedEvents } from '../../local/event-router.js';
import { localConfig } from '../../local/local-config.js';
import { runLocal } from '../../local/local-run.js';
import { mutateWire, seedWire } from '../../local/seed/index.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { SyntheticVault } from '../support/synthetic-vault.js';

/**
 * Cross-region archive copies end to end: a real backup (synthesized backup state machine, real
 * Cassandra and MinIO), its "Backup Completed" event delivered by the local stand-in for EventBridge
 * rules (`local/event-router.ts`) to the synthesized archive state machine, which copies into the vault
 * server's second bucket. Every archived object is read back and hashed here.
 */
describe('archive state machine', () => {
  let stack: StackInfo;
  let s3: S3Client;
  let config: WireBackupConfig;
  let archiveBucket: string;

  const backupAndDeliver = async () => {
    const since = Date.now() - 1000;
    const backup = await runLocal({
      stateMachine: 'wire-backup',
      input: { trigger: 'manual' },
      stack,
      config,
    });
    expect(backup.status, `${backup.error}: ${backup.cause}`).toBe('SUCCEEDED');
    const summary = backupSummarySchema.parse(backup.output);
    const entries = readRecordedEvents(stack, since).filter((e) => e.DetailType === 'Backup Completed');
    expect(entries).toHaveLength(1);
    const deliveries = await deliverEvents({ stack, config, entries });
    expect(deliveries.map((d) => d.stateMachine)).toEqual(['wire-archive']);
    return { summary, delivery: deliveries[0] };
  };

  const archivedObjects = async (backupId: string): Promise<ArchivedObject[]> => {
    const list: ArchivedObject[] = [];
    for await (const o of readJsonLines(s3, archiveBucket, archiveObjectsKey(backupId), {
      parse: (v) => archivedObjectSchema.parse(v),
    }))
      list.push(o);
    return list;
  };
  const sha256Of = async (key: string) => {
    const out = await s3.send(new GetObjectCommand({ Bucket: archiveBucket, Key: key }));
    const hash = createHash('sha256');
    for await (const chunk of out.Body as Readable) hash.update(chunk as Buffer);
    return hash.digest('hex');
  };

  beforeAll(async () => {
    stack = readStackInfo();
    s3 = createStackS3Client(stack.vault);
    archiveBucket = stack.vault.archiveBucket;
    config = {
      ...localConfig(stack),
      archive: { region: stack.vault.region, storageClass: 'STANDARD', bucketName: archiveBucket },
    };
    // An empty archive, so that the first archive copies everything.
    const archive = new SyntheticVault(s3, archiveBucket);
    for (const v of await archive.versions(''))
      await s3.send(new DeleteObjectCommand({ Bucket: archiveBucket, Key: v.key, VersionId: v.versionId }));
    await seedWire({ stack, size: 'smoke', reset: true, flush: true });
  }, 600_000);
  afterAll(() => s3?.destroy());

  let first: ArchiveManifest;

  it('archives a completed backup from its event: every object copied and verified, manifest last', async () => {
    const { summary, delivery } = await backupAndDeliver();
    expect(delivery?.result.status, `${delivery?.result.error}: ${delivery?.result.cause}`).toBe('SUCCEEDED');
    first = archiveManifestSchema.parse(delivery?.result.output);
    expect(first.backupId).toBe(summary.backupId);
    expect(await readJson(s3, archiveBucket, archiveManifestKey(summary.backupId))).toEqual(first);
    const objects = await archivedObjects(summary.backupId);
    expect(objects).toHaveLength(first.objects);
    expect(first.copiedObjects + first.referencedObjects).toBe(first.objects);
    // Exactly this backup's objects: every SSTable file and every MinIO object of the manifest.
    const m = summary.manifest;
    const sstables = objects.filter((o) => o.vaultKey.startsWith('cassandra/'));
    const minio = objects.filter((o) => o.vaultKey.startsWith('minio/'));
    expect(sstables).toHaveLength(m.cassandra?.nodes.reduce((n, x) => n + x.files, 0) ?? -1);
    expect(minio).toHaveLength(m.minio?.buckets.reduce((n, b) => n + b.objects, 0) ?? -1);
    expect(objects.some((o) => o.vaultKey === m.wireServer?.key)).toBe(true);
    // Checksums, read back from the archive here.
    for (const o of objects) expect(await sha256Of(o.archiveKey), o.vaultKey).toBe(o.sha256);
  }, 900_000);

  it('references what an earlier archive holds instead of copying it again', async () => {
    await mutateWire({ stack, round: 1 });
    const { summary, delivery } = await backupAndDeliver();
    expect(delivery?.result.status, `${delivery?.result.error}: ${delivery?.result.cause}`).toBe('SUCCEEDED');
    const second = archiveManifestSchema.parse(delivery?.result.output);
    const objects = await archivedObjects(summary.backupId);
    const firstKeys = new Set((await archivedObjects(first.backupId)).map((o) => o.archiveKey));
    const shared = objects.filter((o) => o.kind === 'object' && firstKeys.has(o.archiveKey));
    expect(shared.length).toBeGreaterThan(0);
    expect(second.referencedObjects).toBeGreaterThanOrEqual(shared.length);
    expect(second.copiedObjects).toBe(second.objects - second.referencedObjects);
    expect(second.copiedObjects).toBeLessThan(second.objects);
    // The shared objects exist once in the archive (one version each).
    const archive = new SyntheticVault(s3, archiveBucket);
    const versions = await archive.versions(archivePrefixes.objects);
    const perKey = new Map<string, number>();
    for (const v of versions) perKey.set(v.key, (perKey.get(v.key) ?? 0) + 1);
    for (const o of shared) expect(perKey.get(o.archiveKey), o.archiveKey).toBe(1);

    // Interrupted halfway (manifest and one copied object lost): the rerun copies just that one.
    const copiedOnce = objects.find((o) => o.kind === 'object' && !firstKeys.has(o.archiveKey));
    expect(copiedOnce).toBeDefined();
    await s3.send(
      new DeleteObjectCommand({ Bucket: archiveBucket, Key: archiveManifestKey(summary.backupId) }),
    );
    await s3.send(new DeleteObjectCommand({ Bucket: archiveBucket, Key: copiedOnce?.archiveKey ?? '' }));
    const rerun = await runLocal({
      stateMachine: 'wire-archive',
      input: delivery?.event ?? {},
      stack,
      config,
    });
    expect(rerun.status, `${rerun.error}: ${rerun.cause}`).toBe('SUCCEEDED');
    const resumed = archiveManifestSchema.parse(rerun.output);
    expect(resumed.copiedObjects).toBe(1);
    expect(resumed.referencedObjects).toBe(resumed.objects - 1);
    expect(await sha256Of(copiedOnce?.archiveKey ?? '')).toBe(copiedOnce?.sha256);
  }, 900_000);

  it('purge dry run through the state machine: the newest backup of the hour is kept, nothing is deleted', async () => {
    const result = await runLocal({ stateMachine: 'wire-purge', input: { dryRun: true }, stack, config });
    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    const report = purgeReportSchema.parse(result.output);
    expect(report.status).toBe('dry-run');
    const complete = (report.plan?.backups ?? []).filter((b) => b.status === 'complete');
    const [newest, ...older] = complete;
    expect(newest?.action).toBe('keep');
    expect(newest?.reason).toMatch(/hourly #1/);
    // Backups of the same UTC hour as the newest: GFS keeps one per hour, so they are expired — unless
    // a restore marker in this shared vault (another test's restore) pins them, which the plan says.
    for (const b of older.filter((x) => x.backupId.slice(0, 11) === newest?.backupId.slice(0, 11))) {
      if (b.action === 'keep') expect(b.reason).toMatch(/^pinned: restore \d{8}T\d{6}Z is running/);
      else expect(b).toMatchObject({ action: 'delete', reason: expect.stringMatching(/^expired/) });
    }
    expect(report.plan?.referencedVersions).toBeGreaterThan(0);
    for (const b of complete)
      expect(await readJson(s3, stack.vault.bucket, `backups/${b.backupId}/manifest.json`)).toBeTruthy();
  }, 600_000);
});

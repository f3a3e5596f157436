import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupManifest } from '../../functions/core/contract/backup.js';
import { readJsonLines } from '../../functions/core/manifest-io.js';
import type { ManifestEntry } from '../../functions/core/minio-layout.js';
import { verifyBucketManifest } from '../../functions/core/minio-manifest.js';
import { minioBucketPrefix, minioEntryVaultKey } from '../../functions/core/vault-layout.js';
import { localConfig } from '../../local/local-config.js';
import { runLocal } from '../../local/local-run.js';
import { mutateWire, seedWire } from '../../local/seed/index.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { countVersions, exists, listBackupIds, readVaultJson, readVaultText } from '../support/vault.js';

/**
 * The backup state machine end to end: the definition CDK synthesizes, run by aws-local-stepfunctions
 * with the real handlers and the real host scripts, against the local Cassandra 5.0 and MinIO.
 */
describe('backup state machine', () => {
  let stack: StackInfo;
  let s3: S3Client;
  let bucket: string;

  const backup = async (input: Record<string, unknown> = {}, config = localConfig(stack)) =>
    runLocal({ stateMachine: 'wire-backup', input: input as never, stack, config });
  const manifestOf = (id: string) => readVaultJson<BackupManifest>(s3, bucket, `backups/${id}/manifest.json`);
  const filesOf = async (key: string) =>
    (await readVaultText(s3, bucket, key))
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
  const snapshotsOnNode = () => {
    const node = stack.cassandra.nodes[0];
    if (!node) throw new Error('no node');
    return execFileSync(join(stack.hosts[node.instanceId]?.binDir ?? '', 'nodetool'), ['listsnapshots'], {
      encoding: 'utf8',
    });
  };

  beforeAll(async () => {
    stack = readStackInfo();
    s3 = createStackS3Client(stack.vault);
    bucket = stack.vault.bucket;
    await seedWire({ stack, size: 'smoke', reset: true, flush: true });
  });
  afterAll(() => s3?.destroy());

  let first: BackupManifest;
  let second: BackupManifest;

  it('backs up the wire-server folder, every node and every bucket, manifest last', async () => {
    const result = await backup({ trigger: 'manual' });

    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    const output = result.output as unknown as { backupId: string; manifest: BackupManifest };
    first = await manifestOf(output.backupId);
    expect(first.backupId).toBe(output.backupId);
    expect(first.wireServer?.entries).toBeGreaterThan(0);
    expect(first.cassandra?.nodes).toHaveLength(stack.cassandra.nodes.length);
    expect(first.cassandra?.nodes[0]?.files).toBeGreaterThan(0);
    expect(first.cassandra?.schemaKey).toMatch(/schema\.cql$/);
    expect(await readVaultText(s3, bucket, first.cassandra?.schemaKey ?? '')).toMatch(
      /CREATE TABLE brig\.user/,
    );
    expect(first.minio?.buckets[0]?.objects).toBeGreaterThan(0);
    expect(snapshotsOnNode()).not.toContain(first.backupId);
    const events = readFileSync(join(stack.stackDir, 'events.jsonl'), 'utf8').trim().split('\n');
    expect(JSON.parse(events.at(-1) ?? '{}')).toMatchObject({
      Source: 'wire-backup',
      DetailType: 'Backup Completed',
    });
    expect(events.at(-1)).toContain(first.backupId);
  });

  it('uploads only new SSTables and changed objects the second time, referencing the rest', async () => {
    const node = first.cassandra?.nodes[0];
    if (!node) throw new Error('first backup has no node');
    const sstablePrefix = `cassandra/${stack.clusterName}/${node.hostId}/`;
    const versionsBefore = await countVersions(s3, bucket, sstablePrefix);
    const objectVersionsBefore = await countVersions(s3, bucket, minioBucketPrefix('assets'));
    const changed = await mutateWire({ stack, round: 1 });

    const result = await backup();

    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    second = await manifestOf((result.output as unknown as { backupId: string }).backupId);
    expect(second.previousBackupId).toBe(first.backupId);
    const node2 = second.cassandra?.nodes[0];
    if (!node2) throw new Error('second backup has no node');
    // Only the SSTables written by the mutation's flush are new; the vault received exactly those.
    expect(node2.newFiles).toBeGreaterThan(0);
    expect(node2.reusedFiles).toBeGreaterThan(0);
    expect(await countVersions(s3, bucket, sstablePrefix)).toBe(versionsBefore + node2.newFiles);
    // Files unchanged since the first backup (same name, size and checksum) are referenced with the
    // version the first backup uploaded; the rest (new SSTables, the snapshot's own manifest.json) are new.
    const firstFiles = new Map(
      (await filesOf(node.filesKey)).map(([rel, size, sha, version]) => [`${rel}|${size}|${sha}`, version]),
    );
    const unchanged = (await filesOf(node2.filesKey)).filter(([rel, size, sha]) =>
      firstFiles.has(`${rel}|${size}|${sha}`),
    );
    expect(unchanged.length).toBe(node2.reusedFiles);
    for (const [rel, size, sha, version] of unchanged)
      expect(version).toBe(firstFiles.get(`${rel}|${size}|${sha}`));
    // MinIO: new and overwritten objects copied, deleted ones gone from the manifest, the rest carried.
    const minio = changed.minio;
    const b1 = first.minio?.buckets[0];
    const b2 = second.minio?.buckets[0];
    if (!minio || !b1 || !b2) throw new Error('no MinIO results');
    expect(b2.copiedObjects).toBe(minio.added.length + minio.overwritten.length);
    expect(b2.objects).toBe(b1.objects + minio.added.length - minio.deleted.length);
    expect(await countVersions(s3, bucket, minioBucketPrefix('assets'))).toBe(
      objectVersionsBefore + b2.copiedObjects,
    );
    // The wire-server change is in the new archive.
    expect(second.wireServer?.sha256).not.toBe(first.wireServer?.sha256);
  });

  it('leaves two manifests that both verify, each object at the version of its backup', async () => {
    for (const m of [first, second]) {
      const b = m.minio?.buckets[0];
      if (!b) throw new Error('no bucket');
      const verified = await verifyBucketManifest({
        vault: s3,
        vaultBucket: bucket,
        manifestKey: b.manifestKey,
        deep: true,
      });
      expect(verified.objects).toBe(b.objects);
    }
    const entries1 = new Map<string, ManifestEntry>();
    for await (const e of readJsonLines<ManifestEntry>(
      s3,
      bucket,
      first.minio?.buckets[0]?.manifestKey ?? '',
    ))
      entries1.set(e.key, e);
    let carried = 0;
    for await (const e of readJsonLines<ManifestEntry>(
      s3,
      bucket,
      second.minio?.buckets[0]?.manifestKey ?? '',
    )) {
      const before = entries1.get(e.key);
      if (before && before.etag === e.etag) {
        expect(e.versionId).toBe(before.versionId);
        carried++;
      }
    }
    expect(carried).toBe(second.minio?.buckets[0]?.carriedObjects);
  });

  it('fails without a manifest, snapshot cleared, when a referenced vault object is missing', async () => {
    // Lose the vault copy of one unchanged object and of one reused SSTable the next backup will reference.
    const lostObject = await (async () => {
      for await (const e of readJsonLines<ManifestEntry>(
        s3,
        bucket,
        second.minio?.buckets[0]?.manifestKey ?? '',
      ))
        return e;
      throw new Error('empty manifest');
    })();
    await s3.send(
      new DeleteObjectCommand({
        Bucket: bucket,
        Key: minioEntryVaultKey('assets', lostObject),
        VersionId: lostObject.versionId,
      }),
    );
    const before = await listBackupIds(s3, bucket);

    // Every referenced version re-checked this run (the default checks 1/720 per run, all within 720 runs).
    const checkAll = localConfig(stack);
    const result = await backup({}, { ...checkAll, vault: { ...checkAll.vault, verifySampleDivisor: 1 } });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('VerificationFailedError');
    expect(result.cause).toContain(lostObject.key);
    const [id] = (await listBackupIds(s3, bucket)).filter((x) => !before.includes(x));
    expect(id).toBeDefined();
    expect(await exists(s3, bucket, `backups/${id}/manifest.json`)).toBe(false);
    const failed = await readVaultJson<{ cause: string }>(s3, bucket, `backups/${id}/failed.json`);
    expect(failed.cause).toContain(lostObject.key);
    expect(snapshotsOnNode()).not.toContain(String(id));
  });

  it('heals the vault with a full backup that copies everything again', async () => {
    const result = await backup({ full: true });

    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    const full = await manifestOf((result.output as unknown as { backupId: string }).backupId);
    expect(full.minio?.buckets[0]?.carriedObjects).toBe(0);
    expect(full.cassandra?.nodes[0]?.reusedFiles).toBe(0);
  });

  it('rejects malformed input before writing anything', async () => {
    const before = await listBackupIds(s3, bucket);

    const result = await backup({ components: ['postgres'], keyspace: 'brig' });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('InvalidInputError');
    expect(result.cause).toMatch(/components\.0.*keyspace|keyspace.*components/s);
    expect(await listBackupIds(s3, bucket)).toEqual(before);
  });

  it('fails naming a bucket that does not exist, with a failed marker', async () => {
    const result = await backup({}, localConfig(stack, { buckets: ['assets', 'no-such-bucket'] }));

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('BucketNotFoundError');
    expect(result.cause).toMatch(/no-such-bucket.*minio\.buckets/);
  });

  it('fails naming a keyspace that does not exist and clears the snapshot', async () => {
    const before = await listBackupIds(s3, bucket);

    const result = await backup({}, localConfig(stack, { keyspaces: ['brig', 'nosuchkeyspace'] }));

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('HostCommandError');
    expect(result.cause).toContain('nosuchkeyspace');
    const [id] = (await listBackupIds(s3, bucket)).filter((x) => !before.includes(x));
    expect(await exists(s3, bucket, `backups/${id}/manifest.json`)).toBe(false);
    expect(snapshotsOnNode()).not.toContain(String(id));
  });
});

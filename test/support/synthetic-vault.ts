import { createHash } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { backupManifestSchema } from '../../functions/core/contract/backup.js';
import { writeJsonLines } from '../../functions/core/manifest-io.js';
import type { ManifestEntry } from '../../functions/core/minio-layout.js';
import {
  bucketManifestKey,
  failedKey,
  manifestKey,
  minioObjectKey,
  nodeFilesKey,
  sstableKey,
  startedKey,
} from '../../functions/core/vault-layout.js';

/**
 * Backups written straight into a vault bucket with the real layout and schemas (manifest, node
 * `files.tsv`, gzip'd bucket manifests, object versions), so that purge tests can build 30+ backups
 * with shared SSTables and carried objects in seconds. Every object is really uploaded: version ids,
 * LastModified and Object Lock are the vault server's.
 */

/** One uploaded object version. */
export interface PutVersion {
  readonly key: string;
  readonly versionId: string;
  readonly sha256: string;
  readonly size: number;
}

/** A node's file in a synthetic backup. */
export interface SyntheticFile extends PutVersion {
  readonly relpath: string;
}

/** A node of a synthetic backup. */
export interface SyntheticNode {
  readonly instanceId: string;
  readonly hostId: string;
  readonly files: readonly SyntheticFile[];
}

const sha = (body: string) => createHash('sha256').update(body).digest('hex');

/** Writes synthetic backups into `bucket` (created with Object Lock, hence versioned). */
export class SyntheticVault {
  constructor(
    readonly s3: S3Client,
    readonly bucket: string,
    readonly clusterName = 'wire',
  ) {}

  async create(): Promise<void> {
    await this.s3.send(new CreateBucketCommand({ Bucket: this.bucket, ObjectLockEnabledForBucket: true }));
  }

  /** Deletes every version (bypassing governance locks: test clean-up only) and the bucket. */
  async destroy(): Promise<void> {
    const all = await this.versions('');
    for (let i = 0; i < all.length; i += 1000) {
      await this.s3.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: all.slice(i, i + 1000).map((v) => ({ Key: v.key, VersionId: v.versionId })) },
          BypassGovernanceRetention: true,
        }),
      );
    }
    await this.s3.send(new DeleteBucketCommand({ Bucket: this.bucket }));
  }

  async put(key: string, body: string): Promise<PutVersion> {
    const out = await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body }));
    if (!out.VersionId) throw new Error(`bucket ${this.bucket} is not versioned`);
    return { key, versionId: out.VersionId, sha256: sha(body), size: Buffer.byteLength(body) };
  }

  /** Uploads one SSTable version of a node. */
  async putSstable(hostId: string, relpath: string, body: string): Promise<SyntheticFile> {
    return { relpath, ...(await this.put(sstableKey(this.clusterName, hostId, relpath), body)) };
  }

  /** Uploads one MinIO object version; returns its manifest entry. */
  async putMinio(bucket: string, key: string, body: string): Promise<ManifestEntry> {
    const v = await this.put(minioObjectKey(bucket, key), body);
    return {
      key,
      vaultKey: v.key,
      size: v.size,
      sha256: v.sha256,
      etag: v.sha256.slice(0, 32),
      versionId: v.versionId,
      metadata: {},
      lastModified: new Date().toISOString(),
    };
  }

  async started(backupId: string, startedAt: string): Promise<void> {
    await this.put(
      startedKey(backupId),
      JSON.stringify({ backupId, startedAt, executionId: 'test', input: {} }),
    );
  }

  async failed(backupId: string): Promise<void> {
    await this.put(failedKey(backupId), JSON.stringify({ error: 'HostCommandError', cause: 'synthetic' }));
  }

  /** Writes a complete backup: node file lists, bucket manifests, then the manifest (last). */
  async commit(
    backupId: string,
    nodes: readonly SyntheticNode[],
    buckets: Readonly<Record<string, readonly ManifestEntry[]>>,
    times: { readonly startedAt: string; readonly completedAt: string },
    /** A PostgreSQL base backup starting at this WAL file (its WAL in `postgresqlWalPrefix`). */
    postgresql?: { readonly startWalFile: string; readonly walPrefix: string },
  ): Promise<void> {
    await this.started(backupId, times.startedAt);
    for (const node of nodes) {
      await this.put(
        nodeFilesKey(backupId, node.instanceId),
        node.files.map((f) => `${f.relpath}\t${f.size}\t${f.sha256}\t${f.versionId}\n`).join(''),
      );
    }
    const bucketResults = [];
    for (const [bucket, entries] of Object.entries(buckets)) {
      const key = bucketManifestKey(backupId, bucket);
      const sorted = [...entries].sort((a, b) => (a.key < b.key ? -1 : 1));
      await writeJsonLines(this.s3, this.bucket, key, sorted, { gzip: true });
      bucketResults.push({
        bucket,
        manifestKey: key,
        objects: sorted.length,
        bytes: sorted.reduce((n, e) => n + e.size, 0),
        copiedObjects: 0,
        copiedBytes: 0,
        carriedObjects: 0,
      });
    }
    const manifest = backupManifestSchema.parse({
      formatVersion: 2,
      backupId,
      clusterName: this.clusterName,
      startedAt: times.startedAt,
      completedAt: times.completedAt,
      durationSeconds: 60,
      executionId: `synthetic-${backupId}`,
      previousBackupId: null,
      components: { wireServer: false, cassandra: nodes.length > 0, minio: bucketResults.length > 0 },
      wireServer: null,
      cassandra: {
        cassandraVersion: '5.0.9',
        schemaKey: null,
        rowCountsKey: null,
        keyspaces: '',
        ring: [],
        downNodes: [],
        nodes: nodes.map((n) => ({
          instanceId: n.instanceId,
          name: n.instanceId,
          hostId: n.hostId,
          address: null,
          manifestKey: `${nodeFilesKey(backupId, n.instanceId)}.json`,
          filesKey: nodeFilesKey(backupId, n.instanceId),
          schemaKey: null,
          rowCountsKey: null,
          files: n.files.length,
          bytes: n.files.reduce((s, f) => s + f.size, 0),
          newFiles: 0,
          newBytes: 0,
          reusedFiles: 0,
          reusedBytes: 0,
          verifiedBytes: 0,
        })),
      },
      minio: { buckets: bucketResults },
      postgresql: postgresql
        ? {
            baseKey: `backups/${backupId}/postgresql/base.tar.gz`,
            labelKey: `backups/${backupId}/postgresql/backup_label`,
            rowCountsKey: `backups/${backupId}/postgresql/row-counts.tsv`,
            bytes: 0,
            sha256: sha(''),
            startLsn: '0/0',
            stopLsn: '0/0',
            countsLsn: '0/0',
            timeline: Number.parseInt(postgresql.startWalFile.slice(0, 8), 16),
            startTime: times.startedAt,
            stopTime: times.completedAt,
            startWalFile: postgresql.startWalFile,
            stopWalFile: postgresql.startWalFile,
            tables: 0,
            rows: 0,
            fromStandby: true,
            serverVersion: '17.10',
            database: 'wire-server',
            source: 'pg-standby',
            lagging: [],
            walPrefix: postgresql.walPrefix,
          }
        : null,
      totals: { bytes: 0, newBytes: 0, reusedBytes: 0, files: 0, objects: 0 },
    });
    await this.put(manifestKey(backupId), JSON.stringify(manifest));
  }

  /** Every version (delete markers included) below `prefix`. */
  async versions(prefix: string): Promise<{ key: string; versionId: string }[]> {
    const all: { key: string; versionId: string }[] = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectVersionsCommand({
          Bucket: this.bucket,
          Prefix: prefix,
          KeyMarker: keyMarker,
          VersionIdMarker: versionIdMarker,
        }),
      );
      for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])])
        if (v.Key) all.push({ key: v.Key, versionId: v.VersionId ?? 'null' });
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker);
    return all;
  }
}

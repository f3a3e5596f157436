import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { BackupManifest } from './contract/backup.js';
import { VerificationFailedError } from './errors.js';
import { readJsonLines, type S3Reader } from './manifest-io.js';
import { toStorageError } from './minio-errors.js';
import { manifestEntrySchema } from './minio-layout.js';
import { splitLines } from './streams.js';
import { s3Url } from './vault-io.js';
import { minioEntryVaultKey, sstableKey } from './vault-layout.js';

/**
 * Every data object version a complete backup references, with the size and SHA-256 the backup
 * recorded for it: the wire-server archive, each node's SSTables (its `files.tsv`), each bucket's
 * MinIO object versions (its bucket manifest), the PostgreSQL base backup. The archive copies exactly
 * these (PostgreSQL aside), `verify` re-checks them. Read as a stream: millions of objects stay at
 * one line in memory.
 */

/** One object version a backup references. */
export interface ReferencedObject {
  /** `wireServer`, `cassandra <node name>`, `minio <bucket>`, `postgresql`. */
  readonly component: string;
  /** The object as the backup names it: SSTable relpath, MinIO source key, or the vault key. */
  readonly name: string;
  readonly vaultKey: string;
  /** The vault version the backup recorded; undefined: the current version (none was recorded). */
  readonly versionId: string | undefined;
  readonly sha256: string;
  readonly size: number;
}

/** Yields every object version `manifest` references (see the module comment). */
export async function* referencedObjects(
  vault: S3Reader,
  vaultBucket: string,
  manifest: BackupManifest,
): AsyncGenerator<ReferencedObject> {
  if (manifest.wireServer) {
    const w = manifest.wireServer;
    yield {
      component: 'wireServer',
      name: w.key,
      vaultKey: w.key,
      versionId: w.versionId,
      sha256: w.sha256,
      size: w.bytes,
    };
  }
  for (const node of manifest.cassandra?.nodes ?? []) {
    let body: Readable;
    try {
      const out = await vault.send(new GetObjectCommand({ Bucket: vaultBucket, Key: node.filesKey }));
      body = out.Body as Readable;
    } catch (error) {
      throw toStorageError(error, `reading ${s3Url(vaultBucket, node.filesKey)}`);
    }
    for await (const line of splitLines(body)) {
      const [relpath, size, sha256, versionId] = line.split('\t');
      if (!relpath || !size || !sha256 || !versionId)
        throw new VerificationFailedError(
          `${s3Url(vaultBucket, node.filesKey)}: line "${line.slice(0, 80)}" is not relpath, size, sha256, versionId — the node's file list is corrupt`,
        );
      yield {
        component: `cassandra ${node.name}`,
        name: relpath,
        vaultKey: sstableKey(manifest.clusterName, node.hostId, relpath),
        versionId,
        sha256,
        size: Number(size),
      };
    }
  }
  for (const b of manifest.minio?.buckets ?? []) {
    for await (const e of readJsonLines(vault, vaultBucket, b.manifestKey, {
      parse: (v) => manifestEntrySchema.parse(v),
    }))
      yield {
        component: `minio ${b.bucket}`,
        name: e.key,
        vaultKey: minioEntryVaultKey(b.bucket, e),
        versionId: e.versionId,
        sha256: e.sha256,
        size: e.size,
      };
  }
  if (manifest.postgresql) {
    const p = manifest.postgresql;
    yield {
      component: 'postgresql',
      name: p.baseKey,
      vaultKey: p.baseKey,
      versionId: undefined,
      sha256: p.sha256,
      size: p.bytes,
    };
  }
}

import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { NodeManifestSummary } from './contract/backup.js';
import { VerificationFailedError } from './errors.js';
import { isNotFoundError } from './minio-errors.js';
import { mapConcurrent } from './streams.js';
import { hashVaultObject, readVaultText } from './vault-io.js';
import { nodeFilesKey, nodeManifestKey, sstableKey, sstablePrefix } from './vault-layout.js';
import { isInSample, type VerifySample } from './verify-sample.js';

/** One SSTable (or companion) file of a node's snapshot, as the vault holds it. */
export interface NodeFile {
  /** `<keyspace>/<table dir>/<file>` */
  readonly relpath: string;
  readonly size: number;
  readonly sha256: string;
  readonly versionId: string;
  /** Uploaded by this backup (true) or referenced from an earlier one. */
  readonly uploaded: boolean;
}

/** What the snapshot script reported. */
export interface SnapshotResult {
  readonly hostId: string;
  readonly address?: string | null;
  readonly inventoryKey: string;
  readonly nodeKey?: string | null;
  readonly schemaKey?: string | null;
  readonly rowCountsKey?: string | null;
}

/** One inventory line: a file and whether this backup uploaded it. */
export type InventoryRow = Omit<NodeFile, 'versionId'> & { readonly versionId?: string };

/** Parses the host's inventory (`relpath\tsize\tsha256\tnew|reused\tversionId`). */
export function parseInventory(text: string, source: string): InventoryRow[] {
  const rows: InventoryRow[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const [relpath, size, sha256, status, versionId] = line.split('\t');
    if (!relpath || !size || !/^\d+$/.test(size) || !sha256 || !/^[0-9a-f]{64}$/.test(sha256) || !status) {
      throw new VerificationFailedError(
        `${source} line ${i + 1} is malformed: ${JSON.stringify(line.slice(0, 200))}`,
      );
    }
    if (status !== 'new' && status !== 'reused') {
      throw new VerificationFailedError(
        `${source} line ${i + 1}: status must be new or reused, got ${status}`,
      );
    }
    if (status === 'reused' && !versionId) {
      throw new VerificationFailedError(`${source} line ${i + 1}: reused file ${relpath} has no version id`);
    }
    rows.push({
      relpath,
      size: Number(size),
      sha256,
      uploaded: status === 'new',
      ...(versionId ? { versionId } : {}),
    });
  });
  return rows;
}

/** Renders the final files list read by the next backup of the node and by restores. */
export function renderFilesTsv(files: readonly NodeFile[]): string {
  return files.map((f) => `${f.relpath}\t${f.size}\t${f.sha256}\t${f.versionId}\n`).join('');
}

/** Collaborators and options of {@link finalizeNode}. */
export interface FinalizeNodeDeps {
  readonly s3: S3Client;
  /** Re-read and re-hash the files this backup uploaded. */
  readonly deepVerify: boolean;
  readonly concurrency?: number;
  /**
   * Which reused files (uploaded by an earlier backup) to look up again: their relpath's hash falls in
   * the run's slot (`isInSample`, the same rotation as MinIO's carried objects). Files this backup
   * uploaded are always looked up. @default every reused file
   */
  readonly sample?: VerifySample;
}

/**
 * Turns a node's inventory into its manifest: every file uploaded by this backup is looked up in the
 * vault (size must match; version id recorded; with deep verify its SHA-256 recomputed); a reused
 * file's version must still exist — every one, or with `sample` this run's rotating share of them, so
 * the requests follow the change, not the node's size. Writes `files.tsv` and `manifest.json`.
 */
export async function finalizeNode(
  args: {
    readonly backupId: string;
    readonly vaultBucket: string;
    readonly clusterName: string;
    readonly node: { readonly instanceId: string; readonly name: string };
    readonly snapshot: SnapshotResult;
  },
  deps: FinalizeNodeDeps,
): Promise<NodeManifestSummary> {
  const { s3, deepVerify } = deps;
  const { backupId, vaultBucket, clusterName, node, snapshot } = args;
  const inventory = parseInventory(
    await readVaultText(s3, vaultBucket, snapshot.inventoryKey),
    snapshot.inventoryKey,
  );
  const prefix = sstablePrefix(clusterName, snapshot.hostId);
  let verifiedBytes = 0;
  let sampledFiles = 0;
  const files = await mapConcurrent(inventory, deps.concurrency ?? 16, async (file): Promise<NodeFile> => {
    const key = sstableKey(clusterName, snapshot.hostId, file.relpath);
    if (!file.uploaded && deps.sample && !isInSample({ key: file.relpath }, deps.sample)) {
      // Referenced, not re-checked this run: its version id and size come from the inventory.
      return {
        relpath: file.relpath,
        size: file.size,
        sha256: file.sha256,
        versionId: file.versionId as string,
        uploaded: false,
      };
    }
    if (!file.uploaded) sampledFiles += 1;
    let head: { ContentLength?: number; VersionId?: string };
    try {
      head = await s3.send(
        new HeadObjectCommand({
          Bucket: vaultBucket,
          Key: key,
          ...(file.uploaded ? {} : { VersionId: file.versionId }),
        }),
      );
    } catch (error) {
      // Only "not there" means missing; an unreachable vault is a transient fault, retried as such.
      if (!isNotFoundError(error)) throw error;
      throw new VerificationFailedError(
        `node ${node.name}: vault object ${key}${file.uploaded ? '' : ` version ${file.versionId}`} is missing (${(error as Error).name}): ${file.uploaded ? 'the upload did not complete; run the backup again' : 'the vault lost a file an earlier backup uploaded; run a full backup ({"full": true}) to upload it again'}`,
        { cause: error },
      );
    }
    if (head.ContentLength !== file.size) {
      throw new VerificationFailedError(
        `node ${node.name}: vault object ${key} has ${head.ContentLength} bytes, the snapshot file has ${file.size}`,
      );
    }
    const versionId = file.uploaded ? (head.VersionId ?? 'null') : (file.versionId as string);
    if (file.uploaded && deepVerify) {
      const sha = await hashVaultObject(s3, vaultBucket, key, versionId);
      if (sha !== file.sha256) {
        throw new VerificationFailedError(
          `node ${node.name}: vault object ${key} has SHA-256 ${sha}, expected ${file.sha256}`,
        );
      }
      verifiedBytes += file.size;
    }
    return {
      relpath: file.relpath,
      size: file.size,
      sha256: file.sha256,
      versionId,
      uploaded: file.uploaded,
    };
  });
  files.sort((a, b) => (a.relpath < b.relpath ? -1 : a.relpath > b.relpath ? 1 : 0));
  const sum = (list: readonly NodeFile[]) => list.reduce((n, f) => n + f.size, 0);
  const uploaded = files.filter((f) => f.uploaded);
  const reused = files.filter((f) => !f.uploaded);
  const summary: NodeManifestSummary = {
    instanceId: node.instanceId,
    name: node.name,
    hostId: snapshot.hostId,
    address: snapshot.address ?? null,
    manifestKey: nodeManifestKey(backupId, node.instanceId),
    filesKey: nodeFilesKey(backupId, node.instanceId),
    schemaKey: snapshot.schemaKey ?? null,
    rowCountsKey: snapshot.rowCountsKey ?? null,
    files: files.length,
    bytes: sum(files),
    newFiles: uploaded.length,
    newBytes: sum(uploaded),
    reusedFiles: reused.length,
    reusedBytes: sum(reused),
    verifiedBytes,
    ...(deps.sample ? { sampledReusedFiles: sampledFiles } : {}),
  };
  await s3.send(
    new PutObjectCommand({
      Bucket: vaultBucket,
      Key: summary.filesKey,
      Body: renderFilesTsv(files),
      ContentType: 'text/tab-separated-values',
    }),
  );
  await s3.send(
    new PutObjectCommand({
      Bucket: vaultBucket,
      Key: summary.manifestKey,
      Body: JSON.stringify(
        { ...summary, backupId, clusterName, sstablePrefix: prefix, nodeInfoKey: snapshot.nodeKey ?? null },
        null,
        2,
      ),
      ContentType: 'application/json',
    }),
  );
  return summary;
}

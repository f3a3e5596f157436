import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ComponentName } from './backup-plan.js';
import type { NodeManifestSummary } from './cassandra-node.js';
import { describeCause, VerificationFailedError } from './errors.js';
import type { PreflightedPlan } from './preflight.js';
import { failedKey, manifestKey } from './vault-layout.js';

/** Result of the wire-server branch (the archive verification). */
export interface WireServerResult {
  readonly key: string;
  readonly versionId?: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly entries: number;
  readonly rootEntry?: string;
}

/** Result of the MinIO branch for one bucket. */
export interface BucketResult {
  readonly bucket: string;
  readonly manifestKey: string;
  readonly objects: number;
  readonly bytes: number;
  readonly copiedObjects: number;
  readonly copiedBytes: number;
  readonly carriedObjects: number;
}

type Skipped = { readonly skipped: true };
const isSkipped = (v: unknown): v is Skipped => typeof v === 'object' && v !== null && 'skipped' in v;

/** The committed manifest: its presence means the backup is complete. */
export interface BackupManifest {
  readonly formatVersion: 1;
  readonly backupId: string;
  readonly clusterName: string;
  readonly startedAt: string;
  readonly completedAt: string;
  readonly durationSeconds: number;
  readonly executionId: string;
  readonly previousBackupId: string | null;
  readonly components: Readonly<Record<ComponentName, boolean>>;
  readonly wireServer: WireServerResult | null;
  readonly cassandra: {
    readonly cassandraVersion: string | null;
    readonly schemaKey: string | null;
    /** Every table's row count just before the snapshot (`keyspace\ttable\trows\tdefault_ttl`); null when not counted. */
    readonly rowCountsKey: string | null;
    readonly keyspaces: string;
    readonly ring: PreflightedPlan['cluster']['nodes'];
    readonly downNodes: PreflightedPlan['cassandra']['downNodes'];
    readonly nodes: readonly NodeManifestSummary[];
  } | null;
  readonly minio: { readonly buckets: readonly BucketResult[] } | null;
  readonly totals: {
    readonly bytes: number;
    readonly newBytes: number;
    readonly reusedBytes: number;
    readonly files: number;
    readonly objects: number;
  };
}

/** Collaborators of {@link commitBackup}. */
export interface CommitDeps {
  readonly s3: S3Client;
  readonly now: () => Date;
}

async function mustExist(
  s3: S3Client,
  bucket: string,
  key: string,
  what: string,
): Promise<string | undefined> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return head.VersionId;
  } catch (error) {
    throw new VerificationFailedError(
      `${what} ${key} is missing from vault ${bucket}: the backup is incomplete`,
      {
        cause: error,
      },
    );
  }
}

/**
 * Checks the backup is complete — every selected component reported, every node and bucket has its
 * manifest in the vault — then writes `backups/<id>/manifest.json`, last.
 */
export async function commitBackup(
  plan: PreflightedPlan,
  results: readonly [unknown, unknown, unknown],
  deps: CommitDeps,
): Promise<BackupManifest> {
  const { s3 } = deps;
  const bucket = plan.vaultBucket;
  const [wireRaw, nodesRaw, minioRaw] = results;

  let wireServer: WireServerResult | null = null;
  if (plan.components.wireServer) {
    if (isSkipped(wireRaw) || !wireRaw)
      throw new VerificationFailedError('the wire-server archive is missing from the results');
    wireServer = wireRaw as WireServerResult;
    await mustExist(s3, bucket, wireServer.key, 'wire-server archive');
  }

  let cassandra: BackupManifest['cassandra'] = null;
  if (plan.components.cassandra) {
    const nodes = (isSkipped(nodesRaw) ? [] : (nodesRaw as NodeManifestSummary[])) ?? [];
    const missing = plan.cassandra.nodes.filter((n) => !nodes.some((r) => r.instanceId === n.instanceId));
    if (missing.length > 0) {
      throw new VerificationFailedError(`no Cassandra manifest for ${missing.map((n) => n.name).join(', ')}`);
    }
    for (const n of nodes) {
      await mustExist(s3, bucket, n.manifestKey, `manifest of node ${n.name}`);
      await mustExist(s3, bucket, n.filesKey, `files list of node ${n.name}`);
    }
    const schemaKey = nodes.find((n) => n.schemaKey)?.schemaKey ?? null;
    if (schemaKey) await mustExist(s3, bucket, schemaKey, 'Cassandra schema');
    const rowCountsKey = nodes.find((n) => n.rowCountsKey)?.rowCountsKey ?? null;
    if (rowCountsKey) await mustExist(s3, bucket, rowCountsKey, 'Cassandra row counts');
    cassandra = {
      cassandraVersion: plan.cluster.cassandraVersion,
      schemaKey,
      rowCountsKey,
      keyspaces: plan.cassandra.keyspaces,
      ring: plan.cluster.nodes,
      downNodes: plan.cassandra.downNodes,
      nodes,
    };
  }

  let minio: BackupManifest['minio'] = null;
  if (plan.components.minio) {
    const buckets = isSkipped(minioRaw) ? [] : ((minioRaw as { buckets?: BucketResult[] })?.buckets ?? []);
    const missing = plan.minio.buckets.filter((b) => !buckets.some((r) => r.bucket === b));
    if (missing.length > 0)
      throw new VerificationFailedError(`no manifest for MinIO bucket(s) ${missing.join(', ')}`);
    for (const b of buckets) await mustExist(s3, bucket, b.manifestKey, `manifest of bucket ${b.bucket}`);
    minio = { buckets };
  }

  const completed = deps.now();
  const nodeList = cassandra?.nodes ?? [];
  const bucketList = minio?.buckets ?? [];
  const manifest: BackupManifest = {
    formatVersion: 1,
    backupId: plan.backupId,
    clusterName: plan.clusterName,
    startedAt: plan.startedAt,
    completedAt: completed.toISOString(),
    durationSeconds: Math.round((completed.getTime() - Date.parse(plan.startedAt)) / 1000),
    executionId: plan.executionId,
    previousBackupId: plan.previousBackupId,
    components: plan.components,
    wireServer,
    cassandra,
    minio,
    totals: {
      bytes:
        (wireServer?.bytes ?? 0) +
        nodeList.reduce((n, x) => n + x.bytes, 0) +
        bucketList.reduce((n, b) => n + b.bytes, 0),
      newBytes:
        (wireServer?.bytes ?? 0) +
        nodeList.reduce((n, x) => n + x.newBytes, 0) +
        bucketList.reduce((n, b) => n + b.copiedBytes, 0),
      reusedBytes:
        nodeList.reduce((n, x) => n + x.reusedBytes, 0) +
        bucketList.reduce((n, b) => n + (b.bytes - b.copiedBytes), 0),
      files: nodeList.reduce((n, x) => n + x.files, 0),
      objects: bucketList.reduce((n, b) => n + b.objects, 0),
    },
  };
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: manifestKey(plan.backupId),
      Body: JSON.stringify(manifest, null, 2),
      ContentType: 'application/json',
    }),
  );
  return manifest;
}

/** A failure as a Catch delivers it. */
export interface CaughtError {
  readonly Error?: string;
  readonly Cause?: string;
}

/** Writes the `failed` marker (cause included, no manifest) and returns what was written. */
export async function markBackupFailed(
  plan: { readonly backupId: string; readonly vaultBucket: string; readonly executionId?: string },
  error: CaughtError | undefined,
  deps: CommitDeps,
): Promise<{ backupId: string; failedKey: string; error: string; cause: string }> {
  const described = describeCause(error);
  const key = failedKey(plan.backupId);
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: plan.vaultBucket,
      Key: key,
      Body: JSON.stringify(
        {
          backupId: plan.backupId,
          failedAt: deps.now().toISOString(),
          executionId: plan.executionId,
          ...described,
        },
        null,
        2,
      ),
      ContentType: 'application/json',
    }),
  );
  return { backupId: plan.backupId, failedKey: key, ...described };
}

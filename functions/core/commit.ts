import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { backupIdTime } from './abandoned-runs.js';
import type { BackupManifest, BackupResults, PreflightedPlan } from './contract/backup.js';
import { type CaughtError, isSkipped } from './contract/common.js';
import { describeBackupCause, errorNames, VerificationFailedError } from './errors.js';
import { tryFindFailedBatches } from './map-run-report.js';
import { isNotFoundError } from './minio-errors.js';
import { failedKey, manifestKey } from './vault-layout.js';

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
    // Only "not there" means missing; an unreachable vault is a transient fault, retried as such.
    if (!isNotFoundError(error)) throw error;
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
  results: BackupResults,
  deps: CommitDeps,
): Promise<BackupManifest> {
  const { s3 } = deps;
  const bucket = plan.vaultBucket;

  let wireServer: BackupManifest['wireServer'] = null;
  if (plan.components.wireServer) {
    if (isSkipped(results.wireServer))
      throw new VerificationFailedError('the wire-server archive is missing from the results');
    wireServer = results.wireServer;
    await mustExist(s3, bucket, wireServer.key, 'wire-server archive');
  }

  let cassandra: BackupManifest['cassandra'] = null;
  if (plan.components.cassandra) {
    const nodes = isSkipped(results.cassandra) ? [] : results.cassandra;
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
    const buckets = isSkipped(results.minio) ? [] : results.minio.buckets;
    const missing = plan.minio.buckets.filter((b) => !buckets.some((r) => r.bucket === b));
    if (missing.length > 0)
      throw new VerificationFailedError(`no manifest for MinIO bucket(s) ${missing.join(', ')}`);
    for (const b of buckets) await mustExist(s3, bucket, b.manifestKey, `manifest of bucket ${b.bucket}`);
    minio = { buckets };
  }

  let postgresql: BackupManifest['postgresql'] = null;
  if (plan.components.postgresql) {
    if (isSkipped(results.postgresql) || !plan.postgresql || !plan.postgresqlSource)
      throw new VerificationFailedError('the PostgreSQL base backup is missing from the results');
    const r = results.postgresql;
    await mustExist(s3, bucket, r.baseKey, 'PostgreSQL base backup');
    await mustExist(s3, bucket, r.labelKey, 'PostgreSQL backup_label');
    await mustExist(s3, bucket, r.rowCountsKey, 'PostgreSQL row counts');
    // The backup script waited for it; a restore to the end of this backup needs it.
    await mustExist(s3, bucket, `${plan.postgresql.walPrefix}${r.stopWalFile}.gz`, 'archived WAL segment');
    postgresql = {
      ...r,
      serverVersion: plan.postgresqlSource.serverVersion,
      database: plan.postgresql.database,
      source: plan.postgresqlSource.source.name,
      lagging: plan.postgresqlSource.lagging,
      walPrefix: plan.postgresql.walPrefix,
    };
  }

  const completed = deps.now();
  const nodeList = cassandra?.nodes ?? [];
  const bucketList = minio?.buckets ?? [];
  const manifest: BackupManifest = {
    formatVersion: 2,
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
    postgresql,
    totals: {
      bytes:
        (wireServer?.bytes ?? 0) +
        (postgresql?.bytes ?? 0) +
        nodeList.reduce((n, x) => n + x.bytes, 0) +
        bucketList.reduce((n, b) => n + b.bytes, 0),
      newBytes:
        (wireServer?.bytes ?? 0) +
        (postgresql?.bytes ?? 0) +
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

/**
 * Writes the `failed` marker (cause included, no manifest) and returns what was written. When the MinIO
 * copy's Distributed Map failed (`States.ExceedToleratedFailureThreshold`, which carries no batch's
 * cause), the failed batch's own error and cause are read from the map run's report in the vault
 * (`map-runs/<map run id>/FAILED_<n>.json`, core/map-run-report.ts) and put first.
 */
export async function markBackupFailed(
  plan: { readonly backupId: string; readonly vaultBucket: string; readonly executionId?: string },
  error: CaughtError | undefined,
  deps: CommitDeps,
  outageBudgetSeconds?: number,
): Promise<{ backupId: string; failedKey: string; error: string; cause: string }> {
  let described = describeBackupCause(error, plan.vaultBucket);
  if (described.error === 'States.ExceedToleratedFailureThreshold') {
    const since = backupIdTime(plan.backupId);
    const batches = await tryFindFailedBatches(deps.s3, plan.vaultBucket, {
      idField: 'backupId',
      id: plan.backupId,
      ...(since ? { since } : {}),
    });
    if (batches) {
      described = {
        error: batches.first.error,
        cause:
          `${batches.failed} MinIO copy batch(es) (Copy Batch) failed after their retries; the first: ${batches.first.error}: ` +
          `${batches.first.cause} (map run report s3://${plan.vaultBucket}/${batches.reportKey}). Once that cause is fixed, ` +
          'the next backup runs as usual (differential).',
      };
    }
  }
  // A transient fault that outlasted the step's retries: say for how long it was retried and what next.
  if (described.error === errorNames.transientStorage && outageBudgetSeconds !== undefined) {
    described.cause = `${described.cause}; the step was retried for the outage budget of ${outageBudgetSeconds} s (configuration retry.outageBudgetSeconds) and the fault outlasted it. Once the endpoint answers again, the next backup runs as usual (differential); raise the budget if such outages are expected.`;
  }
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

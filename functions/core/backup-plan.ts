import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { WireBackupConfig } from '../../lib/config.js';
import type { BackupPlan, PostgresqlPlan } from './contract/backup.js';
import { type ComponentName, componentNames } from './contract/common.js';
import { ruleString, rules } from './contract/rules.js';
import { InvalidInputError, WireBackupError } from './errors.js';
import { planPartItems } from './minio-plan.js';
import { listBackupIds, listCompleteBackups, readJsonOrUndefined } from './vault-io.js';
import {
  allocateBackupId,
  clusterSstablePrefix,
  failedKey,
  manifestKey,
  nodeInfoKey,
  nodeInventoryKey,
  postgresqlBaseKey,
  postgresqlLabelKey,
  postgresqlRowCountsKey,
  postgresqlWalPrefix,
  rowCountsKey,
  schemaKey,
  startedKey,
  wireServerArchiveKey,
} from './vault-layout.js';

type PostgresqlConfig = NonNullable<WireBackupConfig['postgresql']>;

/** A server in the preflight's form: `name=instanceId@host:port:dataDir`. */
function serverSpec(s: PostgresqlConfig['primary']): string {
  return `${s.name}=${s.instanceId}@${s.host}:${s.port}:${s.dataDir}`;
}

/** The PostgreSQL part of the plan: servers, settings and the vault keys the host scripts write. */
function postgresqlPlan(pg: PostgresqlConfig, clusterName: string, backupId: string): PostgresqlPlan {
  const { name, instanceId, host, port, dataDir } = pg.primary;
  return {
    secretName: pg.secretName,
    database: pg.database,
    primary: { name, instanceId, host, port, dataDir },
    primarySpec: serverSpec(pg.primary),
    standbySpecs: pg.standbys.map(serverSpec).join(','),
    maxLagBytes: pg.maxLagBytes,
    walWaitSeconds: pg.walWaitSeconds,
    baseKey: postgresqlBaseKey(backupId),
    labelKey: postgresqlLabelKey(backupId),
    rowCountsKey: postgresqlRowCountsKey(backupId),
    walPrefix: postgresqlWalPrefix(clusterName),
  };
}

/**
 * Execution input of the backup state machine. The schedule sends `{}`; an operator may narrow the
 * components or add a reason. Anything else is refused, so a typo never silently changes a backup.
 */
export const backupInputSchema = z
  .object({
    components: z.array(z.enum(componentNames)).min(1, 'name at least one component').optional(),
    reason: ruleString(rules.reason).optional(),
    trigger: z.enum(['schedule', 'manual', 'drill']).optional(),
    /** Ignore the previous backup: upload every file and copy every object again (heals a damaged vault). */
    full: z.boolean().optional(),
  })
  .strict();

/** Validated backup input. */
export type BackupInput = z.infer<typeof backupInputSchema>;

/** The subset of a committed manifest that planning reads. */
interface PreviousManifest {
  readonly backupId: string;
  readonly cassandra?: {
    readonly nodes?: readonly {
      readonly instanceId: string;
      readonly filesKey: string;
      readonly hostId: string;
    }[];
  };
  readonly minio?: {
    readonly buckets?: readonly { readonly bucket: string; readonly manifestKey: string }[];
  };
}

/** Most interrupted runs offered to the MinIO plans for resuming (the newest that planned a bucket is used). */
const maxResumeCandidates = 5;
/** Margin under the purge's grace period for the age of a resumed run (clock skew, a slow plan). */
const resumeMarginMs = 10 * 60_000;

/** A manifest as far as resuming reads it (undefined: no manifest). */
const minioOfManifest = z
  .looseObject({ minio: z.looseObject({ buckets: z.array(z.unknown()) }).nullish() })
  .optional();

/** `started.json` as far as resuming reads it. */
const startedRecordSchema = z.looseObject({
  startedAt: z.string(),
  input: z.looseObject({ full: z.boolean().optional() }).optional(),
});

/**
 * The interrupted backups a new one may resume the MinIO copy of (`minio-plan.ts`, "Resuming"), newest
 * first: newer than the newest complete backup that copied MinIO, marked failed (Prepare's
 * `beforeStart` has just marked the abandoned ones), started less than the purge's grace period ago (so
 * the purge, which deletes unreferenced versions only once they are that old, cannot have deleted what
 * they copied), and, for a full backup, full themselves (a full run must not carry what a differential
 * run carried).
 */
export async function findResumeCandidates(
  s3: S3Client,
  vaultBucket: string,
  options: { readonly now: Date; readonly graceHours: number; readonly full: boolean },
): Promise<string[]> {
  const candidates: string[] = [];
  const youngest = options.now.getTime() - (options.graceHours * 3600_000 - resumeMarginMs);
  for (const id of await listBackupIds(s3, vaultBucket)) {
    if (candidates.length >= maxResumeCandidates) break;
    // A complete backup that copied MinIO ends the search (its manifests are the base now); one without
    // MinIO (a Cassandra-only run between two attempts of a full copy) does not.
    const manifest = minioOfManifest.safeParse(await readJsonOrUndefined(s3, vaultBucket, manifestKey(id)));
    if (manifest.success && manifest.data) {
      if ((manifest.data.minio?.buckets.length ?? 0) > 0) break;
      continue;
    }
    if (!(await readJsonOrUndefined(s3, vaultBucket, failedKey(id)))) continue;
    const started = startedRecordSchema.safeParse(await readJsonOrUndefined(s3, vaultBucket, startedKey(id)));
    if (!started.success) continue;
    const startedAt = Date.parse(started.data.startedAt);
    if (!(startedAt >= youngest)) break;
    if (options.full && started.data.input?.full !== true) continue;
    candidates.push(id);
  }
  return candidates;
}

/** Parses execution input; the error names each bad field. */
export function parseBackupInput(raw: unknown): BackupInput {
  const result = backupInputSchema.safeParse(raw ?? {});
  if (!result.success) {
    const fields = result.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ');
    throw new InvalidInputError(
      `backup input rejected (${fields}). Expected {} or {"components": ["wireServer","cassandra","minio","postgresql"], "reason": "..."}`,
    );
  }
  return result.data;
}

/** Collaborators of {@link prepareBackup}. */
export interface PrepareDeps {
  readonly s3: S3Client;
  readonly vaultBucket: string;
  readonly config: WireBackupConfig;
  readonly now: () => Date;
  /**
   * Runs once the input is valid, before the `started` marker is written: throws to refuse the
   * backup (another run is running, `abandoned-runs.ts`). @default - none
   */
  readonly beforeStart?: () => Promise<void>;
  /** Told of what does not stop the backup but an operator may want to know (a parts file that cannot be used). */
  readonly onProblem?: (message: string) => void;
}

/**
 * Validates the input, allocates the backup id, finds the newest complete backup (for differential
 * and incremental work) and writes the `started` marker.
 */
export async function prepareBackup(
  rawInput: unknown,
  executionId: string,
  deps: PrepareDeps,
): Promise<BackupPlan> {
  const input = parseBackupInput(rawInput);
  const { config, s3, vaultBucket } = deps;
  const now = deps.now();
  const backupId = allocateBackupId(now);
  if (await readJsonOrUndefined(s3, vaultBucket, startedKey(backupId))) {
    throw new WireBackupError(
      `backup ${backupId} already started in this second (another execution?): start it again in a second`,
    );
  }
  if (input.components?.includes('postgresql') && !config.postgresql) {
    throw new InvalidInputError(
      'backup input names postgresql, but the configuration has no postgresql section: add it (README "PostgreSQL") or remove postgresql from components',
    );
  }
  // Without a postgresql section the component is off (installations before Wire 5.24).
  const wanted = new Set<ComponentName>(
    (input.components ?? componentNames).filter((c) => c !== 'postgresql' || config.postgresql),
  );
  const [previousId] = input.full ? [] : await listCompleteBackups(s3, vaultBucket);
  const previous = previousId
    ? await readJsonOrUndefined<PreviousManifest>(s3, vaultBucket, manifestKey(previousId))
    : undefined;
  const previousNodes = new Map((previous?.cassandra?.nodes ?? []).map((n) => [n.instanceId, n]));
  const previousBuckets = Object.fromEntries(
    (previous?.minio?.buckets ?? [])
      .filter((b) => config.minio.buckets.includes(b.bucket))
      .map((b) => [b.bucket, b.manifestKey]),
  );

  const plan: BackupPlan = {
    backupId,
    startedAt: now.toISOString(),
    executionId,
    vaultBucket,
    clusterName: config.clusterName,
    components: {
      wireServer: wanted.has('wireServer'),
      cassandra: wanted.has('cassandra'),
      minio: wanted.has('minio'),
      postgresql: wanted.has('postgresql'),
    },
    previousBackupId: previousId ?? null,
    cassandra: {
      dataDir: config.cassandra.dataDir,
      keyspaces: config.cassandra.keyspaces.join(','),
      allowPartial: config.cassandra.allowPartial,
      sstableClusterPrefix: clusterSstablePrefix(config.clusterName),
      schemaKey: schemaKey(backupId),
      rowCountsKey: rowCountsKey(backupId),
      nodes: config.cassandra.nodes.map((n, i) => ({
        instanceId: n.instanceId,
        name: n.name,
        dataDir: n.dataDir ?? config.cassandra.dataDir,
        previousFilesKey: previousNodes.get(n.instanceId)?.filesKey ?? '',
        previousHostId: previousNodes.get(n.instanceId)?.hostId ?? '',
        inventoryKey: nodeInventoryKey(backupId, n.instanceId),
        nodeInfoKey: nodeInfoKey(backupId, n.instanceId),
        captureSchema: i === 0,
        countRows: config.cassandra.countRows,
        uploadMaxBandwidthMBps: config.cassandra.uploadMaxBandwidthMBps,
      })),
      downNodes: [],
    },
    wireServer: {
      instanceId: config.wireServer.instanceId,
      path: config.wireServer.path,
      archiveKey: wireServerArchiveKey(backupId),
      compressionLevel: config.wireServer.compressionLevel,
      expectedEntries: config.wireServer.expectedEntries,
    },
    minio: {
      buckets: config.minio.buckets,
      previousManifestKeys: previousBuckets,
      batchMaxObjects: config.minio.batchMaxObjects,
      resumeCandidates: [],
      parts: [],
      planPartObjects: config.minio.planPartObjects,
    },
    postgresql: config.postgresql ? postgresqlPlan(config.postgresql, config.clusterName, backupId) : null,
  };
  await deps.beforeStart?.();
  if (plan.components.minio) {
    plan.minio.parts = await planPartItems(
      s3,
      vaultBucket,
      plan.minio.buckets,
      previousBuckets,
      deps.onProblem,
    );
    plan.minio.resumeCandidates = await findResumeCandidates(s3, vaultBucket, {
      now,
      graceHours: config.vault.retention.graceHours,
      full: input.full === true,
    });
  }
  await s3.send(
    new PutObjectCommand({
      Bucket: vaultBucket,
      Key: startedKey(backupId),
      Body: JSON.stringify({ backupId, startedAt: plan.startedAt, executionId, input }, null, 2),
      ContentType: 'application/json',
    }),
  );
  return plan;
}

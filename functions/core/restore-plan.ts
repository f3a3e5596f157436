import { dirname } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { WireBackupConfig } from '../../lib/config.js';
import { archiveManifestSchema } from './contract/archive.js';
import type { BackupManifest } from './contract/backup.js';
import { componentNames } from './contract/common.js';
import type { RestoreNodeAssignment, RestorePlan } from './contract/restore.js';
import { ruleRegExp, ruleString, rules } from './contract/rules.js';
import { BackupNotFoundError, InvalidInputError, RestoreRefusedError } from './errors.js';
import { listArchive } from './vault-inspect.js';
import { listCompleteBackups, readJsonOrUndefined } from './vault-io.js';
import {
  allocateBackupId,
  archiveManifestKey,
  archiveObjectPrefix,
  type BackupSource,
  backupReadLocation,
  backupSources,
  failedKey,
  manifestKey,
  restoreRowCountsKey,
  sstablePrefix,
  startedKey,
} from './vault-layout.js';

const instanceId = ruleString(rules.instanceId);
const absolutePath = ruleString(rules.absolutePath);
const keyspaceName = ruleString(rules.keyspaceName);
const bucketName = ruleString(rules.bucketName);

/** A target Cassandra node of a restore (a fresh cluster, other hosts). */
const targetNode = z
  .object({
    instanceId,
    name: ruleString(rules.nodeName),
    /** Address other nodes and sstableloader reach it at. */
    address: ruleString(rules.address),
    dataDir: absolutePath.optional(),
  })
  .strict();

/**
 * Execution input of the restore state machine (also what `wire-backup restore` sends). Strict:
 * an unknown field is refused rather than ignored.
 */
export const restoreInputSchema = z
  .object({
    /** A backup id, or "latest" (the newest complete backup). */
    backupId: z.union([
      z.literal('latest'),
      z.string().regex(ruleRegExp(rules.backupId), `must be ${rules.backupId.description} or "latest"`),
    ]),
    /** Must repeat the backup id being restored (the resolved id when backupId is "latest"). */
    confirm: z
      .string()
      .regex(
        /^[A-Za-z0-9]{0,64}$/,
        `must repeat the backup id being restored, like ${rules.backupId.example} (letters and digits only)`,
      ),
    components: z.array(z.enum(componentNames)).min(1).optional(),
    /**
     * Where the backup is read from: `vault` (default), or `archive`, the cross-region archive copy
     * (when the primary region is gone). Only backups whose archive manifest exists can be restored
     * from the archive, and never their PostgreSQL part (the archive does not keep it).
     */
    source: z.enum(backupSources).default('vault'),
    /** Plan and check everything, write nothing. */
    dryRun: z.boolean().default(false),
    /** Allow writing into a non-empty target (folder, keyspaces with rows, bucket with objects). */
    overwrite: z.boolean().default(false),
    /**
     * Compare every table's row count after the restore with the count the backup took just before
     * its snapshot: `exact` fails the restore when a table has fewer rows (tables whose rows expire by
     * themselves excepted), `report` only reports, `off` skips the counts (each is a full scan).
     */
    verifyRowCounts: z.enum(['exact', 'report', 'off']).default('exact'),
    /**
     * MinIO: what to do with objects a target bucket holds that the backup does not. `report` names
     * them (the restore warns); `delete` removes them, each kept recoverable (target versioning, or a
     * copy set aside in the vault), so the bucket holds exactly the backup's objects.
     */
    minio: z
      .object({ extraObjects: z.enum(['report', 'delete']).default('report') })
      .strict()
      .default({ extraObjects: 'report' }),
    targets: z
      .object({
        wireServer: z
          .object({
            instanceId: instanceId.optional(),
            path: ruleString(rules.restoreTargetPath).optional(),
            /**
             * Give extracted files the owners the archive records (as the backed-up folder had them).
             * Off by default: the restoring user (root under SSM) owns them, so an archive cannot plant
             * files owned by another account.
             */
            restoreOwnership: z.boolean().default(false),
          })
          .strict()
          .optional(),
        cassandra: z
          .object({
            nodes: z.array(targetNode).min(1).optional(),
            /**
             * `auto`: `import` on the same hosts, else `load`. `refresh` forces the Cassandra 3.11 path
             * (files into the live table folder, `nodetool refresh`) on the same hosts, on any version.
             */
            mode: z.enum(['auto', 'import', 'refresh', 'load']).default('auto'),
            keyspaces: z.array(keyspaceName).min(1).optional(),
          })
          .strict()
          .optional(),
        minio: z
          .object({ buckets: z.record(bucketName, bucketName).optional() })
          .strict()
          .optional(),
        /**
         * Where PostgreSQL is restored (default: the configured primary, over its data directory with
         * `overwrite`, archiving on again) and to which moment: `targetTime` (UTC) anywhere the archived
         * WAL covers after the base backup's end; absent = the end of the base backup.
         */
        postgresql: z
          .object({
            instanceId: instanceId.optional(),
            dataDir: absolutePath.optional(),
            port: z.number().int().min(1).max(65535).optional(),
            socketDir: absolutePath.optional(),
            targetTime: z.iso
              .datetime({ offset: false, message: `must be ${rules.utcTime.description}` })
              .regex(ruleRegExp(rules.utcTime), `must be ${rules.utcTime.description}`)
              .optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

/** Validated restore input. */
export type RestoreInput = z.infer<typeof restoreInputSchema>;

/** The restore input's `verifyRowCounts` as the PostgreSQL restore script takes it. */
const postgresqlVerifyModes = { exact: 'fail', report: 'report', off: 'off' } as const satisfies Record<
  RestoreInput['verifyRowCounts'],
  string
>;

/** Collaborators of {@link planRestore}. */
export interface PlanRestoreDeps {
  readonly s3: S3Client;
  readonly vaultBucket: string;
  readonly config: WireBackupConfig;
  readonly now: () => Date;
  /** The restore's execution ARN. @default - not recorded */
  readonly executionId?: string;
  /** The archive bucket (`source: "archive"` reads it). @default - none: such a restore is refused */
  readonly archive?: { readonly s3: S3Client; readonly bucket: string } | undefined;
}

/** The client and bucket a backup is read from, and whether that is the vault or the archive. */
interface SourceAccess {
  readonly source: BackupSource;
  readonly s3: S3Client;
  readonly bucket: string;
}

/**
 * Resolves `backupId` ("latest": the newest) in the archive and requires its archive manifest, the
 * proof that the archive copy is complete.
 */
async function resolveArchived(
  archive: NonNullable<PlanRestoreDeps['archive']>,
  requested: string,
): Promise<string> {
  if (requested === 'latest') {
    const listing = await listArchive({ client: archive.s3, bucket: archive.bucket });
    const latest = listing.find((b) => b.manifest !== null);
    if (!latest)
      throw new BackupNotFoundError(
        `archive bucket ${archive.bucket} holds no complete archive copy (no backups/<id>/archive.json): run the archive of a backup first (README, "Archive"), or restore from the vault`,
      );
    return latest.backupId;
  }
  const raw = await readJsonOrUndefined(archive.s3, archive.bucket, archiveManifestKey(requested));
  if (raw === undefined)
    throw new BackupNotFoundError(
      `backup ${requested} has no archive manifest s3://${archive.bucket}/${archiveManifestKey(requested)}: its archive copy does not exist or is incomplete — pick an archived backup ('wire-backup archive list'), or run its archive again`,
    );
  const parsed = archiveManifestSchema.safeParse(raw);
  if (!parsed.success || parsed.data.backupId !== requested)
    throw new BackupNotFoundError(
      `archive manifest s3://${archive.bucket}/${archiveManifestKey(requested)} is not a valid archive manifest of backup ${requested}: run the archive of that backup again`,
    );
  return requested;
}

function parseRestoreInput(raw: unknown): RestoreInput {
  const result = restoreInputSchema.safeParse(raw ?? {});
  if (!result.success) {
    const fields = result.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ');
    throw new InvalidInputError(
      `restore input rejected (${fields}). Example: {"backupId": "latest", "confirm": "<the backup id>", "dryRun": true}`,
    );
  }
  return result.data;
}

/** Explains why a backup id has no manifest: unknown, failed or never finished. */
async function missingBackup(s3: S3Client, bucket: string, id: string): Promise<BackupNotFoundError> {
  const failed = await readJsonOrUndefined<{ cause?: string }>(s3, bucket, failedKey(id));
  if (failed)
    return new BackupNotFoundError(
      `backup ${id} failed (${failed.cause ?? 'see failed.json'}) and cannot be restored: pick a complete backup (wire-backup list)`,
    );
  if (await readJsonOrUndefined(s3, bucket, startedKey(id))) {
    return new BackupNotFoundError(
      `backup ${id} is incomplete (no manifest; still running or interrupted) and cannot be restored: pick a complete backup`,
    );
  }
  return new BackupNotFoundError(
    `backup ${id} does not exist in vault ${bucket}: pick one of the complete backups (wire-backup list)`,
  );
}

/**
 * Validates the input, resolves the backup (an incomplete or failed one is refused), checks the
 * confirmation and plans what goes where. Writes nothing.
 */
/** The folders a restore may write the wire-server folder into: `wireServer.restoreRoots`, else the folder holding `path`. */
export function restoreRootsOf(wireServer: WireBackupConfig['wireServer']): string[] {
  const trim = (p: string) => p.replace(/\/+$/, '') || '/';
  return (wireServer.restoreRoots ?? [dirname(trim(wireServer.path))]).map(trim);
}

/** `targetPath` when it is one of the restore roots or below one; else {@link InvalidInputError} naming them. */
export function requireUnderRestoreRoots(targetPath: string, config: WireBackupConfig): string {
  const roots = restoreRootsOf(config.wireServer);
  const path = targetPath.replace(/\/+$/, '');
  if (roots.some((root) => path === root || path.startsWith(root === '/' ? '/' : `${root}/`)))
    return targetPath;
  throw new InvalidInputError(
    `targets.wireServer.path "${targetPath}" is outside the folders a restore may write into (wireServer.restoreRoots: ${roots.map((r) => JSON.stringify(r)).join(', ')}): choose a path below one of them, or add its folder to wireServer.restoreRoots in the configuration and deploy`,
  );
}

export async function planRestore(rawInput: unknown, deps: PlanRestoreDeps): Promise<RestorePlan> {
  const input = parseRestoreInput(rawInput);
  const { vaultBucket, config } = deps;
  let backupId = input.backupId;
  let from: SourceAccess = { source: 'vault', s3: deps.s3, bucket: vaultBucket };
  if (input.source === 'archive') {
    if (!deps.archive)
      throw new RestoreRefusedError(
        'source "archive": this stack has no archive configured — add the "archive" section to the configuration and deploy (README, "Archive"), or restore from the vault (source "vault")',
      );
    from = { source: 'archive', s3: deps.archive.s3, bucket: deps.archive.bucket };
    backupId = await resolveArchived(deps.archive, backupId);
  } else if (backupId === 'latest') {
    const [latest] = await listCompleteBackups(deps.s3, vaultBucket);
    if (!latest) throw new BackupNotFoundError(`vault ${vaultBucket} holds no complete backup to restore`);
    backupId = latest;
  }
  /** Where `ref` of this backup is read (the vault, or the archive: `vault-layout.ts`). */
  const at = (ref: Parameters<typeof backupReadLocation>[1]) => backupReadLocation(from.source, ref);
  const index = (vaultKey: string) => at({ kind: 'index', vaultKey }).key;
  const manifest = await readJsonOrUndefined<BackupManifest>(
    from.s3,
    from.bucket,
    index(manifestKey(backupId)),
  );
  if (!manifest) {
    if (from.source === 'archive')
      throw new BackupNotFoundError(
        `the archive copy of backup ${backupId} lacks its manifest s3://${from.bucket}/${index(manifestKey(backupId))} although its archive manifest exists: run the archive of that backup again`,
      );
    throw await missingBackup(deps.s3, vaultBucket, backupId);
  }
  if (input.confirm !== backupId) {
    throw new RestoreRefusedError(
      `confirmation does not match: to restore backup ${backupId}, set "confirm": "${backupId}" (restores overwrite data)`,
    );
  }
  // PostgreSQL is not archived (README, "Archive"): only an input that leaves it out restores from there.
  if (
    from.source === 'archive' &&
    manifest.components.postgresql &&
    (input.components === undefined || input.components.includes('postgresql'))
  ) {
    const others = componentNames.filter((c) => c !== 'postgresql' && manifest.components[c]);
    throw new RestoreRefusedError(
      `backup ${backupId} holds PostgreSQL, which the archive does not keep: restore it from the vault, or leave it out with "components": ${JSON.stringify(others)}`,
    );
  }
  const wanted = new Set(input.components ?? componentNames.filter((c) => manifest.components[c]));
  for (const c of wanted) {
    if (!manifest.components[c])
      throw new RestoreRefusedError(`backup ${backupId} does not contain ${c}: remove it from components`);
  }
  const now = deps.now();
  const restoreId = allocateBackupId(now);

  let wireServer: RestorePlan['wireServer'] = null;
  if (wanted.has('wireServer') && manifest.wireServer) {
    const archive = at({
      kind: 'data',
      vaultKey: manifest.wireServer.key,
      versionId: manifest.wireServer.versionId,
      sha256: manifest.wireServer.sha256,
    });
    wireServer = {
      instanceId: input.targets.wireServer?.instanceId ?? config.wireServer.instanceId,
      targetPath: requireUnderRestoreRoots(input.targets.wireServer?.path ?? config.wireServer.path, config),
      archiveKey: archive.key,
      versionId: archive.versionId ?? 'null',
      sha256: manifest.wireServer.sha256,
      bytes: manifest.wireServer.bytes,
      restoreOwnership: input.targets.wireServer?.restoreOwnership ?? false,
    };
  }

  let cassandra: RestorePlan['cassandra'] = null;
  if (wanted.has('cassandra') && manifest.cassandra) {
    const m = manifest.cassandra;
    if (!m.schemaKey)
      throw new RestoreRefusedError(
        `backup ${backupId} recorded no Cassandra schema: it cannot be restored into an empty cluster`,
      );
    const targets =
      input.targets.cassandra?.nodes ??
      config.cassandra.nodes.map((n) => {
        const ring = m.nodes.find((x) => x.instanceId === n.instanceId);
        return {
          instanceId: n.instanceId,
          name: n.name,
          address: n.address ?? ring?.address ?? '',
          dataDir: n.dataDir,
        };
      });
    const sameHosts =
      targets.length === m.nodes.length &&
      m.nodes.every((s) => targets.some((t) => t.instanceId === s.instanceId));
    const requested = input.targets.cassandra?.mode ?? 'auto';
    const mode = requested === 'auto' ? (sameHosts ? 'import' : 'load') : requested;
    if ((mode === 'import' || mode === 'refresh') && !sameHosts) {
      throw new RestoreRefusedError(
        `mode ${mode} needs the same hosts as the backup (each node loads its own files): use mode load for another topology`,
      );
    }
    const loadTargets = targets.map((t) => t.address).filter((a) => a);
    if (mode === 'load' && loadTargets.length !== targets.length) {
      throw new RestoreRefusedError(
        'mode load needs every target node’s address: set targets.cassandra.nodes[].address (or cassandra.nodes[].address in the configuration)',
      );
    }
    const dataDirOf = (t: { dataDir?: string | undefined }) => t.dataDir ?? config.cassandra.dataDir;
    const nodes = m.nodes.map((source, i): RestoreNodeAssignment => {
      const runner =
        mode !== 'load'
          ? targets.find((t) => t.instanceId === source.instanceId)
          : targets[i % targets.length];
      if (!runner) throw new RestoreRefusedError(`no target node for ${source.name}`);
      return {
        instanceId: runner.instanceId,
        name: runner.name,
        sourceName: source.name,
        sourceHostId: source.hostId,
        filesKey: index(source.filesKey),
        // The archive keeps SSTables content-addressed: the node script appends each file's address.
        sstablePrefix:
          from.source === 'archive'
            ? archiveObjectPrefix
            : sstablePrefix(manifest.clusterName, source.hostId),
        files: source.files,
        bytes: source.bytes,
        stagingDir: `${dirname(dataDirOf(runner))}/wire-backup-restore`,
        dataDir: dataDirOf(runner),
      };
    });
    const first = targets[0];
    if (!first) throw new RestoreRefusedError('no target Cassandra node');
    cassandra = {
      schemaKey: index(m.schemaKey),
      keyspaces: (input.targets.cassandra?.keyspaces ?? (m.keyspaces ? m.keyspaces.split(',') : [])).join(
        ',',
      ),
      mode,
      backupVersion: m.cassandraVersion,
      loadTargets: loadTargets.join(','),
      schemaInstanceId: first.instanceId,
      targets: targets.map((t) => ({ instanceId: t.instanceId, name: t.name, dataDir: dataDirOf(t) })),
      nodes,
      bytes: nodes.reduce((n, x) => n + x.bytes, 0),
      // A new topology may have fewer nodes than the replication factor: count at ONE there (every
      // replica got the rows from sstableloader); the same hosts each imported their own files: QUORUM.
      rowCounts:
        m.rowCountsKey && input.verifyRowCounts !== 'off'
          ? {
              backupKey: index(m.rowCountsKey),
              restoredKey: restoreRowCountsKey(restoreId),
              consistency: mode === 'load' ? 'ONE' : 'QUORUM',
              check: input.verifyRowCounts,
            }
          : null,
    };
  }

  let minio: RestorePlan['minio'] = null;
  if (wanted.has('minio') && manifest.minio) {
    const renames = input.targets.minio?.buckets ?? {};
    for (const source of Object.keys(renames)) {
      if (!manifest.minio.buckets.some((b) => b.bucket === source)) {
        throw new RestoreRefusedError(
          `targets.minio.buckets names ${source}, which backup ${backupId} does not contain`,
        );
      }
    }
    minio = {
      buckets: manifest.minio.buckets.map((b) => ({
        sourceBucket: b.bucket,
        targetBucket: renames[b.bucket] ?? b.bucket,
        manifestKey: index(b.manifestKey),
        objects: b.objects,
        bytes: b.bytes,
      })),
      extraObjects: input.minio.extraObjects,
    };
  }

  let postgresql: RestorePlan['postgresql'] = null;
  if (wanted.has('postgresql') && manifest.postgresql) {
    const pg = config.postgresql;
    const m = manifest.postgresql;
    const t = input.targets.postgresql ?? {};
    if (!pg && !(t.instanceId && t.dataDir && t.port && t.socketDir)) {
      throw new RestoreRefusedError(
        'the configuration has no postgresql section: add it, or name the target in targets.postgresql (instanceId, dataDir, port, socketDir)',
      );
    }
    const primary = pg?.primary;
    const target = {
      instanceId: t.instanceId ?? primary?.instanceId ?? '',
      dataDir: t.dataDir ?? primary?.dataDir ?? '',
      port: t.port ?? primary?.port ?? 5432,
      socketDir: t.socketDir ?? primary?.socketDir ?? '/var/run/postgresql',
    };
    if (t.targetTime && Date.parse(t.targetTime) < Date.parse(m.stopTime)) {
      throw new RestoreRefusedError(
        `targets.postgresql.targetTime ${t.targetTime} is before the end of backup ${backupId}'s base backup (${m.stopTime}): choose a later time or an earlier backup`,
      );
    }
    const isPrimary =
      !!primary && target.instanceId === primary.instanceId && target.dataDir === primary.dataDir;
    postgresql = {
      ...target,
      name: isPrimary && primary ? primary.name : `${target.instanceId}:${target.port}`,
      osUser: pg?.osUser ?? 'postgres',
      binDir: pg?.binDir ?? '/usr/lib/postgresql/17/bin',
      // Restored as the cluster's primary it archives its new timeline; beside the cluster it must not.
      archive: isPrimary,
      baseKey: m.baseKey,
      baseSha256: m.sha256,
      labelKey: m.labelKey,
      rowCountsKey: m.rowCountsKey,
      walPrefix: m.walPrefix,
      timeline: m.timeline,
      startWalFile: m.startWalFile,
      countsLsn: m.countsLsn,
      stopTime: m.stopTime,
      bytes: m.bytes,
      targetTime: t.targetTime ?? '',
      verifyRowCounts: postgresqlVerifyModes[input.verifyRowCounts],
    };
  } else if (input.targets.postgresql && !wanted.has('postgresql')) {
    throw new RestoreRefusedError(
      'targets.postgresql is set but postgresql is not restored: add it to components',
    );
  }

  const plan: RestorePlan = {
    restoreId,
    backupId,
    vaultBucket,
    source: from.source,
    sourceBucket: from.bucket,
    clusterName: manifest.clusterName,
    dryRun: input.dryRun,
    overwrite: input.overwrite,
    startedAt: now.toISOString(),
    ...(deps.executionId ? { executionId: deps.executionId } : {}),
    components: {
      wireServer: wireServer !== null,
      cassandra: cassandra !== null,
      minio: minio !== null,
      postgresql: postgresql !== null,
    },
    wireServer,
    cassandra,
    minio,
    postgresql,
  };
  // Nothing is written here: the targets are not checked yet. The report carries the plan.
  return plan;
}

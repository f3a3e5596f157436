import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { z } from 'zod';
import { backupSummarySchema } from '../functions/core/contract/backup.js';
import { componentNames, isSkipped } from '../functions/core/contract/common.js';
import type { RestoreReport, RowCountComparison } from '../functions/core/contract/restore.js';
import { restoreReportSchema } from '../functions/core/contract/restore.js';
import { restoreRowCounts, restoreWarnings } from '../functions/core/restore-report.js';
import type { WireBackupConfig } from '../lib/config.js';
import { deliverEvents, readRecordedEvents } from './event-router.js';
import { historyScale } from './history-scale.js';
import { localConfig } from './local-config.js';
import { runLocal } from './local-run.js';
import type { RunnerEventListener } from './runner/events.js';
import { createSourceS3Client } from './seed/connections.js';
import {
  diffSnapshots,
  formatDifferences,
  mutateWire,
  type SnapshotDifference,
  seedWire,
  snapshotWire,
} from './seed/index.js';
import { postgresTableDigests, seedPostgres } from './seed/postgres.js';
import { createStackS3Client } from './stack-clients.js';
import { readStackInfo, repoRoot, type StackInfo } from './stack-info.js';

/** Options of {@link runDrill}. */
export interface DrillOptions {
  /** Nodes of the cluster that is backed up. @default 1 */
  readonly fromNodes?: 1 | 3;
  /** Nodes of the fresh cluster restored into (a different count exercises sstableloader). @default 1 */
  readonly toNodes?: 1 | 3;
  /** Seed size (`smoke`, `<N>MiB`). @default 'smoke' */
  readonly size?: string;
  /**
   * Change the data and back up again after the first backup, then restore the first (older) one:
   * proves a restore gives exactly that backup's data, not the latest. @default false
   */
  readonly restoreOlder?: boolean;
  /** Cassandra version of the cluster that is backed up (`wire-stack up --cassandra`). @default the stack's */
  readonly fromVersion?: CassandraSeries;
  /** Cassandra version of the fresh cluster restored into (newer than the backup's: the upgrade path). @default fromVersion */
  readonly toVersion?: CassandraSeries;
  /** The restore input's `targets.cassandra.mode` (`refresh` forces the Cassandra 3.11 path). @default auto */
  readonly mode?: 'auto' | 'import' | 'refresh' | 'load';
  /**
   * Restore from the cross-region archive (README, "Archive"): the backup is archived (its "Backup
   * Completed" event delivered to the archive state machine, into the vault server's second bucket),
   * then the disaster also takes the primary vault (every object version in it deleted) and the restore
   * reads the archive only (`"source": "archive"`). PostgreSQL, which the archive does not keep, is
   * left out of the restore and of the comparison. @default false
   */
  readonly fromArchive?: boolean;
  readonly log?: (line: string) => void;
  /** Receives every progress event of the drill's backups and restore (`runLocal`'s `onEvent`). */
  readonly onEvent?: RunnerEventListener;
  /**
   * Called after seeding, before the state is recorded and backed up: adds data of the caller's own
   * (the canary test seeds a unique value into a row, a file and an object).
   */
  readonly afterSeed?: (stack: StackInfo) => Promise<void>;
}

/** The Cassandra versions the local stack can run (`wire-stack up --cassandra`). */
export const cassandraSeries = ['4.1', '5.0'] as const;
/** A Cassandra version the local stack can run. */
export type CassandraSeries = (typeof cassandraSeries)[number];

/** What the drill proved. */
export interface DrillReport {
  readonly backupId: string;
  readonly restoreId: string;
  readonly fromNodes: number;
  readonly toNodes: number;
  /** Cassandra release of the backed-up cluster and of the one restored into (`nodetool version`). */
  readonly fromVersion: string;
  readonly toVersion: string;
  /** How each node's SSTables were loaded (import, refresh or load), as the restore scripts report. */
  readonly loaders: readonly string[];
  /** Seconds from the start of the restore to verified data: the recovery time. */
  readonly recoverySeconds: number;
  readonly backupSeconds: number;
  readonly rows: number;
  readonly objects: number;
  /** Where the backup was restored from: the vault, or the archive (the vault emptied first). */
  readonly source: 'vault' | 'archive';
  /** PostgreSQL tables and rows compared (every row of every table). */
  readonly postgresTables: number;
  readonly postgresRows: number;
  readonly files: number;
  readonly differences: readonly SnapshotDifference[];
  /** The restore's own verification of row counts against the backup's (null: not counted). */
  readonly rowCounts: RowCountComparison | null;
  /** What the restore warned about (e.g. a replication factor above the new cluster's node count). */
  readonly warnings: readonly string[];
  /** Step Functions history events of the backup and the restore, with what each node adds (`history-scale.ts`). */
  readonly history: {
    readonly backup: { readonly total: number; readonly perNode: number };
    readonly restore: { readonly total: number; readonly perNode: number };
  };
}

const wireStack = (args: string[]) =>
  execFileSync(join(repoRoot, 'local-stack', 'bin', 'wire-stack'), args, {
    stdio: ['ignore', 'inherit', 'inherit'],
  });

/** Deletes a bucket with every object in it (the drill's disaster; tests' clean-up). */
export async function deleteBucketAndObjects(s3: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key }));
    if (keys.length === 0) break;
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}

/**
 * The disaster-recovery drill the manual procedure asks for, as a feature: seed Wire-shaped data,
 * back it up, destroy everything (Cassandra wiped and replaced by a fresh cluster, the MinIO bucket
 * deleted, the wire-server folder deleted), restore into the fresh instances, and compare every row
 * of every seeded table, every object's bytes and metadata, and every file.
 */
export async function runDrill(options: DrillOptions = {}): Promise<DrillReport> {
  const log = options.log ?? (() => {});
  const fromNodes = options.fromNodes ?? 1;
  const events = options.onEvent ? { onEvent: options.onEvent } : {};
  const toNodes = options.toNodes ?? 1;

  const running = (() => {
    try {
      const info = readStackInfo();
      return { nodes: info.cassandra.nodes.length, version: info.cassandra.version };
    } catch {
      return { nodes: 0, version: '' };
    }
  })();
  const versionArgs = (series: CassandraSeries | undefined) => (series ? ['--cassandra', series] : []);
  const otherVersion =
    options.fromVersion !== undefined && !running.version.startsWith(`${options.fromVersion}.`);
  log(
    `drill: ${fromNodes}-node cluster${options.fromVersion ? ` of Cassandra ${options.fromVersion}` : ''} with seeded Wire data`,
  );
  wireStack([
    'up',
    '--nodes',
    String(fromNodes),
    ...versionArgs(options.fromVersion),
    ...(running.nodes > 0 && (running.nodes !== fromNodes || otherVersion) ? ['--reset'] : []),
  ]);
  let stack: StackInfo = readStackInfo();
  const fromVersion = stack.cassandra.version;
  await seedWire({ stack, size: options.size ?? 'smoke', reset: true, flush: true });
  seedPostgres(stack, { conversations: 200, batch: 'drill' });
  await options.afterSeed?.(stack);
  const fromArchive = options.fromArchive ?? false;
  const before = await snapshotWire({ stack, detail: 'rows' });
  // Every row of every PostgreSQL table, as one digest per table (rows as text, sorted). The archive
  // does not keep PostgreSQL: a drill from the archive leaves it alone.
  const postgresBefore = fromArchive ? {} : postgresTableDigests(stack);

  log('drill: backup');
  const backupStarted = Date.now();
  const since = Date.now() - 1000;
  const backup = await runLocal({
    stateMachine: 'wire-backup',
    input: { trigger: 'drill' },
    stack,
    ...events,
  });
  if (backup.status !== 'SUCCEEDED')
    throw new Error(`drill: backup failed (${backup.error}): ${backup.cause}`);
  const { manifest } = backupSummarySchema.parse(backup.output);
  const backupSeconds = (Date.now() - backupStarted) / 1000;
  if (fromArchive) await archiveBackup(stack, manifest.backupId, since, log, events);
  if (options.restoreOlder) {
    log('drill: changing the data and backing up again; the first backup is the one restored');
    await mutateWire({ stack, round: 1 });
    seedPostgres(stack, { conversations: 20, batch: `drill-newer-${Date.now()}` });
    const newer = await runLocal({
      stateMachine: 'wire-backup',
      input: { trigger: 'drill' },
      stack,
      ...events,
    });
    if (newer.status !== 'SUCCEEDED')
      throw new Error(`drill: second backup failed (${newer.error}): ${newer.cause}`);
  }

  log('drill: disaster — Cassandra wiped (fresh cluster), MinIO bucket deleted, wire-server folder deleted');
  wireStack([
    'up',
    '--nodes',
    String(toNodes),
    ...versionArgs(options.toVersion ?? options.fromVersion),
    '--reset',
  ]);
  stack = readStackInfo();
  const toVersion = stack.cassandra.version;
  const source = createSourceS3Client(stack);
  try {
    await deleteBucketAndObjects(source, 'assets');
  } finally {
    source.destroy();
  }
  rmSync(stack.deployHost.wireServerPath, { recursive: true, force: true });
  if (fromArchive) {
    log('drill: disaster — the primary vault is gone too (every object version in it deleted)');
    await emptyBucket(stack, stack.vault.bucket);
  } else destroyPostgres(stack);

  log(
    `drill: restore of ${manifest.backupId} from the ${fromArchive ? 'archive' : 'vault'} into the fresh instances`,
  );
  const restoreStarted = Date.now();
  const restore = await runLocal({
    stateMachine: 'wire-restore',
    input: {
      backupId: manifest.backupId,
      confirm: manifest.backupId,
      ...(fromArchive
        ? {
            source: 'archive',
            components: componentNames.filter((c) => c !== 'postgresql' && manifest.components[c]),
          }
        : {}),
      ...(options.mode ? { targets: { cassandra: { mode: options.mode } } } : {}),
    },
    stack,
    config: fromArchive ? archiveConfig(stack) : localConfig(stack),
    ...events,
  });
  if (restore.status !== 'SUCCEEDED')
    throw new Error(`drill: restore failed (${restore.error}): ${restore.cause}`);
  const recoverySeconds = (Date.now() - restoreStarted) / 1000;
  const report = restoreReportSchema.parse(restore.output);
  const backupHistory = historyScale(backup, localConfig(stack), 'wire-backup', fromNodes);
  const restoreHistory = historyScale(restore, localConfig(stack), 'wire-restore', toNodes);

  log('drill: comparing every row, object and file with the state before the disaster');
  // The restored schema keeps the backup's replication factor (3 for three nodes), which a smaller
  // fresh cluster cannot meet at QUORUM; every restored row is on every target node, so ONE reads all.
  const after = await snapshotWire({ stack, detail: 'rows', consistency: 'one' });
  const postgresAfter = fromArchive ? {} : postgresTableDigests(stack);
  const differences = [...diffSnapshots(before, after), ...diffPostgres(postgresBefore, postgresAfter)];
  if (differences.length > 0) log(formatDifferences(differences));
  // The restored primary is on a new timeline: clone the standby from it again, as an operator does
  // after a disaster (repmgr standby clone; here wire-stack up, which clones a missing standby).
  log('drill: cloning the PostgreSQL standby from the restored primary');
  wireStack(['up', '--nodes', String(toNodes), ...versionArgs(options.toVersion ?? options.fromVersion)]);
  return {
    backupId: manifest.backupId,
    restoreId: report.restoreId,
    fromNodes,
    toNodes,
    fromVersion,
    toVersion,
    loaders: restoreLoaders(report),
    recoverySeconds,
    backupSeconds,
    rows: (before.cassandra?.keyspaces ?? []).reduce(
      (n, k) => n + k.tables.reduce((m, t) => m + t.rowCount, 0),
      0,
    ),
    objects: (before.minio?.buckets ?? []).reduce((n, b) => n + b.objectCount, 0),
    source: fromArchive ? 'archive' : 'vault',
    postgresTables: Object.keys(postgresBefore).length,
    postgresRows: Object.values(postgresBefore).reduce((n, d) => n + Number(d.split(':')[0]), 0),
    files: before.wireServer?.fileCount ?? 0,
    differences,
    rowCounts: restoreRowCounts(report),
    warnings: restoreWarnings(report),
    history: {
      backup: { total: backupHistory.total, perNode: backupHistory.perNode },
      restore: { total: restoreHistory.total, perNode: restoreHistory.perNode },
    },
  };
}

/**
 * The local configuration with the archive: the vault server's second bucket (in AWS, another region),
 * so the stack synthesizes the archive state machine and grants the restore read access to it.
 */
export function archiveConfig(stack: StackInfo): WireBackupConfig {
  return {
    ...localConfig(stack),
    archive: { region: stack.vault.region, storageClass: 'STANDARD', bucketName: stack.vault.archiveBucket },
  };
}

/**
 * Archives one backup as the deployed stack does: its "Backup Completed" event (recorded since `since`)
 * delivered to the archive state machine; throws unless the archive copy succeeded.
 */
export async function archiveBackup(
  stack: StackInfo,
  backupId: string,
  since: number,
  log: (line: string) => void,
  events: { readonly onEvent?: RunnerEventListener } = {},
): Promise<void> {
  log(`drill: archive copy of ${backupId} (into ${stack.vault.archiveBucket})`);
  const entries = readRecordedEvents(stack, since).filter((e) => {
    if (e.DetailType !== 'Backup Completed') return false;
    const detail = typeof e.Detail === 'string' ? (JSON.parse(e.Detail) as unknown) : e.Detail;
    return z.looseObject({ backupId: z.string() }).safeParse(detail).data?.backupId === backupId;
  });
  if (entries.length !== 1)
    throw new Error(`drill: found ${entries.length} "Backup Completed" events of ${backupId}, expected 1`);
  const deliveries = await deliverEvents({ stack, config: archiveConfig(stack), entries, ...events });
  const archived = deliveries.find((d) => d.stateMachine === 'wire-archive');
  if (archived?.result.status !== 'SUCCEEDED')
    throw new Error(
      `drill: the archive copy of ${backupId} did not succeed (${archived ? `${archived.result.error}: ${archived.result.cause}` : 'no archive state machine matched the event'})`,
    );
}

/** Deletes every object version and delete marker in `bucket` (the drill's loss of the primary vault). */
async function emptyBucket(stack: StackInfo, bucket: string): Promise<void> {
  const s3 = createStackS3Client(stack.vault);
  try {
    for (;;) {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, MaxKeys: 1000 }));
      const versions = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({
        Key: v.Key,
        VersionId: v.VersionId,
      }));
      if (versions.length === 0) return;
      const out = await s3.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: versions, Quiet: true } }),
      );
      const [refused] = out.Errors ?? [];
      if (refused)
        throw new Error(
          `drill: cannot delete ${refused.Key} version ${refused.VersionId} from ${bucket} (${refused.Code}: ${refused.Message})`,
        );
    }
  } finally {
    s3.destroy();
  }
}

/**
 * The PostgreSQL disaster: both servers stopped and their data directories deleted (the restore goes
 * into the primary's, empty).
 */
export function destroyPostgres(stack: StackInfo): void {
  const pg = stack.postgresql;
  for (const server of [pg.standby, pg.primary]) {
    execFileSync(
      'runuser',
      ['-u', pg.osUser, '--', join(pg.binDir, 'pg_ctl'), '-D', server.dataDir, '-m', 'immediate', 'stop'],
      {
        stdio: 'ignore',
      },
    );
    rmSync(server.dataDir, { recursive: true, force: true });
  }
}

/** Tables whose rows differ (count and digest of every row) between before the disaster and after. */
function diffPostgres(
  before: Readonly<Record<string, string>>,
  after: Readonly<Record<string, string>>,
): SnapshotDifference[] {
  const tables = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return tables
    .filter((t) => before[t] !== after[t])
    .map(
      (t): SnapshotDifference => ({
        area: 'postgresql',
        target: t,
        change: before[t] === undefined ? 'added' : after[t] === undefined ? 'removed' : 'changed',
        // Counts and digests only: no row data in a log.
        message: `rows (count:md5 of every row) before ${before[t] ?? 'absent'}, after ${after[t] ?? 'absent'}`,
      }),
    );
}

/** How the restore loaded each node's SSTables, as its scripts reported (`import`, `refresh`, `load`). */
function restoreLoaders(report: RestoreReport): string[] {
  const cassandra = report.results?.cassandra;
  if (!cassandra || isSkipped(cassandra)) return [];
  return cassandra.nodes.map((node) => {
    const loaded = z.looseObject({ loaded: z.looseObject({ mode: z.string() }) }).safeParse(node);
    return loaded.success ? loaded.data.loaded.mode : 'unknown';
  });
}

/**
 * The SSM command documents wire-backup runs on the operator's hosts: each is one script in
 * `host-scripts/` and a set of parameters, every one validated by `allowedPattern` and handed to the
 * script as an environment variable (`interpolationType: ENV_VAR` → `SSM_<name>`), never spliced
 * into shell text. Every parameter names its rule in `functions/core/contract/rules.ts`.
 */

import { type Rule, rules } from '../functions/core/contract/rules.js';

/** One document parameter. */
export interface HostDocumentParameter {
  readonly description: string;
  /**
   * The validation rule: its pattern becomes the parameter's `allowedPattern`, and the script checks
   * the parameter against the same rule (`check_rule <parameter> "$value" <RULE_NAME>`).
   */
  readonly rule: Rule;
  /** Absent = required. */
  readonly default?: string;
}

/** One SSM command document. */
export interface HostDocumentSpec {
  /** Document name in SSM (also how the local runner finds it). */
  readonly name: string;
  /** Script under `host-scripts/`. */
  readonly script: string;
  readonly description: string;
  /** Script timeout on the host, seconds. */
  readonly timeoutSeconds: number;
  readonly parameters: Readonly<Record<string, HostDocumentParameter>>;
}

const backupId = {
  description: 'Backup id (UTC timestamp), also the snapshot tag',
  rule: rules.backupId,
};
const vaultBucket = { description: 'Vault bucket the host uploads to', rule: rules.bucketName };
const dataDir = {
  description: 'Cassandra data directory on the host',
  rule: rules.absolutePath,
  default: '/mnt/cassandra/data',
};

const pgSecretName = {
  description: 'Secrets Manager secret of the PostgreSQL backup role ({"username","password"})',
  rule: rules.secretName,
};
const pgDatabase = { description: 'Wire’s database', rule: rules.databaseName, default: 'wire-server' };

/** Every document, by role. */
export const hostDocuments = {
  preflight: {
    name: 'WireBackup-Preflight',
    script: 'preflight.sh',
    description: 'wire-backup: check a host has the tools, data and vault access a backup needs',
    timeoutSeconds: 120,
    parameters: {
      role: { description: 'cassandra or wireServer', rule: rules.role },
      dataDir,
      wireServerPath: {
        description: 'wire-server folder (wireServer role)',
        rule: rules.absolutePath,
        default: '/',
      },
      vaultBucket,
    },
  },
  cassandraSnapshot: {
    name: 'WireBackup-CassandraSnapshot',
    script: 'cassandra-snapshot.sh',
    description: 'wire-backup: snapshot Cassandra keyspaces and upload new SSTable files to the vault',
    timeoutSeconds: 6 * 3600,
    parameters: {
      backupId,
      keyspaces: {
        description: 'Comma-separated keyspaces; empty = all non-system',
        rule: rules.keyspaceList,
        default: '',
      },
      dataDir,
      vaultBucket,
      clusterName: { description: 'Cluster name in vault paths', rule: rules.clusterName },
      instanceId: { description: 'This host’s managed instance id', rule: rules.instanceId },
      previousFilesKey: {
        description: 'Vault key of the previous files.tsv of this node; empty = upload all',
        rule: rules.optionalVaultKey,
        default: '',
      },
      previousHostId: {
        description:
          'Host id the node had in the previous backup; another id means a replaced node: upload all',
        rule: rules.optionalHostId,
        default: '',
      },
      sstablePrefix: {
        description:
          'Vault folder of the cluster’s SSTables; the host writes below <sstablePrefix><its host id>/',
        rule: rules.vaultPrefix,
      },
      inventoryKey: { description: 'Vault key of this node’s snapshot inventory', rule: rules.vaultKey },
      nodeInfoKey: {
        description: 'Vault key of this node’s facts (host id, tokens, version)',
        rule: rules.vaultKey,
      },
      schemaKey: { description: 'Vault key of the schema (with captureSchema)', rule: rules.vaultKey },
      rowCountsKey: { description: 'Vault key of the row counts (with countRows)', rule: rules.vaultKey },
      captureSchema: {
        description: 'Record DESCRIBE SCHEMA',
        rule: rules.boolean,
        default: 'false',
      },
      countRows: {
        description: 'With captureSchema: record every table’s row count (SELECT COUNT(*), a full scan)',
        rule: rules.boolean,
        default: 'false',
      },
      uploadMaxBandwidthMBps: {
        description: 'Most MB/s the upload of new files may use (AWS CLI s3.max_bandwidth); 0 = no limit',
        rule: rules.bandwidthMBps,
        default: '50',
      },
    },
  },
  cassandraClearSnapshot: {
    name: 'WireBackup-CassandraClearSnapshot',
    script: 'cassandra-clearsnapshot.sh',
    description: 'wire-backup: remove the snapshot and staging files of one backup',
    timeoutSeconds: 600,
    parameters: { backupId, dataDir },
  },
  wireServerArchive: {
    name: 'WireBackup-WireServerArchive',
    script: 'wire-server-archive.sh',
    description: 'wire-backup: stream tar | gzip of the wire-server folder to the vault',
    timeoutSeconds: 3600,
    parameters: {
      wireServerPath: { description: 'wire-server folder', rule: rules.absolutePath },
      vaultBucket,
      archiveKey: { description: 'Vault key of the archive', rule: rules.vaultKey },
      kmsKeyArn: {
        description:
          'KMS key of the archive (the archive key, which only the restore path and Verify wire-server Archive may decrypt)',
        rule: rules.kmsKeyArn,
      },
      compressionLevel: {
        description: 'gzip level 1-9',
        rule: rules.compressionLevel,
        default: '6',
      },
    },
  },
  restoreWireServer: {
    name: 'WireBackup-RestoreWireServer',
    script: 'restore-wire-server.sh',
    description:
      'wire-backup: restore the wire-server folder from its archive (exact version, SHA-256 checked; the current folder is kept aside)',
    timeoutSeconds: 3600,
    parameters: {
      vaultBucket: {
        description:
          'Bucket the host downloads from (the vault, or the archive bucket with readFrom archive)',
        rule: rules.bucketName,
      },
      archiveKey: { description: 'Key of the archive in that bucket', rule: rules.vaultKey },
      versionId: {
        description:
          'Vault version id of the archive (null for an unversioned object; unused with readFrom archive)',
        rule: rules.versionId,
      },
      readFrom: {
        description:
          'vault (the exact version) or archive (the archive bucket’s content-addressed copy, checked by its SHA-256)',
        rule: rules.backupSource,
        default: 'vault',
      },
      sha256: {
        description: 'SHA-256 of the archive, as the backup recorded it',
        rule: rules.sha256,
      },
      targetPath: {
        description:
          'Folder to restore into (no system folder); an existing one is moved to <path>.before-restore-<UTC time>',
        rule: rules.restoreTargetPath,
      },
      overwrite: {
        description: 'Replace a non-empty targetPath (else refuse)',
        rule: rules.boolean,
        default: 'false',
      },
      restoreOwnership: {
        description: 'Give files the owners the archive records (else the restoring user owns them)',
        rule: rules.boolean,
        default: 'false',
      },
      dryRun: {
        description: 'Download and check only; change nothing',
        rule: rules.boolean,
        default: 'false',
      },
    },
  },
  restoreCassandraSchema: {
    name: 'WireBackup-RestoreCassandraSchema',
    script: 'restore-cassandra-schema.sh',
    description: 'wire-backup: apply the backed-up schema of Cassandra keyspaces (CREATE … IF NOT EXISTS)',
    timeoutSeconds: 1800,
    parameters: {
      vaultBucket: {
        description: 'Bucket the host downloads from (the vault, or the archive bucket)',
        rule: rules.bucketName,
      },
      schemaKey: { description: 'Key of the backup’s schema.cql in that bucket', rule: rules.vaultKey },
      keyspaces: {
        description: 'Comma-separated keyspaces; empty = every non-system keyspace in schema.cql',
        rule: rules.keyspaceList,
        default: '',
      },
      overwrite: {
        description: 'Proceed when a keyspace already holds rows (existing tables are left as they are)',
        rule: rules.boolean,
        default: 'false',
      },
      dryRun: {
        description: 'Download and check only; change nothing',
        rule: rules.boolean,
        default: 'false',
      },
    },
  },
  restoreCassandraNode: {
    name: 'WireBackup-RestoreCassandraNode',
    script: 'restore-cassandra-node.sh',
    description:
      'wire-backup: download one backed-up node’s SSTables (exact versions, SHA-256 checked) and load them (nodetool import or sstableloader)',
    timeoutSeconds: 12 * 3600,
    parameters: {
      vaultBucket: {
        description:
          'Bucket the host downloads from (the vault, or the archive bucket with readFrom archive)',
        rule: rules.bucketName,
      },
      sourceHostId: { description: 'Host id of the backed-up node', rule: rules.hostId },
      sstablePrefix: {
        description:
          'Folder of the backed-up node’s SSTables (readFrom archive: of the content-addressed objects, <sha256[0:2]>/<sha256> below it)',
        rule: rules.vaultPrefix,
      },
      filesKey: {
        description: 'Key of the backed-up node’s files.tsv in that bucket',
        rule: rules.vaultKey,
      },
      readFrom: {
        description:
          'vault (exact versions below sstablePrefix) or archive (each file at its content address below sstablePrefix)',
        rule: rules.backupSource,
        default: 'vault',
      },
      keyspaces: {
        description: 'Comma-separated keyspaces; empty = every non-system keyspace in files.tsv',
        rule: rules.keyspaceList,
        default: '',
      },
      mode: {
        description:
          'import (same topology: nodetool import, or refresh on Cassandra < 4.0), refresh (forced), or load (sstableloader: any topology)',
        rule: rules.restoreMode,
        default: 'import',
      },
      loadTargets: {
        description: 'Comma-separated node addresses for sstableloader -d (mode load)',
        rule: rules.addressList,
        default: '',
      },
      stagingDir: {
        description: 'Folder for the downloaded files (a run folder inside is removed at the end)',
        rule: rules.absolutePath,
        default: '/var/tmp/wire-backup-restore',
      },
      dataDir: {
        description:
          'Cassandra data directory of this node (mode refresh places the files in its table folders)',
        rule: rules.absolutePath,
        default: '/mnt/cassandra/data',
      },
      dryRun: {
        description: 'Download and verify every file only; load nothing',
        rule: rules.boolean,
        default: 'false',
      },
    },
  },
  cassandraCountRows: {
    name: 'WireBackup-CassandraCountRows',
    script: 'cassandra-count-rows.sh',
    description:
      'wire-backup: count the rows of the tables a backup counted (read only), for a restore’s verification',
    timeoutSeconds: 6 * 3600,
    parameters: {
      vaultBucket: { description: 'Vault bucket the counts are written to', rule: rules.bucketName },
      countsKey: {
        description: 'Key of the backup’s row-counts.tsv (the tables to count) in countsBucket',
        rule: rules.vaultKey,
      },
      countsBucket: {
        description:
          'Bucket holding countsKey: empty = vaultBucket; the archive bucket on a restore from the archive',
        rule: rules.optionalBucketName,
        default: '',
      },
      keyspaces: {
        description: 'Comma-separated keyspaces; empty = every keyspace the backup counted',
        rule: rules.keyspaceList,
        default: '',
      },
      outputKey: { description: 'Vault key to write the counts to', rule: rules.vaultKey },
      consistency: {
        description: 'Consistency level of the counts',
        rule: rules.consistency,
        default: 'ONE',
      },
    },
  },
  // --- PostgreSQL -------------------------------------------------------------------------------
  postgresqlPreflight: {
    name: 'WireBackup-PostgresqlPreflight',
    script: 'postgresql-preflight.sh',
    description:
      'wire-backup: on the PostgreSQL primary, refuse a backup without working WAL archiving and pick the server the base backup is read from (a streaming standby, else the primary)',
    timeoutSeconds: 120,
    parameters: {
      secretName: pgSecretName,
      database: pgDatabase,
      primary: {
        description: 'The primary as name=instanceId@host:port:dataDir',
        rule: rules.postgresqlServer,
      },
      standbys: {
        description: 'The standbys as name=instanceId@host:port:dataDir, comma-separated; empty for none',
        rule: rules.postgresqlServerList,
        default: '',
      },
      maxLagBytes: {
        description: 'A standby whose replay lags more bytes than this is not used (and is named)',
        rule: rules.count,
        default: '16777216',
      },
    },
  },
  postgresqlBackup: {
    name: 'WireBackup-PostgresqlBackup',
    script: 'postgresql-backup.sh',
    description:
      'wire-backup: non-exclusive PostgreSQL base backup streamed (tar | gzip) into the vault with its SHA-256, backup_label and row counts; waits for the WAL up to its end',
    timeoutSeconds: 6 * 3600,
    parameters: {
      backupId,
      vaultBucket,
      baseKey: { description: 'Vault key of the base backup (tar.gz)', rule: rules.vaultKey },
      labelKey: { description: 'Vault key of backup_label', rule: rules.vaultKey },
      rowCountsKey: { description: 'Vault key of the row counts', rule: rules.vaultKey },
      walPrefix: { description: 'Vault folder of the cluster’s archived WAL', rule: rules.vaultPrefix },
      secretName: pgSecretName,
      database: pgDatabase,
      host: { description: 'Address of the server read from', rule: rules.hostName },
      port: { description: 'Port of the server read from', rule: rules.port },
      dataDir: { description: 'Data directory of the server read from', rule: rules.absolutePath },
      primaryHost: { description: 'Address of the primary (switches WAL)', rule: rules.hostName },
      primaryPort: { description: 'Port of the primary', rule: rules.port },
      walWaitSeconds: {
        description: 'How long to wait for the WAL up to the end of the backup to reach the vault',
        rule: rules.count,
        default: '300',
      },
    },
  },
  postgresqlRestore: {
    name: 'WireBackup-PostgresqlRestore',
    script: 'postgresql-restore.sh',
    description:
      'wire-backup: restore PostgreSQL from a base backup and the archived WAL, to its end or a target time (checked before anything is written); verify row counts',
    timeoutSeconds: 12 * 3600,
    parameters: {
      restoreId: { description: 'Restore id', rule: rules.restoreId },
      vaultBucket: { description: 'Vault bucket the host downloads from', rule: rules.bucketName },
      baseKey: { description: 'Vault key of the base backup', rule: rules.vaultKey },
      baseSha256: {
        description: 'SHA-256 of the base backup, as the backup recorded it',
        rule: rules.sha256,
      },
      labelKey: { description: 'Vault key of backup_label', rule: rules.vaultKey },
      rowCountsKey: { description: 'Vault key of the backup’s row counts', rule: rules.vaultKey },
      walPrefix: { description: 'Vault folder of the cluster’s archived WAL', rule: rules.vaultPrefix },
      timeline: { description: 'Timeline of the base backup', rule: rules.timeline },
      startWalFile: { description: 'WAL file where the base backup starts', rule: rules.walFileName },
      countsLsn: { description: 'LSN of the end of the backup (its row counts)', rule: rules.lsn },
      stopTime: { description: 'When the base backup ended (UTC)', rule: rules.utcTime },
      targetTime: {
        description: 'Recover to this time (UTC); empty = to the end of the backup',
        rule: rules.optionalUtcTime,
        default: '',
      },
      dataDir: { description: 'Data directory to restore into', rule: rules.absolutePath },
      port: { description: 'Port the restored server listens on', rule: rules.port },
      socketDir: { description: 'Unix socket directory of the restored server', rule: rules.absolutePath },
      osUser: { description: 'OS user PostgreSQL runs as', rule: rules.osUser, default: 'postgres' },
      binDir: { description: 'Directory of pg_ctl and postgres', rule: rules.absolutePath },
      overwrite: {
        description: 'Replace a non-empty data directory (kept aside as <dataDir>.before-restore-<id>)',
        rule: rules.boolean,
        default: 'false',
      },
      archive: {
        description:
          'Keep WAL archiving on in the restored server (it becomes the cluster’s primary); false for a server beside the cluster',
        rule: rules.boolean,
        default: 'false',
      },
      checkOnly: {
        description: 'Check the archive and the target only; change nothing',
        rule: rules.boolean,
        default: 'false',
      },
      verifyRowCounts: {
        description: 'fail: a table whose count differs from the backup’s fails the restore; report; off',
        rule: rules.verifyMode,
        default: 'fail',
      },
    },
  },
} as const satisfies Record<string, HostDocumentSpec>;

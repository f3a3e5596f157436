/**
 * The SSM command documents wire-backup runs on the operator's hosts: each is one script in
 * `host-scripts/` and a set of parameters, every one validated by `allowedPattern` and handed to the
 * script as an environment variable (`interpolationType: ENV_VAR` → `SSM_<name>`), never spliced
 * into shell text.
 */

/** One document parameter. */
export interface HostDocumentParameter {
  readonly description: string;
  readonly allowedPattern: string;
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

/** Regular expressions shared by documents and the Lambdas that fill their parameters. */
export const patterns = {
  backupId: '^[0-9]{8}T[0-9]{6}Z$',
  bucket: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$',
  vaultKey: "^([A-Za-z0-9!_.*'()=-]+/)*[A-Za-z0-9!_.*'()=-]+$",
  optionalVaultKey: "^(([A-Za-z0-9!_.*'()=-]+/)*[A-Za-z0-9!_.*'()=-]+)?$",
  absolutePath: '^/[A-Za-z0-9._/-]*$',
  keyspaceList: '^([A-Za-z][A-Za-z0-9_]{0,47})?(,[A-Za-z][A-Za-z0-9_]{0,47})*$',
  clusterName: '^[A-Za-z0-9._-]{1,64}$',
  instanceId: '^(i|mi)-[0-9a-f]{8,17}$',
  boolean: '^(true|false)$',
  compressionLevel: '^[1-9]$',
  role: '^(cassandra|wireServer)$',
  hostId: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
  optionalHostId: '^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$',
  /**
   * An S3 version id: opaque, URL-ready, up to 1024 bytes (AWS documents one holding `+`); `null` is the
   * version of an object written before versioning was on.
   */
  versionId: '^[A-Za-z0-9._+/=-]{1,1024}$',
  sha256: '^[0-9a-f]{64}$',
  addressList: '^[0-9a-fA-F.:,]*$',
  restoreMode: '^(import|refresh|load)$',
  consistency: '^(ONE|QUORUM|LOCAL_QUORUM|ALL)$',
} as const;

const backupId = {
  description: 'Backup id (UTC timestamp), also the snapshot tag',
  allowedPattern: patterns.backupId,
};
const vaultBucket = { description: 'Vault bucket the host uploads to', allowedPattern: patterns.bucket };
const dataDir = {
  description: 'Cassandra data directory on the host',
  allowedPattern: patterns.absolutePath,
  default: '/mnt/cassandra/data',
};

/** Every document, by role. */
export const hostDocuments = {
  preflight: {
    name: 'WireBackup-Preflight',
    script: 'preflight.sh',
    description: 'wire-backup: check a host has the tools, data and vault access a backup needs',
    timeoutSeconds: 120,
    parameters: {
      role: { description: 'cassandra or wireServer', allowedPattern: patterns.role },
      dataDir,
      wireServerPath: {
        description: 'wire-server folder (wireServer role)',
        allowedPattern: patterns.absolutePath,
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
        allowedPattern: patterns.keyspaceList,
        default: '',
      },
      dataDir,
      vaultBucket,
      clusterName: { description: 'Cluster name in vault paths', allowedPattern: patterns.clusterName },
      instanceId: { description: 'This host’s managed instance id', allowedPattern: patterns.instanceId },
      previousFilesKey: {
        description: 'Vault key of the previous files.tsv of this node; empty = upload all',
        allowedPattern: patterns.optionalVaultKey,
        default: '',
      },
      previousHostId: {
        description:
          'Host id the node had in the previous backup; another id means a replaced node: upload all',
        allowedPattern: patterns.optionalHostId,
        default: '',
      },
      captureSchema: {
        description: 'Record DESCRIBE SCHEMA',
        allowedPattern: patterns.boolean,
        default: 'false',
      },
      countRows: {
        description: 'With captureSchema: record every table’s row count (SELECT COUNT(*), a full scan)',
        allowedPattern: patterns.boolean,
        default: 'false',
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
      wireServerPath: { description: 'wire-server folder', allowedPattern: patterns.absolutePath },
      vaultBucket,
      archiveKey: { description: 'Vault key of the archive', allowedPattern: patterns.vaultKey },
      compressionLevel: {
        description: 'gzip level 1-9',
        allowedPattern: patterns.compressionLevel,
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
      vaultBucket: { description: 'Vault bucket the host downloads from', allowedPattern: patterns.bucket },
      archiveKey: { description: 'Vault key of the archive', allowedPattern: patterns.vaultKey },
      versionId: {
        description: 'Vault version id of the archive (null for an unversioned object)',
        allowedPattern: patterns.versionId,
      },
      sha256: {
        description: 'SHA-256 of the archive, as the backup recorded it',
        allowedPattern: patterns.sha256,
      },
      targetPath: {
        description: 'Folder to restore into; an existing one is moved to <path>.before-restore-<UTC time>',
        allowedPattern: patterns.absolutePath,
      },
      overwrite: {
        description: 'Replace a non-empty targetPath (else refuse)',
        allowedPattern: patterns.boolean,
        default: 'false',
      },
      dryRun: {
        description: 'Download and check only; change nothing',
        allowedPattern: patterns.boolean,
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
      vaultBucket: { description: 'Vault bucket the host downloads from', allowedPattern: patterns.bucket },
      schemaKey: { description: 'Vault key of the backup’s schema.cql', allowedPattern: patterns.vaultKey },
      keyspaces: {
        description: 'Comma-separated keyspaces; empty = every non-system keyspace in schema.cql',
        allowedPattern: patterns.keyspaceList,
        default: '',
      },
      overwrite: {
        description: 'Proceed when a keyspace already holds rows (existing tables are left as they are)',
        allowedPattern: patterns.boolean,
        default: 'false',
      },
      dryRun: {
        description: 'Download and check only; change nothing',
        allowedPattern: patterns.boolean,
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
      vaultBucket: { description: 'Vault bucket the host downloads from', allowedPattern: patterns.bucket },
      clusterName: { description: 'Cluster name in vault paths', allowedPattern: patterns.clusterName },
      sourceHostId: { description: 'Host id of the backed-up node', allowedPattern: patterns.hostId },
      filesKey: {
        description: 'Vault key of the backed-up node’s files.tsv',
        allowedPattern: patterns.vaultKey,
      },
      keyspaces: {
        description: 'Comma-separated keyspaces; empty = every non-system keyspace in files.tsv',
        allowedPattern: patterns.keyspaceList,
        default: '',
      },
      mode: {
        description:
          'import (same topology: nodetool import, or refresh on Cassandra < 4.0), refresh (forced), or load (sstableloader: any topology)',
        allowedPattern: patterns.restoreMode,
        default: 'import',
      },
      loadTargets: {
        description: 'Comma-separated node addresses for sstableloader -d (mode load)',
        allowedPattern: patterns.addressList,
        default: '',
      },
      stagingDir: {
        description: 'Folder for the downloaded files (a run folder inside is removed at the end)',
        allowedPattern: patterns.absolutePath,
        default: '/var/tmp/wire-backup-restore',
      },
      dataDir: {
        description:
          'Cassandra data directory of this node (mode refresh places the files in its table folders)',
        allowedPattern: patterns.absolutePath,
        default: '/mnt/cassandra/data',
      },
      dryRun: {
        description: 'Download and verify every file only; load nothing',
        allowedPattern: patterns.boolean,
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
      vaultBucket: { description: 'Vault bucket holding the counts', allowedPattern: patterns.bucket },
      countsKey: {
        description: 'Vault key of the backup’s row-counts.tsv (the tables to count)',
        allowedPattern: patterns.vaultKey,
      },
      keyspaces: {
        description: 'Comma-separated keyspaces; empty = every keyspace the backup counted',
        allowedPattern: patterns.keyspaceList,
        default: '',
      },
      outputKey: { description: 'Vault key to write the counts to', allowedPattern: patterns.vaultKey },
      consistency: {
        description: 'Consistency level of the counts',
        allowedPattern: patterns.consistency,
        default: 'ONE',
      },
    },
  },
} as const satisfies Record<string, HostDocumentSpec>;

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
      captureSchema: {
        description: 'Record DESCRIBE SCHEMA',
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
} as const satisfies Record<string, HostDocumentSpec>;

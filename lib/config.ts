import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** SSM managed instance (`mi-…`) or EC2 instance (`i-…`) id. */
const instanceId = z
  .string()
  .regex(
    /^(i|mi)-[0-9a-f]{8,17}$/,
    'must be an SSM managed instance id like mi-0123456789abcdef0 or i-0123abcd',
  );
/** An absolute POSIX path without `..` segments or shell metacharacters. */
const absolutePath = z
  .string()
  .regex(/^\/[A-Za-z0-9._/-]*$/, 'must be an absolute path of letters, digits, . _ / - only')
  .refine((p) => !p.split('/').includes('..'), 'must not contain a .. segment');
/** A CQL keyspace name as Cassandra accepts it. */
export const keyspaceName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]{0,47}$/, 'must be a Cassandra keyspace name (letters, digits, _; 48 max)');
/** An S3/MinIO bucket name. */
export const bucketName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name (3-63 of a-z 0-9 . -)');
/** Cassandra system keyspaces, never backed up. */
export const systemKeyspaces = [
  'system',
  'system_auth',
  'system_distributed',
  'system_schema',
  'system_traces',
  'system_views',
  'system_virtual_schema',
] as const;

/** One Cassandra node of the Wire installation. */
const cassandraNode = z.object({
  /** SSM managed instance id of the host running this node. */
  instanceId,
  /** Short name used in reports and vault paths' companions (e.g. "cassandra1"). */
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be a short host name (letters, digits, . _ -)'),
  /** Data directory of this node when it differs from `cassandra.dataDir`. */
  dataDir: absolutePath.optional(),
  /** Address the cluster knows the node by (restores with sstableloader stream to it). */
  address: z
    .string()
    .regex(/^[0-9a-fA-F.:]{2,45}$/, 'must be an IPv4 or IPv6 address')
    .optional(),
});

/** The whole wire-backup configuration, validated at synth time and by the CLI. */
export const wireBackupConfigSchema = z
  .object({
    /** Logical name of this Wire installation; prefixes vault paths of Cassandra files. */
    clusterName: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 of letters, digits, . _ -'),
    cassandra: z.object({
      nodes: z.array(cassandraNode).min(1, 'list at least one Cassandra node'),
      /** Data directory on every node (Wire's Ansible: /mnt/cassandra/data). */
      dataDir: absolutePath.default('/mnt/cassandra/data'),
      /** Keyspaces to back up; empty means every non-system keyspace. */
      keyspaces: z
        .array(keyspaceName)
        .default([])
        .refine(
          (ks) => ks.every((k) => !(systemKeyspaces as readonly string[]).includes(k)),
          'system keyspaces are not backed up: remove them from cassandra.keyspaces',
        ),
      /** Back up even when some nodes are not UN (the down nodes are listed in the manifest). */
      allowPartial: z.boolean().default(false),
      /**
       * Count every table's rows (SELECT COUNT(*) at QUORUM, a full scan) just before the snapshot, so
       * that a restore can compare its row counts with the backup's. Turn off for clusters whose full
       * scan takes too long; restores then skip that check.
       */
      countRows: z.boolean().default(true),
    }),
    wireServer: z.object({
      /** Deploy host holding the wire-server folder. */
      instanceId,
      /** The wire-server folder (values, secrets, inventory). */
      path: absolutePath,
      /** Entries the archive must contain, relative to the folder. */
      expectedEntries: z.array(z.string().regex(/^[A-Za-z0-9._/ -]+$/)).default(['values']),
      /** gzip level, 1 (fast) to 9 (smallest, the manual procedure's choice). */
      compressionLevel: z.number().int().min(1).max(9).default(6),
    }),
    minio: z.object({
      /** MinIO S3 endpoint as the Lambdas reach it (over the VPN / Direct Connect). */
      endpoint: z.url('must be a URL like https://minio.wire.example.com:9000'),
      region: z.string().default('us-east-1'),
      /** Secrets Manager secret holding {"accessKeyId","secretAccessKey"}; never in config. */
      secretName: z.string().regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/),
      buckets: z.array(bucketName).min(1, 'list at least one MinIO bucket (Wire: assets)'),
      /** Objects above this size are copied with multipart upload. */
      multipartThresholdBytes: z
        .number()
        .int()
        .min(5 * 1024 * 1024)
        .default(16 * 1024 * 1024),
      /** Objects per batch file (one Distributed Map child). */
      batchMaxObjects: z.number().int().min(1).max(100_000).default(1000),
      /** MinIO before 2023 may reject the SDK's default CRC checksums. */
      legacyChecksums: z.boolean().default(false),
    }),
    vault: z
      .object({
        /** Existing bucket name; by default the stack creates one. */
        bucketName: bucketName.optional(),
        /** Object Lock (compliance/governance) retention in days; off when absent. */
        objectLockDays: z.number().int().min(1).max(36500).optional(),
        retention: z
          .object({
            hourly: z.number().int().min(0).default(24),
            daily: z.number().int().min(0).default(14),
            weekly: z.number().int().min(0).default(8),
            monthly: z.number().int().min(0).default(12),
          })
          .prefault({}),
        /** Re-read and re-hash new vault objects before committing. */
        deepVerify: z.boolean().default(true),
      })
      .prefault({}),
    archive: z
      .object({
        region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region like eu-central-2'),
        storageClass: z.enum(['STANDARD_IA', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE']).default('GLACIER_IR'),
      })
      .optional(),
    /** EventBridge schedule expression for backups. */
    schedule: z
      .string()
      .regex(
        /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$/,
        'must be rate(...) or cron(...)',
      )
      .default('rate(1 hour)'),
    /** Optional email for failure notifications. */
    alarmEmail: z.email().optional(),
  })
  .strict();

/** Validated wire-backup configuration. */
export type WireBackupConfig = z.infer<typeof wireBackupConfigSchema>;
/** Configuration as written by the operator (defaults not yet applied). */
export type WireBackupConfigInput = z.input<typeof wireBackupConfigSchema>;

/** Validates a configuration; the error lists each bad field by its path and what it must be. */
export function parseConfig(raw: unknown, source = 'configuration'): WireBackupConfig {
  const result = wireBackupConfigSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source} is invalid:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** Reads and validates a JSON configuration file. */
export function loadConfigFile(file: string): WireBackupConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read configuration ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseConfig(raw, file);
}

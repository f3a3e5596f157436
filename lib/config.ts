import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { isSystemKeyspace, ruleRegExp, ruleString, rules } from '../functions/core/contract/rules.js';

/** SSM managed instance (`mi-…`) or EC2 instance (`i-…`) id. */
const instanceId = ruleString(rules.instanceId);
/** An absolute POSIX path without `..` segments or shell metacharacters. */
const absolutePath = ruleString(rules.absolutePath);
/** A CQL keyspace name as Cassandra accepts it. */
export const keyspaceName = ruleString(rules.keyspaceName);
/** An S3/MinIO bucket name. */
export const bucketName = ruleString(rules.bucketName);

/** One Cassandra node of the Wire installation. */
const cassandraNode = z.object({
  /** SSM managed instance id of the host running this node. */
  instanceId,
  /** Short name used in reports and vault paths' companions (e.g. "cassandra1"). */
  name: ruleString(rules.nodeName),
  /** Data directory of this node when it differs from `cassandra.dataDir`. */
  dataDir: absolutePath.optional(),
  /** Address the cluster knows the node by (restores with sstableloader stream to it). */
  address: ruleString(rules.address).optional(),
});

/** The whole wire-backup configuration, validated at synth time and by the CLI. */
export const wireBackupConfigSchema = z
  .object({
    /** Logical name of this Wire installation; prefixes vault paths of Cassandra files. */
    clusterName: ruleString(rules.clusterName),
    cassandra: z.object({
      nodes: z.array(cassandraNode).min(1, 'list at least one Cassandra node'),
      /** Data directory on every node (Wire's Ansible: /mnt/cassandra/data). */
      dataDir: absolutePath.default('/mnt/cassandra/data'),
      /** Keyspaces to back up; empty means every non-system keyspace. */
      keyspaces: z
        .array(keyspaceName)
        .default([])
        .refine(
          (ks) => !ks.some(isSystemKeyspace),
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
      /** The wire-server folder (values, secrets, inventory); the default restore target, so no system folder. */
      path: ruleString(rules.restoreTargetPath),
      /** Entries the archive must contain, relative to the folder. */
      expectedEntries: z.array(ruleString(rules.archiveEntry)).default(['values']),
      /** gzip level, 1 (fast) to 9 (smallest, the manual procedure's choice). */
      compressionLevel: z
        .number()
        .int()
        .refine(
          (n) => ruleRegExp(rules.compressionLevel).test(String(n)),
          `must be ${rules.compressionLevel.description}`,
        )
        .default(6),
    }),
    minio: z.object({
      /** MinIO S3 endpoint as the Lambdas reach it (over the VPN / Direct Connect). */
      endpoint: z.url('must be a URL like https://minio.wire.example.com:9000'),
      region: z.string().default('us-east-1'),
      /** Secrets Manager secret holding {"accessKeyId","secretAccessKey"}; never in config. */
      secretName: ruleString(rules.secretName),
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
        /**
         * Object Lock of every new vault object version (README, "Object Lock"): `compliance` (nobody,
         * not even the account root, deletes a version before its retention ends), `governance`
         * (principals with s3:BypassGovernanceRetention can) or `off`.
         */
        objectLockMode: z
          .enum(['compliance', 'governance', 'off'], 'must be compliance, governance or off')
          .default('compliance'),
        /** Object Lock retention of each object version, in days (1 to 3650; at most the retention's horizon). */
        objectLockDays: z
          .number('must be a number of days')
          .int('must be a whole number of days')
          .min(1, 'must be at least 1 day (set objectLockMode to off to turn Object Lock off)')
          .max(3650, 'must be at most 3650 days (10 years)')
          .default(30),
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
        /**
         * What a backup references without writing (carried MinIO objects, reused SSTables) is re-checked
         * in the vault 1/N per run, every one within N runs (docs/ARCHITECTURE.md); 1 checks all every run.
         */
        verifySampleDivisor: z.number().int().min(1).max(8760).default(720),
      })
      .prefault({})
      .superRefine((vault, ctx) => {
        // A lock longer than the oldest backup the retention keeps would stop the purge for nothing.
        const horizon = retentionHorizonDays(vault.retention);
        if (vault.objectLockMode !== 'off' && vault.objectLockDays > horizon) {
          ctx.addIssue({
            code: 'custom',
            path: ['objectLockDays'],
            message: `${vault.objectLockDays} days outlasts the oldest backup vault.retention keeps (${horizon} days): the purge could not remove expired backups until their lock ends; lower objectLockDays to ${horizon} or less, or keep more backups`,
          });
        }
      }),
    archive: z
      .object({
        region: ruleString(rules.awsRegion),
        storageClass: z.enum(['STANDARD_IA', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE']).default('GLACIER_IR'),
      })
      .optional(),
    /** EventBridge schedule expression for backups. */
    schedule: ruleString(rules.scheduleExpression).default('rate(1 hour)'),
    /** Optional email for failure notifications. */
    alarmEmail: z.email().optional(),
  })
  .strict();

/**
 * Days the grandfather-father-son retention keeps its oldest backup: the longest of its hourly (in
 * days, rounded up), daily, weekly (7 days) and monthly (31 days) horizons.
 */
export function retentionHorizonDays(retention: {
  readonly hourly: number;
  readonly daily: number;
  readonly weekly: number;
  readonly monthly: number;
}): number {
  return Math.max(
    Math.ceil(retention.hourly / 24),
    retention.daily,
    retention.weekly * 7,
    retention.monthly * 31,
  );
}

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

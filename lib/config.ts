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
/** The ARN of a KMS key of AWS (a UUID key id). */
const kmsKeyArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key\/[0-9a-f-]{36}$/,
    'must be a KMS key ARN like arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  );

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

/** One PostgreSQL server of the Wire installation (Wire: a primary and two standbys, repmgr). */
const postgresqlServer = z
  .object({
    /** Its name in reports; a standby's must be its `application_name` in the primary's pg_stat_replication. */
    name: ruleString(rules.nodeName),
    /** SSM managed instance id of the host running it. */
    instanceId,
    /** Address the host scripts connect to (on that host: usually 127.0.0.1). */
    host: ruleString(rules.hostName).default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(5432),
    /** Its data directory (Debian: /var/lib/postgresql/17/main). */
    dataDir: absolutePath.default('/var/lib/postgresql/17/main'),
    /** Its Unix socket directory (a restore starts the server with it). */
    socketDir: absolutePath.default('/var/run/postgresql'),
  })
  .strict();

/**
 * PostgreSQL (Wire 5.24+ keeps conversations there). Optional: without it the component is off, and a
 * backup or restore that names it is refused.
 */
const postgresqlConfig = z
  .object({
    primary: postgresqlServer,
    /** Streaming standbys; the base backup is taken on the first one that streams without lag. */
    standbys: z.array(postgresqlServer).default([]),
    /** Wire's database. */
    database: ruleString(rules.databaseName).default('wire-server'),
    /** Secrets Manager secret holding {"username","password"} of the backup role; never in config. */
    secretName: ruleString(rules.secretName),
    /** A standby whose replay lags more than this is not used for the base backup (and is named). */
    maxLagBytes: z
      .number()
      .int()
      .min(0)
      .default(16 * 1024 * 1024),
    /** How long the backup waits for the WAL up to its end to reach the vault (archive_timeout and more). */
    walWaitSeconds: z.number().int().min(10).max(3600).default(300),
    /** The OS user PostgreSQL runs as (a restore starts the server as this user). */
    osUser: ruleString(rules.osUser).default('postgres'),
    /** Directory of pg_ctl and postgres on the hosts (Debian: /usr/lib/postgresql/17/bin). */
    binDir: absolutePath.default('/usr/lib/postgresql/17/bin'),
  })
  .strict();

/** The whole wire-backup configuration, validated at synth time and by the CLI. */
export const wireBackupConfigSchema = z
  .object({
    /** Logical name of this Wire installation; prefixes vault paths of Cassandra files. */
    clusterName: ruleString(rules.clusterName),
    /**
     * Prefix of every fixed resource name (state machines, SSM documents, log group, configuration
     * parameter, dashboard: `lib/names.ts`), so that several installations share an account and region.
     * Unset: the names wire-backup always used (`wire-backup`, `WireBackup-Preflight`, …).
     */
    namePrefix: z
      .string()
      .regex(
        /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/,
        'must be lower-case letters, digits and single hyphens, starting with a letter (e.g. wire-prod)',
      )
      .max(24, 'must be at most 24 characters (state machine and document names get a suffix)')
      .optional(),
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
      /**
       * Most megabytes per second each node uploads its new SSTable files with (the AWS CLI's
       * `s3.max_bandwidth`), so that a first full backup or a compaction burst never takes the
       * network Wire's own traffic needs; 0 = no limit. Default 50 MB/s (400 Mbit/s): a node's
       * 100 GiB first upload takes about 35 minutes.
       */
      uploadMaxBandwidthMBps: z
        .number()
        .int()
        .refine(
          (n) => ruleRegExp(rules.bandwidthMBps).test(String(n)),
          `must be ${rules.bandwidthMBps.description}`,
        )
        .default(50),
    }),
    wireServer: z.object({
      /** Deploy host holding the wire-server folder. */
      instanceId,
      /** The wire-server folder (values, secrets, inventory); the default restore target, so no system folder. */
      path: ruleString(rules.restoreTargetPath),
      /**
       * Folders a restore may write the wire-server folder into: a restore's target path must be one of
       * them or lie below one (`restoreRootsOf`). Default: the folder that holds `path`.
       */
      restoreRoots: z.array(ruleString(rules.restoreTargetPath)).min(1).optional(),
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
      /**
       * Objects per part of a bucket's plan: a bucket whose previous manifest holds more is listed and
       * diffed by several Plan MinIO invocations at once, one per key range of about this many objects
       * (`minio-plan.ts`, "Parts"), so no invocation handles a whole large bucket. At the cost model's
       * 81 s per million objects, the default keeps a part near 80 s of a 900 s invocation.
       */
      planPartObjects: z.number().int().min(1).max(100_000_000).default(1_000_000),
      /** MinIO before 2023 may reject the SDK's default CRC checksums. */
      legacyChecksums: z.boolean().default(false),
      /**
       * PEM file (on the machine running `cdk deploy`) of the CA that issued MinIO's TLS certificate,
       * when it is a private CA: the functions that talk to MinIO trust it in addition to the public CAs.
       */
      caBundleFile: z.string().min(1).optional(),
    }),
    /**
     * Where the functions that talk to MinIO run: subnets of a VPC that reaches the on-prem network
     * (VPN, Direct Connect). Without it they run outside any VPC and reach only a public endpoint.
     */
    network: z
      .object({
        vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, 'must be a VPC id like vpc-0123456789abcdef0'),
        subnetIds: z
          .array(
            z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'must be a subnet id like subnet-0123456789abcdef0'),
          )
          .min(1, 'list at least one subnet (two in different zones for availability)'),
        /** The zone of each subnet, in the same order. */
        availabilityZones: z.array(
          z.string().regex(/^[a-z]{2}(-[a-z]+)+-[0-9][a-z]$/, 'must be a zone like eu-central-1a'),
        ),
        securityGroupIds: z
          .array(
            z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'must be a security group id like sg-0123456789abcdef0'),
          )
          .min(1, 'list at least one security group that allows HTTPS to MinIO'),
      })
      .strict()
      .refine((n) => n.availabilityZones.length === n.subnetIds.length, {
        path: ['availabilityZones'],
        message: 'give one zone per subnet, in the order of subnetIds',
      })
      .optional(),
    postgresql: postgresqlConfig.optional(),
    vault: z
      .object({
        /** Name of the vault bucket the stack creates. @default - generated by CloudFormation */
        bucketName: bucketName.optional(),
        /**
         * Use an existing bucket as the vault instead of creating one: its name and its SSE-KMS key.
         * Its owner keeps versioning, encryption, Object Lock and access logs (README, "An existing
         * bucket"); `bucketName`, `objectLockMode` and `objectLockDays` then do not apply.
         * `archiveKmsKeyArn`: the wire-server archive's own key, if its owner made it; without it the
         * stack creates the archive key (and owns its key policy).
         */
        existing: z
          .object({
            bucketName,
            kmsKeyArn,
            archiveKmsKeyArn: kmsKeyArn.optional(),
          })
          .strict()
          .optional(),
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
        /**
         * Grandfather-father-son counts (README, "Retention"): the newest backup of each of the last
         * `hourly` hours, `daily` days, `weekly` ISO weeks and `monthly` months is kept (UTC).
         */
        retention: z
          .object({
            hourly: z.number().int().min(0).default(24),
            daily: z.number().int().min(0).default(14),
            weekly: z.number().int().min(0).default(8),
            monthly: z.number().int().min(0).default(12),
            /** Failed and abandoned backups' own folders are deleted after this many days. */
            failedDays: z.number().int().min(1).max(3650).default(7),
            /**
             * Grace period: an object version no retained backup references is deleted only once it is
             * this many hours old (a backup that is still running may have just uploaded it).
             */
            graceHours: z.number().int().min(1).max(8760).default(24),
            /** EventBridge schedule expression of the purge. */
            purgeSchedule: ruleString(rules.scheduleExpression).default('rate(1 day)'),
          })
          .prefault({})
          .refine(
            (r) => r.hourly + r.daily + r.weekly + r.monthly > 0,
            'every retention count is 0, which keeps only the newest backup: set at least one of hourly, daily, weekly, monthly above 0',
          ),
        /** Re-read and re-hash new vault objects before committing. */
        deepVerify: z.boolean().default(true),
        /**
         * What a backup references without writing (carried MinIO objects, reused SSTables) is re-checked
         * in the vault 1/N per run, every one within N runs (docs/ARCHITECTURE.md); 1 checks all every run.
         */
        verifySampleDivisor: z.number().int().min(1).max(8760).default(720),
        /**
         * Scheduled deep verification (README, "Monitoring and inspection"): on `schedule`, the newest
         * complete backup's objects of one of `shares` rotating shares (the share changes every week) are
         * read and re-hashed; a mismatch fails the run, names the backups that reference the object and
         * raises the ScheduledVerifyErrorsAlarm. Weekly with 4 shares: every object within 4 weeks.
         */
        scheduledVerify: z
          .object({
            schedule: ruleString(rules.scheduleExpression).default('rate(7 days)'),
            shares: z.number().int().min(1).max(520).default(4),
          })
          .prefault({}),
      })
      .prefault({})
      .superRefine((vault, ctx) => {
        if (vault.existing && vault.bucketName) {
          ctx.addIssue({
            code: 'custom',
            path: ['bucketName'],
            message: `names the bucket the stack creates, but vault.existing uses ${vault.existing.bucketName}: remove one of them`,
          });
        }
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
    /**
     * Cross-region archive copies (README, "Archive"): every completed backup is copied into a bucket
     * in `region` (its own KMS key, deployed by the archive stack).
     */
    archive: z
      .object({
        region: ruleString(rules.awsRegion),
        /** Storage class of archived objects (STANDARD only where the server has no tiers, e.g. MinIO locally). */
        storageClass: z
          .enum(['STANDARD', 'STANDARD_IA', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE'])
          .default('GLACIER_IR'),
        /** The archive bucket; by default `wire-backup-archive-<account>-<region>`. */
        bucketName: bucketName.optional(),
      })
      .optional(),
    /** How long faults are ridden out (README, "Faults and retries"). */
    retry: z
      .object({
        /**
         * Seconds a vault or source MinIO outage (refused or cut connections, throttling, 5xx) may last
         * while a backup step is retried; a longer one fails the backup with the cause. 10 s to 1 h.
         */
        outageBudgetSeconds: z
          .number('must be a number of seconds')
          .int('must be a whole number of seconds')
          .min(10, 'must be at least 10 seconds')
          .max(3600, 'must be at most 3600 seconds (1 hour): a backup runs hourly')
          .default(300),
      })
      .prefault({}),
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

import { z } from 'zod';

/**
 * Every validation rule of wire-backup, written once. The configuration schema (`lib/config.ts`),
 * the restore input (`functions/core/restore-plan.ts`), the SSM documents' `allowedPattern`s
 * (`lib/host-documents.ts`) and the host scripts' parameter checks (a bash block generated from this
 * module at synth, see `rules-bash.ts`) all read their rules here.
 *
 * A rule's `pattern` is an anchored regular expression in the common subset of JavaScript, SSM's
 * `allowedPattern` and POSIX ERE (bash `[[ =~ ]]`): bracket expressions, groups, alternation and
 * `{m,n}`, never `\d`, `\w`, `\s`, lookarounds or non-greedy quantifiers.
 */

/** One validation rule. */
export interface Rule {
  /** The rule's name (camelCase); bash knows it as `RULE_<UPPER_SNAKE>`. */
  readonly name: string;
  /** Anchored (`^…$`) regular expression, valid as a JS RegExp, an SSM `allowedPattern` and POSIX ERE. */
  readonly pattern: string;
  /** What a valid value is, completing "must be …" / "set … to …" (e.g. `an S3 bucket name`). */
  readonly description: string;
  /** A valid value (documentation and tests). */
  readonly example: string;
  /** The value is `/`-separated and must not have a `..` segment (the pattern alone cannot say so). */
  readonly noDotDotSegment?: boolean;
  /**
   * The value is a folder to write into and must not be a system folder ({@link systemFolderOf}); no
   * regular expression of the common subset can say so, so zod and the bash check do.
   */
  readonly notSystemFolder?: boolean;
  /**
   * Longest value, in characters, for rules whose pattern does not bound it (paths, keys, lists): zod's
   * `max`, the SSM parameter's `maxChars` and the bash check all refuse a longer one. @default {@link defaultMaxLength}
   */
  readonly maxLength?: number;
}

/** The length cap of a rule without its own `maxLength` (a Linux path's PATH_MAX, 4096 with its NUL). */
export const defaultMaxLength = 4095;

/** The longest value `rule` accepts (its `maxLength`, or {@link defaultMaxLength}). */
export function maxLengthOf(rule: Rule): number {
  return rule.maxLength ?? defaultMaxLength;
}

const keyspace = '[A-Za-z][A-Za-z0-9_]{0,47}';
const address = '[0-9a-fA-F.:]{2,45}';
const hostId = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/**
 * A non-empty `/`-free segment of `chars` (a bracket expression body without `.`, or with `.`) that is
 * not `..`: it starts with another character, is `.` or `.x…`, or is `..` followed by more. Patterns of
 * `/`-separated values are built of it, so that SSM's `allowedPattern` refuses a `..` segment too.
 */
const segmentNotDotDot = (chars: string) =>
  `([${chars}][.${chars}]*|\\.([${chars}][.${chars}]*)?|\\.\\.[.${chars}]+)`;
// S3 "safe characters" for key segments; a key has no empty segment and no `..` segment.
const keySegment = segmentNotDotDot("A-Za-z0-9!_*'()=-");
const vaultKey = `(${keySegment}/)*${keySegment}`;
const pgHost = '[A-Za-z0-9][A-Za-z0-9.-]{0,252}';
const utcTime = '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,6})?Z';
// An absolute path: `/`, then segments (letters, digits, . _ -) separated by one or more `/`, no `..`.
const absolutePath = `/+(${segmentNotDotDot('A-Za-z0-9_-')}(/+${segmentNotDotDot('A-Za-z0-9_-')})*/*)?`;
const versionSegment = segmentNotDotDot('A-Za-z0-9_+=-');
// A PostgreSQL server: name=instanceId@host:port:dataDir (an absolute path without `..`).
const pgServer = `[A-Za-z0-9][A-Za-z0-9._-]{0,63}=(i|mi)-[0-9a-f]{8,17}@${pgHost}:[0-9]{1,5}:${absolutePath}`;
// A Secrets Manager name: `/`-separated segments, none of them `..`.
const secretSegment = segmentNotDotDot('A-Za-z0-9_+=@-');
/** S3's longest object key, in bytes (the vault's keys are ASCII). */
const maxKeyLength = 1024;

/** Every rule, by name. */
export const rules = {
  instanceId: {
    name: 'instanceId',
    pattern: '^(i|mi)-[0-9a-f]{8,17}$',
    description:
      'an SSM managed instance id like mi-0123456789abcdef0 (or an EC2 instance id like i-0123abcd)',
    example: 'mi-0123456789abcdef0',
  },
  backupId: {
    name: 'backupId',
    pattern: '^[0-9]{8}T[0-9]{6}Z$',
    description: 'a backup id (its UTC start time) like 20261126T061500Z',
    example: '20261126T061500Z',
  },
  keyspaceName: {
    name: 'keyspaceName',
    pattern: `^${keyspace}$`,
    description: 'a Cassandra keyspace name (a letter, then letters, digits or _; 48 characters at most)',
    example: 'brig',
  },
  keyspaceList: {
    name: 'keyspaceList',
    pattern: `^(${keyspace}(,${keyspace})*)?$`,
    description: 'a comma-separated list of Cassandra keyspace names (letters, digits, _), or empty for all',
    example: 'brig,galley',
  },
  absolutePath: {
    name: 'absolutePath',
    pattern: `^${absolutePath}$`,
    description: 'an absolute path of letters, digits, . _ / - without a .. segment',
    example: '/mnt/cassandra/data',
    noDotDotSegment: true,
  },
  /** A folder a restore writes into (the wire-server folder): absolute, and no system folder. */
  restoreTargetPath: {
    name: 'restoreTargetPath',
    pattern: `^${absolutePath}$`,
    description:
      'an absolute path of letters, digits, . _ / - without a .. segment, that is no system folder (not /, /etc, /usr, /var, /home, … nor below /etc, /usr, /bin, /boot, /dev, /proc, /sys, …)',
    example: '/home/wire/wire-server-deploy',
    noDotDotSegment: true,
    notSystemFolder: true,
  },
  bucketName: {
    name: 'bucketName',
    pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$',
    description: 'an S3 bucket name (3-63 of a-z 0-9 . -, starting and ending with a letter or digit)',
    example: 'wire-backup-vault',
  },
  optionalBucketName: {
    name: 'optionalBucketName',
    pattern: '^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?$',
    description:
      'an S3 bucket name (3-63 of a-z 0-9 . -, starting and ending with a letter or digit), or empty',
    example: '',
  },
  clusterName: {
    name: 'clusterName',
    // Starts with a letter or digit: it is a vault path segment, so never `.`, `..` or an option-like `-x`.
    pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
    description: 'a cluster name of 1-64 letters, digits, . _ - starting with a letter or digit',
    example: 'wire-prod',
  },
  nodeName: {
    name: 'nodeName',
    pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
    description: 'a short host name of 1-64 letters, digits, . _ - starting with a letter or digit',
    example: 'cassandra1',
  },
  address: {
    name: 'address',
    pattern: `^${address}$`,
    description: 'an IPv4 or IPv6 address',
    example: '10.0.0.11',
  },
  addressList: {
    name: 'addressList',
    pattern: `^(${address}(,${address})*)?$`,
    description: 'a comma-separated list of IPv4 or IPv6 node addresses, or empty',
    example: '10.0.0.11,10.0.0.12',
  },
  boolean: {
    name: 'boolean',
    pattern: '^(true|false)$',
    description: 'true or false',
    example: 'true',
  },
  bandwidthMBps: {
    name: 'bandwidthMBps',
    pattern: '^(0|[1-9][0-9]{0,4})$',
    description: 'a whole number of megabytes per second from 0 (no limit) to 99999',
    example: '50',
  },
  compressionLevel: {
    name: 'compressionLevel',
    pattern: '^[1-9]$',
    description: 'a gzip level from 1 (fastest) to 9 (smallest)',
    example: '6',
  },
  role: {
    name: 'role',
    pattern: '^(cassandra|wireServer)$',
    description: 'cassandra or wireServer',
    example: 'cassandra',
  },
  hostId: {
    name: 'hostId',
    pattern: `^${hostId}$`,
    description: 'a Cassandra host id (a lowercase UUID)',
    example: '5f1c3c7e-2b4a-4c1e-9a57-0d6e2f3b8a90',
  },
  optionalHostId: {
    name: 'optionalHostId',
    pattern: `^(${hostId})?$`,
    description: 'a Cassandra host id (a lowercase UUID), or empty',
    example: '',
  },
  vaultKey: {
    name: 'vaultKey',
    pattern: `^${vaultKey}$`,
    description:
      "a vault object key (segments of letters, digits, ! _ . * ' ( ) = - joined by /) without a .. segment",
    example: 'backups/20261126T061500Z/wire-server.tar.gz',
    noDotDotSegment: true,
    maxLength: maxKeyLength,
  },
  /** A vault folder a host writes below (keys it is given end in `/`). */
  vaultPrefix: {
    name: 'vaultPrefix',
    pattern: `^(${keySegment}/)+$`,
    description:
      "a vault folder (segments of letters, digits, ! _ . * ' ( ) = - each followed by /) without a .. segment",
    example: 'cassandra/wire-cluster/',
    noDotDotSegment: true,
    maxLength: maxKeyLength,
  },
  optionalVaultKey: {
    name: 'optionalVaultKey',
    pattern: `^(${vaultKey})?$`,
    description:
      "a vault object key (segments of letters, digits, ! _ . * ' ( ) = - joined by /) without a .. segment, or empty",
    example: '',
    noDotDotSegment: true,
    maxLength: maxKeyLength,
  },
  /**
   * An S3 version id: opaque, URL-ready, up to 1024 bytes (AWS documents one holding `+`); `null` is the
   * version of an object written before versioning was on.
   */
  versionId: {
    name: 'versionId',
    // Opaque, but passed to tools next to keys: refuse a `..` segment as for a key (`//` may occur).
    pattern: `^(/+|/*${versionSegment}(/+${versionSegment})*/*)$`,
    description: 'an S3 version id (null for an object written before versioning was on)',
    example: 'null',
    noDotDotSegment: true,
    maxLength: 1024,
  },
  sha256: {
    name: 'sha256',
    pattern: '^[0-9a-f]{64}$',
    description: 'a SHA-256 of 64 lowercase hex digits',
    example: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  },
  restoreMode: {
    name: 'restoreMode',
    pattern: '^(import|refresh|load)$',
    description:
      'import (same topology: nodetool import, or refresh before Cassandra 4.0), refresh (forced) or load (sstableloader: any topology)',
    example: 'import',
  },
  backupSource: {
    name: 'backupSource',
    pattern: '^(vault|archive)$',
    description:
      "vault (the backup's vault keys and versions) or archive (the archive bucket: index files under the same keys, data objects content-addressed)",
    example: 'vault',
  },
  consistency: {
    name: 'consistency',
    pattern: '^(ONE|QUORUM|LOCAL_QUORUM|ALL)$',
    description: 'ONE, QUORUM, LOCAL_QUORUM or ALL',
    example: 'QUORUM',
  },
  secretName: {
    name: 'secretName',
    pattern: `^${secretSegment}(/${secretSegment})*$`,
    maxLength: 512,
    description:
      'a Secrets Manager secret name (1-512 of letters, digits, / _ + = . @ -, no empty or .. segment)',
    example: 'wire-backup/minio',
  },
  /**
   * The ARN of a KMS key (the wire-server archive's key, passed to `aws s3 cp --sse-kms-key-id`): a
   * key id of letters, digits and `-` (AWS's are UUIDs; the local runner's are logical ids).
   */
  kmsKeyArn: {
    name: 'kmsKeyArn',
    pattern: '^arn:aws[a-z-]{0,12}:kms:[a-z0-9-]{1,32}:[0-9]{12}:key/[A-Za-z0-9-]{1,128}$',
    description:
      'a KMS key ARN like arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    example: 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  },
  awsRegion: {
    name: 'awsRegion',
    pattern: '^[a-z]{2}(-[a-z]+)+-[0-9]$',
    description: 'an AWS region like eu-central-2',
    example: 'eu-central-2',
  },
  scheduleExpression: {
    name: 'scheduleExpression',
    pattern: '^(rate\\([0-9]+ (minute|minutes|hour|hours|day|days)\\)|cron\\(.+\\))$',
    description: 'an EventBridge schedule expression, rate(...) or cron(...)',
    example: 'rate(1 hour)',
  },
  /** An operator's note on a backup (`reason`): free text, but nothing a shell or a path could act on. */
  reason: {
    name: 'reason',
    pattern: '^[A-Za-z0-9 .,:_()#+@=-]{0,200}$',
    description: 'a short note: up to 200 letters, digits, spaces and . , : _ ( ) # + @ = -',
    example: 'before the upgrade to 5.26',
  },
  archiveEntry: {
    name: 'archiveEntry',
    pattern: '^[A-Za-z0-9._/ -]+$',
    description: 'a path relative to the wire-server folder (letters, digits, . _ / - and spaces)',
    example: 'values',
  },
  // --- PostgreSQL -------------------------------------------------------------------------------
  /** A PostgreSQL server as the preflight gets it: `name=instanceId@host:port:dataDir`. */
  postgresqlServer: {
    name: 'postgresqlServer',
    pattern: `^${pgServer}$`,
    description:
      'a PostgreSQL server as name=instanceId@host:port:dataDir (e.g. pg1=mi-0123456789abcdef0@10.0.0.21:5432:/var/lib/postgresql/17/main)',
    example: 'pg1=mi-0123456789abcdef0@10.0.0.21:5432:/var/lib/postgresql/17/main',
    noDotDotSegment: true,
  },
  postgresqlServerList: {
    name: 'postgresqlServerList',
    pattern: `^(${pgServer}(,${pgServer})*)?$`,
    description: 'comma-separated PostgreSQL servers as name=instanceId@host:port:dataDir, or empty',
    example: 'pg2=mi-0123456789abcdef1@10.0.0.22:5432:/var/lib/postgresql/17/main',
    noDotDotSegment: true,
  },
  databaseName: {
    name: 'databaseName',
    pattern: '^[A-Za-z0-9_-]{1,63}$',
    description: 'a PostgreSQL database name (1-63 of letters, digits, _ -)',
    example: 'wire-server',
  },
  hostName: {
    name: 'hostName',
    pattern: `^${pgHost}$`,
    description: 'a host name or IPv4 address (letters, digits, . -)',
    example: '10.0.0.21',
  },
  port: {
    name: 'port',
    pattern: '^[1-9][0-9]{0,4}$',
    description: 'a TCP port number',
    example: '5432',
  },
  osUser: {
    name: 'osUser',
    pattern: '^[a-z_][a-z0-9_-]{0,31}$',
    description: 'an OS user name (the user PostgreSQL runs as)',
    example: 'postgres',
  },
  lsn: {
    name: 'lsn',
    pattern: '^[0-9A-F]{1,8}/[0-9A-F]{1,8}$',
    description: 'a PostgreSQL WAL location (LSN) like 0/3000060',
    example: '0/3000060',
  },
  walFileName: {
    name: 'walFileName',
    pattern: '^[0-9A-F]{24}$',
    description: 'a WAL segment file name (24 uppercase hex digits)',
    example: '000000010000000000000003',
  },
  timeline: {
    name: 'timeline',
    pattern: '^[1-9][0-9]{0,8}$',
    description: 'a PostgreSQL timeline id',
    example: '1',
  },
  utcTime: {
    name: 'utcTime',
    pattern: `^${utcTime}$`,
    description: 'an ISO 8601 UTC time like 2026-11-26T06:15:00Z',
    example: '2026-11-26T06:15:00Z',
  },
  optionalUtcTime: {
    name: 'optionalUtcTime',
    pattern: `^(${utcTime})?$`,
    description: 'an ISO 8601 UTC time like 2026-11-26T06:15:00Z, or empty',
    example: '',
  },
  restoreId: {
    name: 'restoreId',
    pattern: '^[A-Za-z0-9-]{1,64}$',
    description: 'a restore id (1-64 letters, digits, -)',
    example: '20261126T071500Z',
  },
  count: {
    name: 'count',
    pattern: '^[0-9]{1,15}$',
    description: 'a whole number (seconds, bytes)',
    example: '300',
  },
  verifyMode: {
    name: 'verifyMode',
    pattern: '^(fail|report|off)$',
    description: 'fail, report or off',
    example: 'fail',
  },
} as const satisfies Record<string, Rule>;

/** Name of a rule. */
export type RuleName = keyof typeof rules;

/**
 * Cassandra's own keyspaces, never backed up nor restored: 3.11's five, the virtual keyspaces of
 * 4.0+ (`system_views`, `system_virtual_schema`) and 5.1's `system_cluster_metadata` (transactional
 * cluster metadata), so that a node upgraded past 5.0 never backs one up as user data.
 */
export const SYSTEM_KEYSPACES = [
  'system',
  'system_auth',
  'system_distributed',
  'system_schema',
  'system_traces',
  'system_views',
  'system_virtual_schema',
  'system_cluster_metadata',
] as const;

/** Folders a restore never writes into (nor replaces): the root and the top folders people and services share. */
export const SYSTEM_FOLDERS = [
  '/',
  '/home',
  '/root',
  '/opt',
  '/srv',
  '/mnt',
  '/media',
  '/tmp',
  '/var',
  '/var/lib',
  '/var/log',
  '/var/cache',
  '/var/spool',
  '/var/tmp',
  '/var/run',
] as const;

/** Folders a restore never writes into nor below: the operating system's own. */
export const SYSTEM_TREES = [
  '/etc',
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/boot',
  '/dev',
  '/proc',
  '/sys',
  '/run',
] as const;

/** `path` without repeated slashes, `.` segments and trailing slashes (`//etc/./` is `/etc`). */
export function normalizeFolder(path: string): string {
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  return `/${segments.join('/')}`;
}

/** The system folder `path` is or lies below ({@link SYSTEM_FOLDERS}, {@link SYSTEM_TREES}), else undefined. */
export function systemFolderOf(path: string): string | undefined {
  const folder = normalizeFolder(path);
  if ((SYSTEM_FOLDERS as readonly string[]).includes(folder)) return folder;
  return SYSTEM_TREES.find((tree) => folder === tree || folder.startsWith(`${tree}/`));
}

/** Whether `keyspace` is one of {@link SYSTEM_KEYSPACES}. */
export function isSystemKeyspace(keyspace: string): boolean {
  return (SYSTEM_KEYSPACES as readonly string[]).includes(keyspace);
}

/** The rule's pattern as a JS RegExp. */
export function ruleRegExp(rule: Rule): RegExp {
  return new RegExp(rule.pattern);
}

/** Whether `value` has a `..` segment (`/`-separated). */
export function hasDotDotSegment(value: string): boolean {
  return value.split('/').includes('..');
}

/** Why `value` breaks `rule` ("must be …"), or undefined when it satisfies it. */
export function ruleViolation(rule: Rule, value: string): string | undefined {
  if (value.length > maxLengthOf(rule)) return `must be at most ${maxLengthOf(rule)} characters long`;
  if (rule.noDotDotSegment && hasDotDotSegment(value)) return 'must not contain a .. segment';
  if (!ruleRegExp(rule).test(value)) return `must be ${rule.description}`;
  if (rule.notSystemFolder) return systemFolderViolation(value);
  return undefined;
}

/**
 * A zod string schema for `rule`: its errors read "must be <description>" or "must not contain a ..
 * segment", so a configuration or input error names the field, the problem and what to write instead.
 */
export function ruleString(rule: Rule): z.ZodString {
  // One check, in the bash check's order (length, `..`, pattern, system folder), so that both
  // give the same first reason.
  return z.string().superRefine((value, ctx) => {
    const violation = ruleViolation(rule, value);
    if (violation) ctx.addIssue({ code: 'custom', message: violation });
  });
}

function systemFolderViolation(value: string): string | undefined {
  const system = systemFolderOf(value);
  if (!system) return undefined;
  return system === normalizeFolder(value)
    ? `must not be the system folder ${system}: choose a folder of its own, like /home/wire/wire-server-deploy`
    : `must not lie below the system folder ${system}: choose a folder of its own, like /home/wire/wire-server-deploy`;
}

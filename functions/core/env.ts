import { AsyncLocalStorage } from 'node:async_hooks';
import { ssmOutputLogGroupName } from './contract/host-command.js';

/**
 * Environment of the running function: its process environment, in AWS and in the local runner
 * (which runs each function's bundle in a worker of its own). Tests that call core code in-process
 * scope a set of variables with {@link runWithEnv}. Handlers and core read variables only through the
 * typed getters of {@link env} (as Powertools' `EnvironmentVariablesService` does); the stack sets
 * them under the names of {@link envNames}, so a misspelt name on either side does not compile.
 */
const scopedEnv = new AsyncLocalStorage<Readonly<Record<string, string>>>();

/** Every environment variable a wire-backup Lambda reads, by the name code uses for it. */
export const envNames = {
  /** SSM parameter holding the validated configuration as JSON (prepare, restore-prepare, purge-plan). */
  configParameter: 'WIRE_BACKUP_CONFIG_PARAMETER',
  /** The vault bucket. */
  vaultBucket: 'VAULT_BUCKET',
  /** CloudWatch Logs group of the host commands' output (`lib/names.ts`). */
  hostCommandLogGroup: 'HOST_COMMAND_LOG_GROUP',
  /** `false` skips re-reading and re-hashing new vault objects before a commit. */
  vaultDeepVerify: 'VAULT_DEEP_VERIFY',
  verifySampleDivisor: 'VERIFY_SAMPLE_DIVISOR',
  /** Scheduled deep verification: how many rotating weekly shares the newest backup's objects fall in. */
  scheduledVerifyShares: 'SCHEDULED_VERIFY_SHARES',
  /** The on-prem MinIO S3 endpoint. */
  minioEndpoint: 'MINIO_ENDPOINT',
  /** MinIO's region. */
  minioRegion: 'MINIO_REGION',
  /** Secrets Manager secret holding MinIO's credentials. */
  minioSecretName: 'MINIO_SECRET_NAME',
  /** `true` for MinIO releases that reject the SDK's default CRC checksums. */
  minioLegacyChecksums: 'MINIO_LEGACY_CHECKSUMS',
  /** Objects above this many bytes are copied with multipart upload. */
  minioMultipartThreshold: 'MINIO_MULTIPART_THRESHOLD',
  /** PEM of the private CA MinIO's TLS certificate chains to (config `minio.caBundleFile`), if any. */
  minioCaBundle: 'MINIO_CA_BUNDLE',
  /** ARN of the wire-server archive's own KMS key (verify-archive refuses an archive under another key). */
  wireServerArchiveKeyArn: 'WIRE_SERVER_ARCHIVE_KEY_ARN',
  /** The archive bucket in another region (cross-region archive copies). */
  archiveBucket: 'ARCHIVE_BUCKET',
  /** The archive bucket's region. */
  archiveRegion: 'ARCHIVE_REGION',
  /** Storage class of archived objects (`STANDARD`, `GLACIER_IR`, …). */
  archiveStorageClass: 'ARCHIVE_STORAGE_CLASS',
  /** Local runner only: JSON file served in place of Secrets Manager. */
  localSecretsFile: 'WIRE_BACKUP_LOCAL_SECRETS_FILE',
  /** Local runner only: the vault's S3 endpoint. */
  vaultEndpoint: 'WIRE_BACKUP_VAULT_ENDPOINT',
  /** Local runner only: `true` for path-style vault requests. */
  s3ForcePathStyle: 'WIRE_BACKUP_S3_FORCE_PATH_STYLE',
  /** Set by Lambda: the function's region. */
  awsRegion: 'AWS_REGION',
  /** The region when `AWS_REGION` is not set (local runs). */
  awsDefaultRegion: 'AWS_DEFAULT_REGION',
  /** Set by Lambda: the execution role's credentials (the local runner sets the vault's). */
  awsAccessKeyId: 'AWS_ACCESS_KEY_ID',
  awsSecretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  awsSessionToken: 'AWS_SESSION_TOKEN',
} as const;

/** The name of an environment variable wire-backup reads. */
export type EnvName = (typeof envNames)[keyof typeof envNames];

/** Environment variables the stack sets on a function, by their {@link EnvName}. */
export type FunctionEnvironment = Partial<Record<EnvName, string>>;

/** Runs `fn` with `env` as the function environment (the local runner's per-function scope). */
export function runWithEnv<T>(env: Readonly<Record<string, string>>, fn: () => T): T {
  return scopedEnv.run(env, fn);
}

/**
 * Reads an optional environment variable of the running function. Code of wire-backup uses the
 * getters of {@link env}; this is what they (and test fixtures with their own variables) build on.
 */
export function optionalEnv(name: string): string | undefined {
  const scoped = scopedEnv.getStore();
  if (scoped && name in scoped) return scoped[name];
  return process.env[name];
}

/** Reads a required environment variable; throws naming the variable when it is missing or empty. */
export function requireEnv(name: string): string {
  const value = optionalEnv(name);
  if (value === undefined || value === '') {
    throw new Error(
      `environment variable ${name} is not set: the stack sets it on the function; locally the runner copies it from the template`,
    );
  }
  return value;
}

/** An optional variable's value, or undefined when it is missing or empty. */
function nonEmpty(name: EnvName): string | undefined {
  return optionalEnv(name) || undefined;
}

/** An optional `true`/`false` variable; throws naming the variable on any other value. */
function booleanEnv(name: EnvName, fallback: boolean): boolean {
  const value = nonEmpty(name);
  if (value === undefined) return fallback;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new Error(`environment variable ${name} is ${JSON.stringify(value)}: set it to true or false`);
}

/** An optional positive integer variable; throws naming the variable on any other value. */
function positiveIntegerEnv(name: EnvName, fallback: number): number {
  const value = nonEmpty(name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new Error(
      `environment variable ${name} is ${JSON.stringify(value)}: set it to a positive whole number`,
    );
  }
  return n;
}

/** The typed getters, one per variable; each throws naming its variable when it is required and unset or malformed. */
export const env = {
  /** Name of the configuration's SSM parameter (`config-parameter.ts` reads it). */
  configParameter: (): string => requireEnv(envNames.configParameter),
  vaultBucket: (): string => requireEnv(envNames.vaultBucket),
  /** Default {@link ssmOutputLogGroupName} (an installation without `namePrefix`). */
  hostCommandLogGroup: (): string => nonEmpty(envNames.hostCommandLogGroup) ?? ssmOutputLogGroupName,
  /** Default true. */
  vaultDeepVerify: (): boolean => booleanEnv(envNames.vaultDeepVerify, true),
  /** Default 720 (`verify-sample.ts`); 1 re-checks every referenced version on every run. */
  verifySampleDivisor: (): number => positiveIntegerEnv(envNames.verifySampleDivisor, 720),
  /** Default 4 (`vault.scheduledVerify.shares`). */
  scheduledVerifyShares: (): number => positiveIntegerEnv(envNames.scheduledVerifyShares, 4),
  minioEndpoint: (): string => requireEnv(envNames.minioEndpoint),
  /** Default us-east-1. */
  minioRegion: (): string => nonEmpty(envNames.minioRegion) ?? 'us-east-1',
  minioSecretName: (): string => requireEnv(envNames.minioSecretName),
  /** Default false. */
  minioLegacyChecksums: (): boolean => booleanEnv(envNames.minioLegacyChecksums, false),
  /** The private CA of MinIO's TLS certificate (PEM), or undefined to trust the public CAs only. */
  minioCaBundle: (): string | undefined => nonEmpty(envNames.minioCaBundle),
  /** Default 16 MiB. */
  minioMultipartThreshold: (): number =>
    positiveIntegerEnv(envNames.minioMultipartThreshold, 16 * 1024 * 1024),
  wireServerArchiveKeyArn: (): string => requireEnv(envNames.wireServerArchiveKeyArn),
  archiveBucket: (): string => requireEnv(envNames.archiveBucket),
  archiveRegion: (): string => requireEnv(envNames.archiveRegion),
  /** Default GLACIER_IR. */
  archiveStorageClass: (): string => nonEmpty(envNames.archiveStorageClass) ?? 'GLACIER_IR',
  localSecretsFile: (): string | undefined => nonEmpty(envNames.localSecretsFile),
  vaultEndpoint: (): string | undefined => nonEmpty(envNames.vaultEndpoint),
  /** Default false. */
  s3ForcePathStyle: (): boolean => booleanEnv(envNames.s3ForcePathStyle, false),
  /** `AWS_REGION`, else `AWS_DEFAULT_REGION`; throws naming `AWS_REGION` when neither is set. */
  awsRegion: (): string =>
    nonEmpty(envNames.awsRegion) ?? nonEmpty(envNames.awsDefaultRegion) ?? requireEnv(envNames.awsRegion),
  awsDefaultRegion: (): string | undefined => nonEmpty(envNames.awsDefaultRegion),
  awsAccessKeyId: (): string | undefined => nonEmpty(envNames.awsAccessKeyId),
  awsSecretAccessKey: (): string | undefined => nonEmpty(envNames.awsSecretAccessKey),
  awsSessionToken: (): string | undefined => nonEmpty(envNames.awsSessionToken),
} as const satisfies Record<keyof typeof envNames, () => unknown>;

/**
 * The archive bucket and its region when the stack has `archive` configured (the functions that read
 * it are given both), else undefined: a restore with `"source": "archive"` is refused then.
 */
export function configuredArchive(): { readonly bucket: string; readonly region: string } | undefined {
  const bucket = nonEmpty(envNames.archiveBucket);
  return bucket ? { bucket, region: env.archiveRegion() } : undefined;
}

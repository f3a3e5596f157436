import { Aws, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { WireBackupConfig } from './config.js';
import { accessLogsBucket, bucketKeyPolicy } from './constructs/vault.js';
import { type ResourceNames, resourceNames } from './names.js';

/**
 * The archive bucket's name: `archive.bucketName`, else `<names.archiveBucketBase>-<account>-<region>`
 * (`wire-backup-archive-…` without `namePrefix`).
 */
export function archiveBucketName(
  archive: NonNullable<WireBackupConfig['archive']>,
  names: Pick<ResourceNames, 'archiveBucketBase'>,
): string {
  return archive.bucketName ?? `${names.archiveBucketBase}-${Aws.ACCOUNT_ID}-${archive.region}`;
}

/** What a role may do below archive key patterns (`backups/*`, `objects/*`; archivePrefixes). */
export interface ArchiveObjectGrant {
  /** Key patterns the role may read (GET/HEAD). */
  readonly read?: readonly string[];
  /** Key patterns the role may write (PUT, multipart upload and its abort). */
  readonly write?: readonly string[];
}

/**
 * Grants on the archive bucket, from the backup stack (the bucket and its key live in another stack
 * and region, so they are named, not referenced): written-out object actions on exact prefixes, and
 * the archive key only through S3 in the archive region, found by its alias. Nobody deletes.
 */
export class ArchiveGrants {
  private readonly bucketArn: string;

  constructor(
    private readonly archive: NonNullable<WireBackupConfig['archive']>,
    private readonly names: Pick<ResourceNames, 'archiveBucketBase' | 'archiveKeyAlias'>,
  ) {
    this.bucketArn = `arn:${Aws.PARTITION}:s3:::${archiveBucketName(archive, names)}`;
  }

  /** Grants `grantee` exactly `grant` on the archive bucket, and the archive key for it. */
  grantObjects(grantee: IGrantable, grant: ArchiveObjectGrant): void {
    const objects = (patterns: readonly string[]) => patterns.map((p) => `${this.bucketArn}/${p}`);
    const statements = [new PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucketArn] })];
    if (grant.read?.length)
      statements.push(new PolicyStatement({ actions: ['s3:GetObject'], resources: objects(grant.read) }));
    if (grant.write?.length)
      statements.push(
        new PolicyStatement({
          actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
          resources: objects(grant.write),
        }),
      );
    const region = this.archive.region;
    statements.push(
      new PolicyStatement({
        actions: [
          ...(grant.write?.length ? ['kms:GenerateDataKey'] : []),
          // Reading content (and multipart writes, which only the reading Copy makes).
          ...(grant.read?.length ? ['kms:Decrypt'] : []),
        ],
        resources: [`arn:${Aws.PARTITION}:kms:${region}:${Aws.ACCOUNT_ID}:key/*`],
        conditions: {
          'ForAnyValue:StringEquals': { 'kms:ResourceAliases': this.names.archiveKeyAlias },
          StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` },
        },
      }),
    );
    for (const statement of statements) grantee.grantPrincipal.addToPrincipalPolicy(statement);
  }
}

/** Props of {@link WireBackupArchiveStack}. */
export interface WireBackupArchiveStackProps extends StackProps {
  /** The `archive` section of the configuration; the stack must be deployed in `archive.region`. */
  readonly archive: NonNullable<WireBackupConfig['archive']>;
  /** The installation's `namePrefix` (bucket name and key alias, `lib/names.ts`). @default - none */
  readonly namePrefix?: string | undefined;
}

/**
 * The cross-region archive (deployed in `archive.region`): a versioned bucket encrypted with its own
 * rotated KMS key, public access blocked, TLS only; retained when the stack is deleted. The backup
 * stack's archive state machine writes into it.
 */
export class WireBackupArchiveStack extends Stack {
  /** The archive bucket. */
  public readonly bucket: Bucket;
  /** Its own KMS key. */
  public readonly key: Key;
  /** Server access logs of the archive bucket (SSE-S3: access logs cannot go to an SSE-KMS bucket). */
  public readonly accessLogsBucket: Bucket;

  constructor(scope: Construct, id: string, props: WireBackupArchiveStackProps) {
    super(scope, id, props);
    if (props.env?.region && props.env.region !== props.archive.region)
      throw new Error(
        `WireBackupArchiveStack: env.region is ${props.env.region} but archive.region is ${props.archive.region}: deploy it in archive.region`,
      );
    const names = resourceNames({ namePrefix: props.namePrefix });
    this.key = new Key(this, 'Key', {
      description: 'wire-backup archive encryption key',
      alias: names.archiveKeyAlias,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      // No kms:* for anyone: the account administers it, and uses it for data only through S3 here.
      policy: bucketKeyPolicy(this),
    });
    this.accessLogsBucket = accessLogsBucket(this);
    this.bucket = new Bucket(this, 'Bucket', {
      bucketName: archiveBucketName(props.archive, names),
      versioned: true,
      encryption: BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'archive/',
    });
  }
}

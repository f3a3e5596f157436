import { Aws, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { WireBackupConfig } from './config.js';

/** Alias of the archive's own KMS key (the backup stack's grants name it, as the key lives in another region). */
export const archiveKeyAlias = 'alias/wire-backup-archive';

/** The archive bucket's name: `archive.bucketName`, else `wire-backup-archive-<account>-<region>`. */
export function archiveBucketName(archive: NonNullable<WireBackupConfig['archive']>): string {
  return archive.bucketName ?? `wire-backup-archive-${Aws.ACCOUNT_ID}-${archive.region}`;
}

/** Props of {@link WireBackupArchiveStack}. */
export interface WireBackupArchiveStackProps extends StackProps {
  /** The `archive` section of the configuration; the stack must be deployed in `archive.region`. */
  readonly archive: NonNullable<WireBackupConfig['archive']>;
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

  constructor(scope: Construct, id: string, props: WireBackupArchiveStackProps) {
    super(scope, id, props);
    if (props.env?.region && props.env.region !== props.archive.region)
      throw new Error(
        `WireBackupArchiveStack: env.region is ${props.env.region} but archive.region is ${props.archive.region}: deploy it in archive.region`,
      );
    this.key = new Key(this, 'Key', {
      description: 'wire-backup archive encryption key',
      alias: archiveKeyAlias,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.bucket = new Bucket(this, 'Bucket', {
      bucketName: archiveBucketName(props.archive),
      versioned: true,
      encryption: BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}

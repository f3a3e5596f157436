/**
 * CDK feature flags the stack depends on, applied to every App that builds it (`lib/app.ts`, the
 * local runner, tests), so AWS and local runs synthesize the same definition.
 */
export const featureFlags = {
  // Without it CDK silently drops the Distributed Map's ResultWriter, and the whole results array
  // would come back into the state (256 KiB limit).
  '@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2': true,
  // The vault's access-log bucket is bucket-owner-enforced (no ACLs): S3 log delivery is allowed by
  // its bucket policy instead.
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
} as const;

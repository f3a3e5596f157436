import { S3Client } from '@aws-sdk/client-s3';
import type { StackS3Endpoint } from './stack-info.js';

/**
 * The one factory of S3 clients for the local stack's endpoints, as `stack.json` describes them:
 * `createStackS3Client(stack.vault)` for the vault (the "AWS S3" side), `createStackS3Client(stack.minio)`
 * for the on-prem MinIO. Path-style addressing, as MinIO needs. Each call builds a new client, which
 * its caller may `destroy()`; Lambda code builds its clients with `functions/core/clients.ts` instead.
 */
export function createStackS3Client(endpoint: StackS3Endpoint): S3Client {
  return new S3Client({
    endpoint: endpoint.endpoint,
    region: endpoint.region,
    forcePathStyle: true,
    credentials: { accessKeyId: endpoint.accessKey, secretAccessKey: endpoint.secretKey },
  });
}

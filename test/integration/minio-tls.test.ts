import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSourceS3Client } from '../../functions/core/clients.js';
import { checkSourceBuckets } from '../../functions/core/source-minio.js';
import { readStackInfo } from '../../local/stack-info.js';
import { startTlsMinio, type TlsMinio } from '../support/tls-minio.js';

// A MinIO serving HTTPS with a certificate of a private CA (made by the test with openssl).
describe('MinIO behind a private CA', () => {
  let minio: TlsMinio;
  const client = (caBundle?: string) =>
    createSourceS3Client({
      endpoint: minio.endpoint,
      region: 'us-east-1',
      accessKeyId: minio.accessKey,
      secretAccessKey: minio.secretKey,
      forcePathStyle: true,
      legacyChecksums: false,
      caBundle,
    });

  beforeAll(async () => {
    minio = await startTlsMinio(`${readStackInfo().cacheDir}/bin/minio`);
    await client(minio.caPem).send(new CreateBucketCommand({ Bucket: 'assets' }));
  }, 60_000);

  afterAll(async () => {
    await minio?.stop();
  });

  it('is reached with minio.caBundleFile’s CA', async () => {
    await expect(checkSourceBuckets(client(minio.caPem), minio.endpoint, ['assets'])).resolves.toEqual({
      buckets: ['assets'],
    });
  });

  it('is refused without it, naming the endpoint and the setting that fixes it', async () => {
    await expect(checkSourceBuckets(client(), minio.endpoint, ['assets'])).rejects.toMatchObject({
      name: 'MinioTlsError',
      message: expect.stringMatching(
        new RegExp(
          `^MinIO at ${minio.endpoint.replace(/\./g, '\\.')} presented a TLS certificate this function does not trust \\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\\): set minio.caBundleFile`,
        ),
      ),
    });
  });
});

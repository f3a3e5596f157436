import type { ArchiveDeps } from './archive-copy.js';
import { createVaultS3Client, vaultS3ConfigFromEnv } from './clients.js';
import { env } from './env.js';

/**
 * The archive steps' collaborators from the function environment: the vault client, and a client of
 * the same kind for the archive's region (in AWS the region's S3 endpoint; locally the endpoint
 * override points both at the vault server, whose second bucket is the archive).
 */
export function archiveDepsFromEnv(): ArchiveDeps {
  const vaultConfig = vaultS3ConfigFromEnv();
  const region = env.archiveRegion();
  return {
    vault: createVaultS3Client(vaultConfig),
    vaultBucket: env.vaultBucket(),
    archive: {
      client: createVaultS3Client({ ...vaultConfig, region }),
      bucket: env.archiveBucket(),
      region,
      storageClass: env.archiveStorageClass(),
    },
    now: () => new Date(),
    log: (line) => console.log(JSON.stringify({ line })),
  };
}

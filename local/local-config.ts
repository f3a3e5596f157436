import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, type WireBackupConfig } from '../lib/config.js';
import type { StackInfo, StackPostgresServer } from './stack-info.js';

/** Name of the MinIO credentials secret in the local configuration. */
export const localMinioSecretName = 'wire-backup/minio';

/**
 * The configuration of the local Wire stack: the same schema an operator fills in, pointing at the
 * local nodes (each with its own data directory), the local deploy host and the source MinIO.
 */
export function localConfig(
  stack: StackInfo,
  overrides: Partial<{
    allowPartial: boolean;
    keyspaces: string[];
    buckets: string[];
    /** `minio.planPartObjects`: small values split even a test bucket's plan into parts. */
    planPartObjects: number;
  }> = {},
): WireBackupConfig {
  return parseConfig(
    {
      clusterName: stack.clusterName,
      cassandra: {
        nodes: stack.cassandra.nodes.map((n) => ({
          instanceId: n.instanceId,
          name: n.name,
          dataDir: n.dataDir,
        })),
        dataDir: stack.cassandra.nodes[0]?.dataDir,
        keyspaces: overrides.keyspaces ?? ['brig', 'galley', 'spar', 'gundeck'],
        allowPartial: overrides.allowPartial ?? false,
      },
      wireServer: {
        instanceId: stack.deployHost.instanceId,
        path: stack.deployHost.wireServerPath,
        expectedEntries: ['values'],
        compressionLevel: 6,
      },
      minio: {
        endpoint: stack.minio.endpoint,
        region: stack.minio.region,
        secretName: localMinioSecretName,
        buckets: overrides.buckets ?? ['assets'],
        ...(overrides.planPartObjects ? { planPartObjects: overrides.planPartObjects } : {}),
      },
      // PostgreSQL 17 as Wire runs it: a primary and a streaming standby (the base backup reads the standby).
      postgresql: {
        primary: postgresqlServerConfig(stack.postgresql.primary),
        standbys: [postgresqlServerConfig(stack.postgresql.standby)],
        database: stack.postgresql.database,
        secretName: stack.postgresql.secretName,
        osUser: stack.postgresql.osUser,
        binDir: stack.postgresql.binDir,
        walWaitSeconds: 180,
      },
      vault: { bucketName: stack.vault.bucket },
      schedule: 'rate(1 hour)',
    },
    'local configuration',
  );
}

/** A local PostgreSQL server as the configuration names it. */
function postgresqlServerConfig(server: StackPostgresServer) {
  return {
    name: server.name,
    instanceId: server.instanceId,
    host: server.host,
    port: server.port,
    dataDir: server.dataDir,
    socketDir: server.socketDir,
  };
}

/**
 * Writes the local stand-in for Secrets Manager (`<stackDir>/secrets.json`) holding the source MinIO
 * credentials, and returns its path.
 */
export function writeLocalSecrets(stack: StackInfo): string {
  const file = join(stack.stackDir, 'secrets.json');
  writeFileSync(
    file,
    JSON.stringify({
      [localMinioSecretName]: JSON.stringify({
        accessKeyId: stack.minio.accessKey,
        secretAccessKey: stack.minio.secretKey,
      }),
      // The role wire-backup's PostgreSQL host scripts connect as.
      [stack.postgresql.secretName]: JSON.stringify({
        username: stack.postgresql.backupUser,
        password: stack.postgresql.backupPassword,
      }),
    }),
    { mode: 0o600 },
  );
  return file;
}

/**
 * What Lambda's runtime gives every function in AWS (region, the execution role's credentials) plus
 * the endpoint override that points the vault client at the local vault server.
 */
export function localFunctionEnvironment(stack: StackInfo): Record<string, string> {
  return {
    AWS_REGION: stack.vault.region,
    AWS_ACCESS_KEY_ID: stack.vault.accessKey,
    AWS_SECRET_ACCESS_KEY: stack.vault.secretKey,
    WIRE_BACKUP_VAULT_ENDPOINT: stack.vault.endpoint,
    WIRE_BACKUP_S3_FORCE_PATH_STYLE: 'true',
  };
}

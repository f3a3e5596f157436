import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, found from this module's path (never from the current directory). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** One local Cassandra node, as `wire-stack up` started it. */
export interface StackCassandraNode {
  readonly name: string;
  readonly address: string;
  readonly cqlPort: number;
  readonly jmxPort: number;
  readonly storagePort: number;
  readonly instanceId: string;
  readonly dataDir: string;
  readonly logFile: string;
}

/** An S3-compatible endpoint of the local stack. */
export interface StackS3Endpoint {
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly region: string;
  readonly logFile: string;
}

/** One local PostgreSQL server (the primary or its streaming standby). */
export interface StackPostgresServer {
  readonly name: string;
  readonly instanceId: string;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly logFile: string;
}

/** The local PostgreSQL 17 cluster, as Wire runs it: database `wire-server` owned by `wire-server`. */
export interface StackPostgres {
  readonly version: string;
  readonly database: string;
  readonly owner: string;
  readonly ownerPassword: string;
  /** The role wire-backup connects as (replication, pg_read_all_data, pg_backup_start/stop). */
  readonly backupUser: string;
  readonly backupPassword: string;
  /** Name of the secret (local secrets file) holding the backup role's credentials. */
  readonly secretName: string;
  /** OS user the servers run as. */
  readonly osUser: string;
  /** PostgreSQL 17 server binaries (initdb, pg_ctl, postgres). */
  readonly binDir: string;
  /** Client binaries (psql). */
  readonly clientBinDir: string;
  /** Vault prefix the archive command writes WAL to. */
  readonly walPrefix: string;
  readonly primary: StackPostgresServer;
  readonly standby: StackPostgresServer;
}

/** What `$WIRE_STACK_DIR/stack.json` holds: the running local stack. */
export interface StackInfo {
  readonly stackDir: string;
  readonly cacheDir: string;
  readonly clusterName: string;
  readonly cassandra: {
    readonly version: string;
    readonly nodes: readonly StackCassandraNode[];
  };
  /** The on-prem MinIO (the backup source). */
  readonly minio: StackS3Endpoint;
  /** The "AWS S3" side: versioned, Object Lock capable. */
  readonly vault: StackS3Endpoint & { readonly bucket: string; readonly archiveBucket: string };
  readonly deployHost: { readonly instanceId: string; readonly wireServerPath: string };
  /** Host profile (`host.env`) per managed instance id. */
  readonly hosts: Readonly<
    Record<
      string,
      {
        readonly envFile: string;
        readonly binDir: string;
        /** The instance's tags in SSM (`wire-backup:installation`). @default none */
        readonly tags?: Readonly<Record<string, string>>;
      }
    >
  >;
  /** PostgreSQL primary and standby. */
  readonly postgresql: StackPostgres;
}

/** Directory of the local stack state: `$WIRE_STACK_DIR` or `<repo>/.local-stack`. */
export function stackDir(): string {
  return process.env.WIRE_STACK_DIR ?? join(repoRoot, '.local-stack');
}

/** Reads `stack.json`; throws with the fix when the stack has not been brought up. */
export function readStackInfo(dir: string = stackDir()): StackInfo {
  const file = join(dir, 'stack.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StackInfo;
  } catch (error) {
    throw new Error(`local stack is not up (${file} unreadable): run 'npm run stack -- up'`, {
      cause: error,
    });
  }
}

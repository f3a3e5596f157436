import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { deleteBucketAndObjects, destroyPostgres } from '../drill.js';
import { localConfig } from '../local-config.js';
import { runLocal } from '../local-run.js';
import { createSourceS3Client } from '../seed/connections.js';
import { diffSnapshots, type SnapshotDifference, snapshotWire, type WireSnapshot } from '../seed/index.js';
import { readStackInfo, repoRoot, type StackInfo } from '../stack-info.js';

/**
 * The drill's disaster: a fresh Cassandra cluster (`wire-stack up --reset`), the MinIO bucket and the
 * wire-server folder deleted, both PostgreSQL servers stopped and their data directories deleted (the
 * restore refuses a primary data directory that is not empty). Returns the stack as it is then.
 * `postgresql: false` leaves PostgreSQL alone, for a restore that leaves it out: a primary deleted and
 * not restored would come back from `wire-stack up` as a new cluster (initdb) whose WAL the vault
 * refuses (the WAL folder holds the old cluster's segments of the same names), failing every later
 * backup's preflight.
 */
export async function disaster(options: { readonly postgresql?: boolean } = {}): Promise<StackInfo> {
  execFileSync(join(repoRoot, 'local-stack', 'bin', 'wire-stack'), ['up', '--reset'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const stack = readStackInfo();
  const source = createSourceS3Client(stack);
  try {
    await deleteBucketAndObjects(source, 'assets');
  } finally {
    source.destroy();
  }
  rmSync(stack.deployHost.wireServerPath, { recursive: true, force: true });
  if (options.postgresql ?? true) destroyPostgres(stack);
  return stack;
}

/**
 * The end of a fault run: the drill's disaster and restore for one backup (as `local/drill.ts` does it):
 * a fresh Cassandra cluster, the MinIO bucket, the wire-server folder and PostgreSQL deleted, the backup restored
 * through the restore state machine, every row, object and file compared with `before`.
 */
export async function restoreAndCompare(
  backupId: string,
  before: WireSnapshot,
): Promise<{ differences: readonly SnapshotDifference[]; restoreSeconds: number }> {
  const stack = await disaster();
  const started = Date.now();
  const restore = await runLocal({
    stateMachine: 'wire-restore',
    input: { backupId, confirm: backupId },
    stack,
    config: localConfig(stack),
  });
  if (restore.status !== 'SUCCEEDED')
    throw new Error(`restore of ${backupId} failed (${restore.error}): ${restore.cause}`);
  const restoreSeconds = (Date.now() - started) / 1000;
  const after = await snapshotWire({ stack, detail: 'rows', consistency: 'one' });
  return { differences: diffSnapshots(before, after), restoreSeconds };
}

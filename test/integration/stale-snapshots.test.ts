import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocateBackupId } from '../../functions/core/vault-layout.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { runHostScript, runWithHostProfile } from '../support/host-script.js';

/**
 * Snapshots that no clean-up reached (an execution that timed out or was stopped runs no Catch) are
 * swept by the next clean-up on the node: real `nodetool snapshot`s of the local stack's Cassandra, tagged
 * as backups that started long ago, a recent one, and an old one whose snapshot script still holds its
 * lock. Needs the local stack (`wire-stack up`).
 */

const slow = { timeout: 300_000 };
const keyspace = 'system_auth';

let stack: StackInfo;
let instanceId: string;
let dataDir: string;
let holder: ChildProcess | undefined;

/** Whether a snapshot tagged `tag` exists anywhere in the node's data directory. */
async function hasSnapshot(tag: string): Promise<boolean> {
  for (const table of await readdir(join(dataDir, keyspace))) {
    if (existsSync(join(dataDir, keyspace, table, 'snapshots', tag))) return true;
  }
  return false;
}

beforeAll(() => {
  stack = readStackInfo();
  const [node] = stack.cassandra.nodes;
  if (!node) throw new Error('stack.json lists no Cassandra node');
  instanceId = node.instanceId;
  dataDir = node.dataDir;
});

const leftTags: string[] = [];

afterAll(async () => {
  holder?.kill();
  for (const tag of leftTags) await runWithHostProfile(instanceId, `nodetool clearsnapshot -t ${tag}`);
});

describe('stale snapshot sweep (cassandra-clearsnapshot.sh)', () => {
  it(
    'clears a backup snapshot left behind for over 13 h, keeps a recent one and one whose script still runs',
    slow,
    async () => {
      // Arrange
      const stale = '20200101T000000Z';
      const lockedStale = '20200102T000000Z';
      const recent = allocateBackupId(new Date(Date.now() - 3_600_000));
      leftTags.push(stale, lockedStale, recent);
      for (const tag of [stale, lockedStale, recent])
        await runWithHostProfile(instanceId, `nodetool snapshot -t ${tag} ${keyspace}`);
      const stagingRoot = join(dirname(dataDir), 'wire-backup-staging');
      await mkdir(stagingRoot, { recursive: true });
      // A snapshot script of lockedStale still running holds its lock.
      holder = spawn('flock', [join(stagingRoot, `${lockedStale}.lock`), 'sleep', '120'], {
        stdio: 'ignore',
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const tag of [stale, lockedStale, recent]) expect(await hasSnapshot(tag), tag).toBe(true);

      // Act: the clean-up of another (failed) backup runs on the node.
      const run = await runHostScript('cassandra-clearsnapshot.sh', instanceId, {
        backupId: '20200103T000000Z',
        dataDir,
      });

      // Assert
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.result).toEqual({ cleared: true, backupId: '20200103T000000Z', staleCleared: [stale] });
      expect(run.stderr).toContain(`cleared snapshot ${stale}: its backup started more than 13 h ago`);
      expect(run.stderr).toContain(
        `snapshot ${lockedStale} is older than 13 h but a snapshot script of it still holds`,
      );
      expect(await hasSnapshot(stale)).toBe(false);
      expect(await hasSnapshot(lockedStale)).toBe(true);
      expect(await hasSnapshot(recent)).toBe(true);
    },
  );
  it(
    'clears at once the snapshot of an earlier backup whose snapshot script is gone, keeps one whose script runs and a later one',
    slow,
    async () => {
      // Arrange: the clean-up of backup `current` runs; `gone` started an hour before it and its script
      // died with its node (lock file left, not held); `running` started half an hour before it and its
      // script still holds its lock; `later` started after it.
      const now = Date.now();
      const current = allocateBackupId(new Date(now - 60_000));
      const gone = allocateBackupId(new Date(now - 3_600_000));
      const running = allocateBackupId(new Date(now - 1_800_000));
      const later = allocateBackupId(new Date(now));
      leftTags.push(gone, running, later);
      for (const tag of [gone, running, later])
        await runWithHostProfile(instanceId, `nodetool snapshot -t ${tag} ${keyspace}`);
      const stagingRoot = join(dirname(dataDir), 'wire-backup-staging');
      await mkdir(stagingRoot, { recursive: true });
      await writeFile(join(stagingRoot, `${gone}.lock`), '');
      holder?.kill();
      holder = spawn('flock', [join(stagingRoot, `${running}.lock`), 'sleep', '120'], { stdio: 'ignore' });
      await new Promise((resolve) => setTimeout(resolve, 500));

      // Act
      const run = await runHostScript('cassandra-clearsnapshot.sh', instanceId, {
        backupId: current,
        dataDir,
      });

      // Assert
      expect(run.exitCode, run.stderr).toBe(0);
      // (Snapshots the first test left may be swept too.)
      const swept = (run.result as { staleCleared: string[] }).staleCleared;
      expect(swept).toContain(gone);
      expect(swept).not.toContain(running);
      expect(swept).not.toContain(later);
      expect(run.stderr).toContain(
        `cleared snapshot ${gone}: its snapshot script no longer runs on this host`,
      );
      expect(await hasSnapshot(gone)).toBe(false);
      expect(existsSync(join(stagingRoot, `${gone}.lock`))).toBe(false);
      expect(await hasSnapshot(running)).toBe(true);
      expect(await hasSnapshot(later)).toBe(true);
    },
  );
});

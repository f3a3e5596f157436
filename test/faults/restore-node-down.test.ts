import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killCassandraNode } from '../../local/faults/node-faults.js';
import { disaster } from '../../local/faults/restore-compare.js';
import { runLocal } from '../../local/local-run.js';
import type { RunnerEvent } from '../../local/runner/events.js';
import { diffSnapshots, seedWire, snapshotWire, type WireSnapshot } from '../../local/seed/index.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';

/**
 * A Cassandra node down in the middle of a restore (its JVM killed while `nodetool import` loads table
 * 3), then started again and the same restore run again: the first run must fail naming the node, the
 * re-run (with overwrite: the first run left its targets partly written) must complete, verify the row counts and leave the data equal to what was backed up.
 */
describe('node down mid-restore', () => {
  let stack: StackInfo;
  let backupId = '';
  let before: WireSnapshot;
  let restart: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    stack = readStackInfo();
    await seedWire({ stack, size: 'smoke', reset: true, flush: true });
    before = await snapshotWire({ stack, detail: 'rows' });
    const backup = await runLocal({ stateMachine: 'wire-backup', input: { trigger: 'manual' }, stack });
    expect(backup.status, `${backup.error}: ${backup.cause}`).toBe('SUCCEEDED');
    backupId = (backup.output as { manifest?: { backupId?: string } }).manifest?.backupId ?? '';
  });
  afterAll(async () => restart?.());

  it('fails naming the node; the same restore re-run completes with 0 differences', async () => {
    stack = await disaster({ postgresql: false });
    // Every runner event of both restores, for a person reading a failure or a hang.
    const traceFile = join(stack.stackDir, 'restore-node-down.events.jsonl');
    writeFileSync(traceFile, '');
    const trace = (event: RunnerEvent) => appendFileSync(traceFile, `${JSON.stringify(event)}\n`);
    const node = stack.cassandra.nodes[0];
    // PostgreSQL is left out: the disaster does not empty its data directory, and a restore into a
    // non-empty one is refused (its own tests cover it).
    const input = { backupId, confirm: backupId, components: ['wireServer', 'cassandra', 'minio'] };
    const started = Date.now();
    let killing: Promise<() => Promise<void>> | undefined;
    const first = await runLocal({
      stateMachine: 'wire-restore',
      input,
      stack,
      onEvent: (event: RunnerEvent) => {
        trace(event);
        if (
          !killing &&
          event.type === 'CommandOutput' &&
          /table 3\/\d+ .*nodetool import/.test(event.message)
        )
          killing = killCassandraNode(stack);
      },
    });
    const firstSeconds = Math.round((Date.now() - started) / 1000);
    expect(killing, 'the node was never killed (no third table imported)').toBeDefined();
    restart = await killing;
    expect(first.status).toBe('FAILED');
    // The cause names the node: its managed instance id or its name.
    expect(first.cause ?? '').toMatch(new RegExp(`${node?.instanceId}|${node?.name}`));

    await restart?.();
    restart = undefined;
    const again = Date.now();
    // The targets are partly written now (the MinIO buckets only with the backup's own objects, which a
    // re-run accepts; Cassandra tables with rows, which it does not): the re-run says overwrite.
    const rerun = await runLocal({
      stateMachine: 'wire-restore',
      input: { ...input, overwrite: true },
      stack,
      onEvent: trace,
    });
    const rerunSeconds = Math.round((Date.now() - again) / 1000);
    expect(rerun.status, `${rerun.error}: ${rerun.cause}`).toBe('SUCCEEDED');
    const after = await snapshotWire({ stack, detail: 'rows', consistency: 'one' });
    const differences = diffSnapshots(before, after);
    console.log(
      `| Cassandra node killed | restore (nodetool import, table 3) | failed in ${firstSeconds} s: ${first.error}: ${(first.cause ?? '').replace(/\s+/g, ' ').slice(0, 200)}… | same restore re-run with overwrite: completed in ${rerunSeconds} s, row counts verified, ${differences.length} differences |`,
    );
    expect(differences).toEqual([]);
  });
});

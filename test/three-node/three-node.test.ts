import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupManifest } from '../../functions/core/contract/backup.js';
import { runDrill } from '../../local/drill.js';
import { runLocal } from '../../local/local-run.js';
import { seedWire } from '../../local/seed/index.js';
import { readStackInfo, repoRoot, type StackInfo } from '../../local/stack-info.js';

const wireStack = (...args: string[]) =>
  execFileSync(join(repoRoot, 'local-stack', 'bin', 'wire-stack'), args, {
    stdio: ['ignore', 'inherit', 'inherit'],
  });

/**
 * A three-node Cassandra cluster (127.0.0.1-3): backup of every node, a node down, and the drill's
 * topology change (three nodes backed up, restored into a fresh one-node cluster with sstableloader).
 * Slow. It runs a stack of its own (see vitest.three-node.config.ts) and wipes it at the end.
 */
describe('three-node cluster', () => {
  let stack: StackInfo;

  beforeAll(async () => {
    wireStack('up', '--nodes', '3', '--reset');
    stack = readStackInfo();
    await seedWire({ stack, size: 'smoke', reset: true, flush: true });
  });
  afterAll(() => {
    wireStack('wipe');
  });

  it('backs up all three nodes with one snapshot tag, each its own files', async () => {
    const result = await runLocal({ stateMachine: 'wire-backup', input: {}, stack });

    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    const manifest = (result.output as unknown as { manifest: BackupManifest }).manifest;
    expect(manifest.cassandra?.nodes.map((n) => n.name).sort()).toEqual(['node1', 'node2', 'node3']);
    expect(new Set(manifest.cassandra?.nodes.map((n) => n.hostId)).size).toBe(3);
    for (const node of manifest.cassandra?.nodes ?? []) expect(node.files).toBeGreaterThan(0);
    expect(manifest.cassandra?.ring.every((r) => r.status === 'U' && r.state === 'N')).toBe(true);
  });

  it('refuses to back up with a node down, naming it, and backs up once it is back', async () => {
    const node3 = stack.cassandra.nodes[2];
    if (!node3) throw new Error('no node3');
    const pid = readFileSync(join(stack.stackDir, 'cassandra', 'node3', 'cassandra.pid'), 'utf8').trim();
    process.kill(Number(pid), 'SIGKILL');

    const result = await runLocal({ stateMachine: 'wire-backup', input: {}, stack });

    expect(result.status).toBe('FAILED');
    expect(result.cause).toMatch(/node3|127\.0\.0\.3/);
    expect(result.cause).toMatch(/allowPartial/);
    wireStack('up');
  });

  it('restores a three-node backup into a fresh one-node cluster with zero differences', async () => {
    const report = await runDrill({ fromNodes: 3, toNodes: 1 });

    expect(report.differences).toEqual([]);
    expect(report.rows).toBeGreaterThan(0);
    expect(report.rowCounts?.missingRows).toEqual([]);
    expect(report.rowCounts?.tables).toBeGreaterThanOrEqual(20);
    // The restored schema keeps replication factor 3, which one node cannot serve at QUORUM: said.
    for (const ks of ['brig', 'galley', 'gundeck', 'spar']) {
      expect(report.warnings).toContainEqual(
        expect.stringContaining(`keyspace ${ks} has replication factor 3 but the cluster has 1 node(s)`),
      );
    }
  });
});

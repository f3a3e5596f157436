import { describe, expect, it } from 'vitest';
import type { BackupPlan, NodePreflight } from '../../functions/core/contract/backup.js';
import { evaluatePreflight } from '../../functions/core/preflight.js';

const status = (lines: string[]) =>
  Buffer.from(
    [
      'Datacenter: datacenter1',
      '=======================',
      'Status=Up/Down',
      '|/ State=Normal/Leaving/Joining/Moving',
      '--  Address    Load        Tokens  Owns (effective)  Host ID                               Rack',
      ...lines,
    ].join('\n'),
  ).toString('base64');
const up1 = 'UN  127.0.0.1  96.3 MiB  16  100.0%  47800e56-ef42-4d31-8147-81db23016947  rack1';
const down2 = 'DN  127.0.0.2  80.1 KiB  16  59.3%   57800e56-ef42-4d31-8147-81db23016947  rack1';

function plan(allowPartial: boolean): BackupPlan {
  const node = (i: number) => ({
    instanceId: `mi-00000000000000c0${i}`,
    name: `node${i}`,
    dataDir: '/data',
    previousFilesKey: '',
    previousHostId: '',
    inventoryKey: `backups/20261126T061500Z/cassandra/mi-00000000000000c0${i}/inventory.tsv`,
    nodeInfoKey: `backups/20261126T061500Z/cassandra/mi-00000000000000c0${i}/node.json`,
    captureSchema: false,
    countRows: true,
    uploadMaxBandwidthMBps: 50,
  });
  return {
    backupId: '20261126T061500Z',
    startedAt: '2026-11-26T06:15:00.000Z',
    executionId: 'x',
    vaultBucket: 'vault',
    clusterName: 'c',
    components: { wireServer: true, cassandra: true, minio: true, postgresql: false },
    previousBackupId: null,
    cassandra: {
      dataDir: '/data',
      keyspaces: '',
      allowPartial,
      sstableClusterPrefix: 'cassandra/c/',
      schemaKey: 'backups/20261126T061500Z/cassandra/schema.cql',
      rowCountsKey: 'backups/20261126T061500Z/cassandra/row-counts.tsv',
      nodes: [node(1), node(2)],
      downNodes: [],
    },
    wireServer: {
      instanceId: 'mi-00000000000000d01',
      path: '/w',
      archiveKey: 'k',
      compressionLevel: 6,
      expectedEntries: [],
    },
    minio: {
      buckets: [],
      previousManifestKeys: {},
      resumeCandidates: [],
      batchMaxObjects: 1,
      parts: [],
      planPartObjects: 1,
    },
    postgresql: null,
  };
}

describe('evaluatePreflight', () => {
  const checks = (p: BackupPlan): NodePreflight[] => [
    {
      node: p.cassandra.nodes[0] as NodePreflight['node'],
      result: { nodetoolStatusB64: status([up1, down2]), cassandraVersion: '5.0.9' },
    },
    {
      node: p.cassandra.nodes[1] as NodePreflight['node'],
      error: { Error: 'HostCommandError', Cause: 'nodetool: connection refused' },
    },
  ];

  it('fails naming each node that is not UN and the two ways out', () => {
    const p = plan(false);
    expect(() => evaluatePreflight(p, checks(p))).toThrowError(
      /node2 \(mi-00000000000000c02\): nodetool: connection refused; Cassandra node 127\.0\.0\.2 .* is DN\. Start the node\(s\) and retry, or set cassandra\.allowPartial/,
    );
  });

  it('goes on with the nodes that are up when partial backups are allowed, recording the others', () => {
    const p = plan(true);
    const evaluated = evaluatePreflight(p, checks(p));
    expect(evaluated.cassandra.nodes.map((n) => n.name)).toEqual(['node1']);
    expect(evaluated.cassandra.nodes[0]?.captureSchema).toBe(true);
    expect(evaluated.cassandra.downNodes).toEqual([
      { instanceId: 'mi-00000000000000c02', name: 'node2', reason: 'nodetool: connection refused' },
    ]);
    expect(evaluated.cluster.cassandraVersion).toBe('5.0.9');
  });

  it('passes a healthy ring', () => {
    const p = plan(false);
    const ok: NodePreflight[] = p.cassandra.nodes.map((node) => ({
      node,
      result: { nodetoolStatusB64: status([up1]) },
    }));
    expect(evaluatePreflight(p, ok).cassandra.nodes).toHaveLength(2);
  });
});

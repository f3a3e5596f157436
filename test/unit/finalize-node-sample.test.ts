import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { finalizeNode } from '../../functions/core/cassandra-node.js';
import { isInSample } from '../../functions/core/verify-sample.js';

const hostId = '11111111-2222-3333-4444-555555555555';

/** A vault stand-in that serves the inventory, answers HEADs and records which keys were HEADed. */
function fakeVault(inventory: string) {
  const headed: string[] = [];
  const send = async (command: unknown) => {
    if (command instanceof GetObjectCommand) return { Body: { transformToString: async () => inventory } };
    if (command instanceof HeadObjectCommand) {
      headed.push(command.input.Key ?? '');
      return { ContentLength: 10, VersionId: 'new-version' };
    }
    if (command instanceof PutObjectCommand) return {};
    throw new Error(`unexpected command ${String(command)}`);
  };
  return { s3: { send } as unknown as S3Client, headed };
}

describe('finalizeNode sample', () => {
  it('looks up every uploaded file and only the reused files in the run’s slot', async () => {
    // Arrange: 40 reused files and 2 uploaded ones.
    const sha = 'a'.repeat(64);
    const reused = Array.from({ length: 40 }, (_, i) => `brig/user-1/nb-${i}-big-Data.db`);
    const uploaded = ['brig/user-1/nb-100-big-Data.db', 'brig/user-1/nb-101-big-Data.db'];
    const inventory = [
      ...reused.map((p) => `${p}\t10\t${sha}\treused\tv-${p}`),
      ...uploaded.map((p) => `${p}\t10\t${sha}\tnew\t`),
    ].join('\n');
    const sample = { divisor: 4, slot: 1 };
    const { s3, headed } = fakeVault(`${inventory}\n`);

    // Act
    const summary = await finalizeNode(
      {
        backupId: '20261202T010000Z',
        vaultBucket: 'vault',
        clusterName: 'wire',
        node: { instanceId: 'mi-00000000000000c01', name: 'node1' },
        snapshot: { hostId, inventoryKey: 'backups/x/cassandra/mi/inventory.tsv' },
      },
      { s3, deepVerify: false, sample },
    );

    // Assert
    const inSlot = reused.filter((p) => isInSample({ key: p }, sample));
    expect(inSlot.length).toBeGreaterThan(0);
    expect(inSlot.length).toBeLessThan(reused.length);
    expect(headed.sort()).toEqual(
      [...inSlot, ...uploaded].map((p) => `cassandra/wire/${hostId}/${p}`).sort(),
    );
    expect(summary.sampledReusedFiles).toBe(inSlot.length);
    expect(summary.files).toBe(42);
    expect(summary.reusedFiles).toBe(40);
  });
});

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WireSnapshot } from '../../local/seed/snapshot.js';
import { readSnapshotFile, writeSnapshotFile } from '../../local/seed/snapshot-file.js';

const snapshot: WireSnapshot = {
  format: 'wire-backup-seed-snapshot/1',
  takenAt: '2026-01-01T00:00:00.000Z',
  detail: 'rows',
  cassandra: {
    keyspaces: [
      {
        name: 'brig',
        replication: { class: 'SimpleStrategy', replication_factor: '1' },
        durableWrites: true,
        types: { asset: { typ: 'int', key: 'text', size: 'int' } },
        tables: [
          {
            name: 'user',
            schema: { partitionKey: ['id'], clustering: [], columns: {}, options: {}, indexes: {} },
            rowCount: 2,
            digest: 'd',
            ttlCells: 1,
            scannedAt: 1,
            rows: [
              { key: '["a"]', hash: 'h1', values: { id: 'a', name: 'Zoë "Z" \n Müller' } },
              { key: '["b"]', hash: 'h2', expires: { name: 99 }, values: { id: 'b', name: null } },
            ],
          },
          {
            name: 'digest_only',
            schema: { partitionKey: ['k'], clustering: [], columns: {}, options: {}, indexes: {} },
            rowCount: 5,
            digest: 'e',
            ttlCells: 0,
            scannedAt: 1,
          },
        ],
      },
    ],
    missingKeyspaces: ['spar'],
  },
  minio: { buckets: [{ name: 'assets', exists: true, objectCount: 0, totalBytes: 0, objects: [] }] },
  wireServer: { path: '/srv/wire-server', exists: false, fileCount: 0, totalBytes: 0, entries: [] },
};

describe('snapshot files', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seed-snapshot-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('read back exactly what was written, one row per line', async () => {
    // Arrange
    const file = join(dir, 'a.jsonl');

    // Act
    await writeSnapshotFile(file, snapshot);
    const back = await readSnapshotFile(file);
    const lines = (await readFile(file, 'utf8')).trim().split('\n');

    // Assert
    expect(back).toEqual(snapshot);
    expect(lines).toHaveLength(3);
  });

  it('refuse a file that is not a snapshot, naming the format found', async () => {
    // Arrange
    const file = join(dir, 'b.jsonl');
    await writeFile(file, '{"format":"something-else"}\n');

    // Act
    const read = readSnapshotFile(file);

    // Assert
    await expect(read).rejects.toThrow(/is not a snapshot file \(format something-else/);
  });
});

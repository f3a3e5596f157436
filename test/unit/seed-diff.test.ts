import { describe, expect, it } from 'vitest';
import { diffSnapshots, formatDifferences } from '../../local/seed/diff.js';
import { hashJson, type Json } from '../../local/seed/normalize.js';
import type {
  FolderEntry,
  ObjectEntry,
  RowEntry,
  TableSchema,
  TableSnapshot,
  WireSnapshot,
} from '../../local/seed/snapshot.js';

const now = 1_800_000_000;

const userSchema: TableSchema = {
  partitionKey: ['id'],
  clustering: [],
  columns: {
    id: { kind: 'partition_key', type: 'uuid', position: 0, clusteringOrder: 'none' },
    name: { kind: 'regular', type: 'text', position: -1, clusteringOrder: 'none' },
  },
  options: { default_time_to_live: 0, gc_grace_seconds: 864000, compaction: { class: 'LCS' } },
  indexes: {},
};

function row(id: string, name: string, withValues: boolean, expires?: Record<string, number>): RowEntry {
  const values: Record<string, Json> = { id, name };
  return {
    key: JSON.stringify([id]),
    hash: hashJson(values).slice(0, 32),
    ...(expires ? { expires } : {}),
    ...(withValues ? { values } : {}),
  };
}

function table(rows: RowEntry[] | undefined, overrides: Partial<TableSnapshot> = {}): TableSnapshot {
  return {
    name: 'user',
    schema: userSchema,
    rowCount: rows?.length ?? 0,
    digest: 'd',
    ttlCells: 0,
    scannedAt: now,
    ...(rows ? { rows: [...rows].sort((a, b) => (a.key < b.key ? -1 : 1)) } : {}),
    ...overrides,
  };
}

function snapshot(parts: {
  tables?: TableSnapshot[];
  objects?: ObjectEntry[];
  entries?: FolderEntry[];
}): WireSnapshot {
  return {
    format: 'wire-backup-seed-snapshot/1',
    takenAt: new Date(now * 1000).toISOString(),
    detail: 'keys',
    cassandra: {
      keyspaces: [
        {
          name: 'brig',
          replication: { class: 'SimpleStrategy', replication_factor: '1' },
          durableWrites: true,
          types: {},
          tables: parts.tables ?? [],
        },
      ],
      missingKeyspaces: [],
    },
    minio: {
      buckets: [
        {
          name: 'assets',
          exists: true,
          objectCount: parts.objects?.length ?? 0,
          totalBytes: 0,
          objects: parts.objects ?? [],
        },
      ],
    },
    wireServer: {
      path: '/srv/wire-server',
      exists: true,
      fileCount: 0,
      totalBytes: 0,
      entries: parts.entries ?? [],
    },
  };
}

const object = (key: string, overrides: Partial<ObjectEntry> = {}): ObjectEntry => ({
  key,
  size: 10,
  sha256: 'aa'.repeat(32),
  contentType: 'image/png',
  metadata: { uploader: 'u1' },
  ...overrides,
});

describe('diffSnapshots', () => {
  it('returns no differences for equal snapshots', () => {
    // Arrange
    const a = snapshot({
      tables: [table([row('u1', 'Alice', false), row('u2', 'Bob', false)])],
      objects: [object('café/ñ 🎉.png')],
      entries: [{ path: 'values', type: 'dir', mode: '0755' }],
    });
    const b = structuredClone(a);

    // Act
    const differences = diffSnapshots(a, b);

    // Assert
    expect(differences).toEqual([]);
  });

  it('names rows only in a, only in b, and changed rows by primary key', () => {
    // Arrange
    const a = snapshot({ tables: [table([row('u1', 'Alice', false), row('u2', 'Bob', false)])] });
    const b = snapshot({ tables: [table([row('u2', 'Robert', false), row('u3', 'Carol', false)])] });

    // Act
    const differences = diffSnapshots(a, b);

    // Assert
    expect(differences).toEqual([
      expect.objectContaining({ area: 'cassandra', target: 'brig.user', key: '["u1"]', change: 'removed' }),
      expect.objectContaining({ area: 'cassandra', target: 'brig.user', key: '["u2"]', change: 'changed' }),
      expect.objectContaining({ area: 'cassandra', target: 'brig.user', key: '["u3"]', change: 'added' }),
    ]);
  });

  it('names the column and both values when the snapshots hold full rows', () => {
    // Arrange
    const a = snapshot({ tables: [table([row('u1', 'Alice', true)])] });
    const b = snapshot({ tables: [table([row('u1', 'Alicia', true)])] });

    // Act
    const differences = diffSnapshots(a, b);

    // Assert
    expect(differences).toEqual([
      {
        area: 'cassandra',
        target: 'brig.user',
        key: '["u1"]',
        field: 'name',
        change: 'changed',
        message: '"Alice" → "Alicia"',
      },
    ]);
  });

  it('ignores rows whose TTL expired before the later snapshot was taken', () => {
    // Arrange
    const a = snapshot({
      tables: [table([row('u1', 'Alice', false, { name: now + 300 }), row('u2', 'Bob', false)])],
    });
    const b = snapshot({ tables: [table([row('u2', 'Bob', false)], { scannedAt: now + 600 })] });

    // Act
    const differences = diffSnapshots(a, b);

    // Assert
    expect(differences).toEqual([]);
  });

  it('reports a row with a TTL that is missing before its expiry', () => {
    // Arrange
    const a = snapshot({ tables: [table([row('u1', 'Alice', false, { name: now + 86_400 })])] });
    const b = snapshot({ tables: [table([], { scannedAt: now + 600 })] });

    // Act
    const differences = diffSnapshots(a, b);

    // Assert
    expect(differences).toEqual([
      expect.objectContaining({
        target: 'brig.user',
        key: '["u1"]',
        change: 'removed',
        message: 'row missing in b',
      }),
    ]);
  });

  it('compares expiries within the tolerance and reports a lost TTL', () => {
    // Arrange
    const a = snapshot({
      tables: [
        table([
          row('u1', 'Alice', false, { name: now + 1000 }),
          row('u2', 'Bob', false, { name: now + 1000 }),
          row('u3', 'Carol', false, { name: now + 1000 }),
        ]),
      ],
    });
    const b = snapshot({
      tables: [
        table([
          row('u1', 'Alice', false, { name: now + 1030 }),
          row('u2', 'Bob', false, { name: now + 5000 }),
          row('u3', 'Carol', false),
        ]),
      ],
    });

    // Act
    const differences = diffSnapshots(a, b, { ttlToleranceSeconds: 60 });

    // Assert
    expect(differences).toEqual([
      expect.objectContaining({ key: '["u2"]', field: 'ttl(name)', change: 'changed' }),
      expect.objectContaining({ key: '["u3"]', field: 'ttl(name)', change: 'removed' }),
    ]);
  });

  it('compares counts, digests and TTL cells when a snapshot keeps digests only', () => {
    // Arrange
    const a = snapshot({ tables: [table(undefined, { rowCount: 3, digest: 'x', ttlCells: 2 })] });
    const b = snapshot({ tables: [table(undefined, { rowCount: 4, digest: 'y', ttlCells: 0 })] });

    // Act
    const differences = diffSnapshots(a, b);

    // Assert
    expect(differences.map((d) => d.field)).toEqual(['rowCount', 'digest', 'ttl']);
    expect(differences[0]?.message).toBe('row count 3 → 4');
  });

  it('reports schema changes: a column type, a table option, a missing table', () => {
    // Arrange
    const changed: TableSchema = {
      ...userSchema,
      columns: {
        ...userSchema.columns,
        name: { kind: 'regular', type: 'ascii', position: -1, clusteringOrder: 'none' },
      },
      options: { ...userSchema.options, default_time_to_live: 300 },
    };
    const a = snapshot({ tables: [table([]), table([], { name: 'user_keys' })] });
    const b = snapshot({ tables: [table([], { schema: changed })] });

    // Act
    const differences = diffSnapshots(a, b);

    // Assert
    expect(differences).toEqual([
      expect.objectContaining({
        area: 'schema',
        target: 'brig.user',
        field: 'column name',
        message: 'regular text none → regular ascii none',
      }),
      expect.objectContaining({
        area: 'schema',
        target: 'brig.user',
        field: 'default_time_to_live',
        message: '0 → 300',
      }),
      expect.objectContaining({ area: 'schema', target: 'brig.user_keys', change: 'removed' }),
    ]);
  });

  it('lists at most maxPerTable row differences and summarises the rest', () => {
    // Arrange
    const rows = Array.from({ length: 8 }, (_, i) => row(`u${i}`, `N${i}`, false));
    const a = snapshot({ tables: [table(rows)] });
    const b = snapshot({ tables: [table([])] });

    // Act
    const differences = diffSnapshots(a, b, { maxPerTable: 3 });

    // Assert
    expect(differences).toHaveLength(4);
    expect(differences[3]?.message).toBe(
      '… and 5 more (in all: 8 rows missing in b, 0 only in b, 0 changed)',
    );
  });

  it('names objects added, removed and changed, field by field', () => {
    // Arrange
    const a = snapshot({
      objects: [object('gone'), object('same'), object('v3/persistent/x+y=%')],
    });
    const b = snapshot({
      objects: [
        object('new key ü'),
        object('same'),
        object('v3/persistent/x+y=%', {
          size: 11,
          sha256: 'bb'.repeat(32),
          contentType: 'application/octet-stream',
          metadata: { uploader: 'u2', conv: 'c1' },
        }),
      ],
    });

    // Act
    const differences = diffSnapshots(a, b);

    // Assert
    expect(differences.map((d) => [d.key, d.change, d.field])).toEqual([
      ['gone', 'removed', undefined],
      ['new key ü', 'added', undefined],
      ['v3/persistent/x+y=%', 'changed', 'size'],
      ['v3/persistent/x+y=%', 'changed', 'sha256'],
      ['v3/persistent/x+y=%', 'changed', 'contentType'],
      ['v3/persistent/x+y=%', 'changed', 'metadata conv'],
      ['v3/persistent/x+y=%', 'changed', 'metadata uploader'],
    ]);
  });

  it('names files added, changed in content and changed in mode', () => {
    // Arrange
    const file = (path: string, mode: string, sha256: string): FolderEntry => ({
      path,
      type: 'file',
      mode,
      size: 5,
      sha256,
    });
    const a = snapshot({ entries: [file('secrets.yaml', '0600', 'a'), file('values.yaml', '0644', 'a')] });
    const b = snapshot({
      entries: [
        file('extra.yaml', '0644', 'c'),
        file('secrets.yaml', '0644', 'a'),
        file('values.yaml', '0644', 'b'),
      ],
    });

    // Act
    const differences = diffSnapshots(a, b);

    // Assert
    expect(formatDifferences(differences)).toBe(
      [
        'wire-server /srv/wire-server extra.yaml: file only in b',
        'wire-server /srv/wire-server secrets.yaml [mode]: 0600 → 0644',
        'wire-server /srv/wire-server values.yaml [sha256]: content differs',
      ].join('\n'),
    );
  });

  it('reports a whole keyspace, bucket or folder missing in one line each', () => {
    // Arrange
    const a = snapshot({ tables: [table([row('u1', 'Alice', false)])], objects: [object('k')] });
    const b: WireSnapshot = {
      ...a,
      cassandra: { keyspaces: [], missingKeyspaces: ['brig'] },
      minio: { buckets: [{ name: 'assets', exists: false, objectCount: 0, totalBytes: 0, objects: [] }] },
      wireServer: { path: '/srv/wire-server', exists: false, fileCount: 0, totalBytes: 0, entries: [] },
    };

    // Act
    const differences = diffSnapshots(a, b);

    // Assert
    expect(differences.map((d) => [d.area, d.target, d.change])).toEqual([
      ['schema', 'brig', 'removed'],
      ['minio', 'assets', 'removed'],
      ['wire-server', '/srv/wire-server', 'removed'],
    ]);
  });

  it('compares a bucket with a differently named one when asked (a restore into another bucket)', () => {
    // Arrange
    const a = snapshot({ objects: [object('k1'), object('k2')] });
    const restored = snapshot({ objects: [object('k1')] });
    const b: WireSnapshot = {
      ...restored,
      minio: { buckets: (restored.minio?.buckets ?? []).map((x) => ({ ...x, name: 'assets-restored' })) },
    };

    // Act
    const paired = diffSnapshots(a, b, { bucketPairs: { assets: 'assets-restored' } });
    const unpaired = diffSnapshots(a, b);

    // Assert
    expect(paired.map((d) => [d.target, d.key, d.change])).toEqual([['assets', 'k2', 'removed']]);
    expect(unpaired.map((d) => [d.target, d.change])).toEqual([
      ['assets', 'removed'],
      ['assets-restored', 'added'],
    ]);
  });
});

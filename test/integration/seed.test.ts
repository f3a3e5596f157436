import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCassandraClient } from '../../local/seed/connections.js';
import { diffSnapshots, formatDifferences, type SnapshotDifference } from '../../local/seed/diff.js';
import { objectSha256, seededObjects } from '../../local/seed/minio-objects.js';
import { type MutateResult, mutateWire } from '../../local/seed/mutate-wire.js';
import { seededTables } from '../../local/seed/schema.js';
import { historyTables, retiredTable } from '../../local/seed/schema-history.js';
import { type SeedResult, seedWire } from '../../local/seed/seed-wire.js';
import { planForSize } from '../../local/seed/size-plan.js';
import { snapshotWire, type TableSnapshot, type WireSnapshot } from '../../local/seed/snapshot.js';
import { WireDataGenerator } from '../../local/seed/wire-data.js';
import { readStackInfo } from '../../local/stack-info.js';

// This file owns the keyspaces brig, galley, gundeck, spar, the bucket `assets` and the wire-server
// folder of the local stack: it drops and re-creates them (the DR drill needs the real names).
const stack = readStackInfo();
const seed = 42;
const day = 86_400;

let seeded: SeedResult;
let first: WireSnapshot;

function tableOf(snapshot: WireSnapshot, qualified: string): TableSnapshot {
  const [keyspace, name] = qualified.split('.');
  const table = snapshot.cassandra?.keyspaces
    .find((k) => k.name === keyspace)
    ?.tables.find((t) => t.name === name);
  if (!table) throw new Error(`snapshot has no table ${qualified}`);
  return table;
}

const noDifferences = (differences: SnapshotDifference[]): string => formatDifferences(differences) || 'none';

beforeAll(async () => {
  seeded = await seedWire({ stack, size: 'smoke', seed, reset: true, flush: true });
  first = await snapshotWire({ stack, detail: 'rows' });
});

describe('seedWire', () => {
  it('creates the four keyspaces with RF min(3, nodes) and rows in every seeded table', () => {
    // Arrange
    const rf = String(Math.min(3, stack.cassandra.nodes.length));

    // Act
    const keyspaces = first.cassandra?.keyspaces ?? [];
    const counts = Object.fromEntries(
      keyspaces.flatMap((k) => k.tables.map((t) => [`${k.name}.${t.name}`, t.rowCount] as const)),
    );

    // Assert
    expect(keyspaces.map((k) => k.name)).toEqual(['brig', 'galley', 'gundeck', 'spar']);
    expect(keyspaces.every((k) => k.replication.replication_factor === rf)).toBe(true);
    expect(Object.keys(counts).sort()).toEqual(
      [...seededTables.map((t) => `${t.keyspace}.${t.name}`), ...historyTables].sort(),
    );
    expect(Object.values(counts).every((n) => n > 0)).toBe(true);
    expect(counts).toEqual(seeded.cassandra?.rows);
    expect(seeded.cassandra?.totalRows).toBeGreaterThan(200);
    expect(seeded.cassandra?.totalRows).toBeLessThan(600);
  });

  it('keeps per-row TTLs, the table default TTL and no TTL elsewhere', () => {
    // Arrange
    const now = Date.parse(first.takenAt) / 1000;

    // Act
    const expiries = (table: string): number[] =>
      tableOf(first, table).rows?.flatMap((r) => Object.values(r.expires ?? {})) ?? [];
    const rowsWithout = (table: string): number =>
      tableOf(first, table).rows?.filter((r) => r.expires === undefined).length ?? -1;

    // Assert
    expect(rowsWithout('brig.user_cookies')).toBe(0);
    expect(Math.min(...expiries('brig.user_cookies'))).toBeGreaterThan(now + 13 * day);
    expect(Math.max(...expiries('brig.user_cookies'))).toBeLessThan(now + 29 * day);
    expect(rowsWithout('gundeck.notifications')).toBe(0);
    expect(Math.abs(Math.min(...expiries('gundeck.notifications')) - (now + 28 * day))).toBeLessThan(600);
    expect(rowsWithout('brig.nonce')).toBe(0);
    expect(Math.abs(Math.max(...expiries('brig.nonce')) - (now + 300))).toBeLessThan(120);
    expect(tableOf(first, 'brig.nonce').schema.options.default_time_to_live).toBe(300);
    expect(tableOf(first, 'brig.user').ttlCells).toBe(0);
  });

  it('sets the counters to their values', () => {
    // Arrange
    const counters = tableOf(first, 'brig.rate_limit_counter');

    // Act
    const attempts = counters.rows?.map((r) => Number(r.values?.attempts)) ?? [];
    const bytes = counters.rows?.map((r) => Number(r.values?.bytes)) ?? [];

    // Assert
    expect(counters.rowCount).toBe(planForSize('smoke').users);
    expect(attempts.every((n) => n >= 1 && n <= 5)).toBe(true);
    expect(bytes.every((n) => n >= 100 && n <= 10_000)).toBe(true);
  });

  it('writes UDT lists, frozen UDTs, sets, inet and blobs as Cassandra returns them', () => {
    // Arrange
    const users = tableOf(first, 'brig.user').rows ?? [];
    const members = tableOf(first, 'galley.team_member').rows ?? [];
    const clients = tableOf(first, 'brig.clients').rows ?? [];

    // Act
    const assets = users.map((r) => r.values?.assets).find((a) => Array.isArray(a));
    const perms = members[0]?.values?.perms;
    const ips = clients.map((r) => String(r.values?.ip));

    // Assert
    expect(assets).toEqual([
      expect.objectContaining({ typ: 0, size: 0, key: expect.stringMatching(/^3-2-/) }),
      expect.objectContaining({ typ: 0, size: 1 }),
    ]);
    expect(perms).toEqual({ copy: expect.stringMatching(/^\d+$/), self: expect.stringMatching(/^\d+$/) });
    expect(ips.some((ip) => ip.includes(':'))).toBe(true);
    expect(users.some((r) => String(r.values?.password).startsWith('0x'))).toBe(true);
  });

  it('uploads every object with its bytes, content type and metadata, unicode keys and a multipart one included', async () => {
    // Arrange
    const plan = planForSize('smoke');
    const specs = seededObjects(plan, seed, new WireDataGenerator(plan, seed));
    const objects = new Map(first.minio?.buckets[0]?.objects.map((o) => [o.key, o]));

    // Act
    const expected = await Promise.all(
      specs.map(async (s) => [s.key, s.size, await objectSha256(s), s.contentType, s.metadata]),
    );
    const actual = specs.map((s) => {
      const o = objects.get(s.key);
      return [o?.key, o?.size, o?.sha256, o?.contentType, o?.metadata];
    });

    // Assert
    expect(objects.size).toBe(specs.length);
    expect(actual).toEqual(expected);
    expect(objects.get('café/ñ 🎉.png')?.metadata).toMatchObject({
      retention: 'eternal',
      uploader: expect.any(String),
    });
    expect([...objects.values()].some((o) => o.size === 0)).toBe(true);
    expect(seeded.minio?.multipartKeys).toHaveLength(1);
    expect(objects.get(seeded.minio?.multipartKeys[0] ?? '')?.size).toBeGreaterThan(16 * 1024 * 1024);
  });

  it('fills the wire-server folder with values, secrets (0600), inventory, nested and empty dirs', () => {
    // Arrange
    const entries = new Map(first.wireServer?.entries.map((e) => [e.path, e]));

    // Act
    const modes = Object.fromEntries(
      [
        'values/wire-server/values.yaml',
        'values/wire-server/secrets.yaml',
        'values/databases-ephemeral/values.yaml',
        'ansible/inventory/prod/hosts.ini',
        'ansible/inventory/prod/group_vars/all/offline.yml',
        'ansible/inventory/prod/host_vars',
        'bin/offline-deploy.sh',
      ].map((p) => [p, `${entries.get(p)?.type} ${entries.get(p)?.mode}`]),
    );

    // Assert
    expect(first.wireServer?.path).toBe(stack.deployHost.wireServerPath);
    expect(modes).toEqual({
      'values/wire-server/values.yaml': 'file 0644',
      'values/wire-server/secrets.yaml': 'file 0600',
      'values/databases-ephemeral/values.yaml': 'file 0644',
      'ansible/inventory/prod/hosts.ini': 'file 0644',
      'ansible/inventory/prod/group_vars/all/offline.yml': 'file 0644',
      'ansible/inventory/prod/host_vars': 'dir 0755',
      'bin/offline-deploy.sh': 'file 0755',
    });
    expect(first.wireServer?.fileCount).toBe(seeded.wireServer?.files);
  });

  it('flushes every node: the table has SSTables on disk', async () => {
    // Arrange
    const client = createCassandraClient(stack);
    await client.connect();
    const id = (
      await client.execute(
        "SELECT id FROM system_schema.tables WHERE keyspace_name = 'brig' AND table_name = 'user'",
      )
    ).first();
    await client.shutdown();
    const tableDir = `user-${String(id?.get('id')).replaceAll('-', '')}`;

    // Act
    const dataFiles = stack.cassandra.nodes.map(
      (node) =>
        readdirSync(join(node.dataDir, 'brig', tableDir)).filter((f) => f.endsWith('-Data.db')).length,
    );

    // Assert
    expect(seeded.flushed).toBe(true);
    expect(dataFiles.every((n) => n > 0)).toBe(true);
  });

  it('changes nothing when seeding again with the same size and seed', async () => {
    // Arrange
    const before = await snapshotWire({ stack, detail: 'rows' });

    // Act
    await seedWire({ stack, size: 'smoke', seed });
    const after = await snapshotWire({ stack, detail: 'rows' });

    // Assert
    expect(diffSnapshots(before, after), noDifferences(diffSnapshots(before, after))).toEqual([]);
  });
});

describe('snapshotWire', () => {
  it('describes the same state the same way twice', async () => {
    // Arrange
    const a = await snapshotWire({ stack, detail: 'keys' });

    // Act
    const b = await snapshotWire({ stack, detail: 'keys' });
    const differences = diffSnapshots(a, b);

    // Assert
    expect(differences, noDifferences(differences)).toEqual([]);
    expect(tableOf(a, 'brig.user').digest).toBe(tableOf(b, 'brig.user').digest);
  });

  it('gives the same digests whatever the detail, keeping keys of short-TTL tables at detail digest', async () => {
    // Arrange
    const rows = await snapshotWire({
      stack,
      detail: 'rows',
      components: { cassandra: true },
    });

    // Act
    const digests = await snapshotWire({
      stack,
      detail: 'digest',
      components: { cassandra: true },
    });
    const differences = diffSnapshots(rows, digests);

    // Assert
    expect(differences, noDifferences(differences)).toEqual([]);
    expect(tableOf(digests, 'gundeck.notifications').rows).toBeUndefined();
    expect(tableOf(digests, 'brig.nonce').rows).toHaveLength(tableOf(digests, 'brig.nonce').rowCount);
  });
});

describe('mutateWire', () => {
  let before: WireSnapshot;
  let mutation: MutateResult;
  let differences: SnapshotDifference[];

  beforeAll(async () => {
    // The state is the seeded one here (seedWire's tests end by seeding again over it).
    before = await snapshotWire({ stack, detail: 'rows' });
    expect(diffSnapshots(first, before)).toEqual([]);
    mutation = await mutateWire({ stack, seed, round: 1 });
    const after = await snapshotWire({ stack, detail: 'rows' });
    differences = diffSnapshots(before, after, { maxPerTable: Number.POSITIVE_INFINITY });
  });

  it('shows every inserted row, and only those, as added', () => {
    // Arrange
    const expected = mutation.cassandra?.insertedRows.map((r) => `${r.table} ${r.key}`).sort();

    // Act
    const added = differences
      .filter((d) => d.area === 'cassandra' && d.change === 'added')
      .map((d) => `${d.target} ${d.key}`);

    // Assert
    expect(added.sort()).toEqual(expected);
    expect(mutation.cassandra?.inserted['brig.user']).toBe(5);
    expect(mutation.cassandra?.inserted['galley.conversation']).toBe(2);
    expect(mutation.cassandra?.inserted['galley.member']).toBeGreaterThanOrEqual(5);
    expect(mutation.flushed).toBe(true);
  });

  it('shows the renamed user and the incremented counter by column, the deleted prekey as removed', () => {
    // Arrange
    const expectedChanged = mutation.cassandra?.updated.flatMap((u) =>
      (u.columns ?? []).map((c) => `${u.table} ${u.key} ${c}`),
    );
    const expectedRemoved = mutation.cassandra?.deleted.map((d) => `${d.table} ${d.key}`);

    // Act
    const changed = differences.filter((d) => d.area === 'cassandra' && d.change === 'changed');
    const removed = differences.filter((d) => d.area === 'cassandra' && d.change === 'removed');

    // Assert
    expect(changed.map((d) => `${d.target} ${d.key} ${d.field}`).sort()).toEqual(expectedChanged?.sort());
    expect(changed.find((d) => d.field === 'name')?.message).toMatch(/→ ".* \(renamed, mutate-1\)"$/);
    expect(changed.find((d) => d.field === 'attempts')?.message).toMatch(/^"(\d)" → "(\d)"$/);
    expect(removed.map((d) => `${d.target} ${d.key}`)).toEqual(expectedRemoved);
    // The one schema change: the table a migration drops.
    expect(mutation.cassandra?.droppedTables).toEqual([retiredTable]);
    expect(differences.filter((d) => d.area === 'schema').map((d) => `${d.target} ${d.change}`)).toEqual([
      `${retiredTable} removed`,
    ]);
  });

  it('shows the objects added, overwritten (one at the same size) and deleted', () => {
    // Arrange
    const minio = mutation.minio;

    // Act
    const objects = differences.filter((d) => d.area === 'minio');
    const keys = (change: string): string[] =>
      [...new Set(objects.filter((d) => d.change === change).map((d) => d.key ?? ''))].sort();
    const sameSize = objects.filter((d) => d.key === minio?.overwritten[0]).map((d) => d.field);

    // Assert
    expect(keys('added')).toEqual([...(minio?.added ?? [])].sort());
    expect(keys('removed')).toEqual([...(minio?.deleted ?? [])].sort());
    expect(keys('changed')).toEqual([...(minio?.overwritten ?? [])].sort());
    expect(sameSize).toEqual(['sha256', 'metadata edited']);
  });

  it('shows the changed values.yaml and the added file', () => {
    // Arrange
    const wireServer = mutation.wireServer;

    // Act
    const files = differences
      .filter((d) => d.area === 'wire-server')
      .map((d) => `${d.change} ${d.key} ${d.field ?? ''}`.trim());

    // Assert
    expect(files).toEqual([
      `added ${wireServer?.added[0]}`,
      `changed ${wireServer?.changed[0]} size`,
      `changed ${wireServer?.changed[0]} sha256`,
    ]);
  });

  it('goes back to the seeded state when seeding with reset', async () => {
    // Arrange
    const mutated = await snapshotWire({ stack, detail: 'keys' });

    // Act
    await seedWire({ stack, size: 'smoke', seed, reset: true });
    const reseeded = await snapshotWire({ stack, detail: 'keys' });
    const back = diffSnapshots(before, reseeded);

    // Assert
    expect(diffSnapshots(before, mutated).length).toBeGreaterThan(0);
    expect(back, noDifferences(back)).toEqual([]);
  });
});

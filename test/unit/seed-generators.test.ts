import { describe, expect, it } from 'vitest';
import { rowParams } from '../../local/seed/cassandra-writer.js';
import { objectBody, objectSha256, seededObjects } from '../../local/seed/minio-objects.js';
import { canonicalJson, normalizeValue } from '../../local/seed/normalize.js';
import { deterministicBytes, deterministicStream, Rng } from '../../local/seed/prng.js';
import { insertStatement, schemaStatements, seededTables, tableDef } from '../../local/seed/schema.js';
import { multipartThresholdBytes, planForSize } from '../../local/seed/size-plan.js';
import { ttlQueryable } from '../../local/seed/snapshot.js';
import { WireDataGenerator } from '../../local/seed/wire-data.js';
import { seededFolderFiles } from '../../local/seed/wire-server-folder.js';

const MiB = 1024 * 1024;

function allRows(generator: WireDataGenerator): string[] {
  const { plan } = generator;
  const rows = [
    ...Array.from({ length: plan.teams }, (_, t) => generator.teamRows(t).rows),
    ...Array.from({ length: plan.users }, (_, i) => generator.userRows('seed', i, plan.users).rows),
    ...Array.from({ length: plan.conversations }, (_, c) => generator.seededConversationRows(c).rows),
  ].flat();
  return rows.map((row) => {
    const values = Object.fromEntries(Object.entries(row.values).map(([k, v]) => [k, normalizeValue(v)]));
    return canonicalJson({ table: row.table, values, ttl: row.ttl ?? null });
  });
}

describe('Rng', () => {
  it('gives equal sequences for equal labels and different ones otherwise', () => {
    // Arrange
    const [a, b, c] = [new Rng(42, 'user', 1), new Rng(42, 'user', 1), new Rng(42, 'user', 2)];

    // Act
    const [sa, sb, sc] = [a, b, c].map((rng) => [rng.uuid(), rng.hex(8), rng.int(0, 1000)]);

    // Assert
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
    expect(sa?.[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('streams the same bytes it returns as a buffer', async () => {
    // Arrange
    const length = 2 * MiB + 123;
    const chunks: Buffer[] = [];

    // Act
    for await (const chunk of deterministicStream(length, ['x', 1])) chunks.push(chunk as Buffer);

    // Assert
    expect(Buffer.concat(chunks).equals(deterministicBytes(length, 'x', 1))).toBe(true);
  });
});

describe('planForSize', () => {
  it('knows smoke, bench and sizes in MiB or GiB', () => {
    // Arrange
    const sizes = ['smoke', 'bench', '256MiB', '2GiB'];

    // Act
    const plans = sizes.map(planForSize);

    // Assert
    expect(plans.map((p) => p.name)).toEqual(sizes);
    expect(plans[1]?.targetBytes).toBe(1024 * MiB);
    expect(plans[2]?.targetBytes).toBe(256 * MiB);
    expect(plans[3]?.users).toBeGreaterThan(plans[1]?.users ?? 0);
    expect(plans.every((p) => p.objects.large >= 1)).toBe(true);
  });

  it('rejects an unknown size, naming the accepted forms', () => {
    // Arrange
    const size = 'huge';

    // Act
    const act = (): unknown => planForSize(size);

    // Assert
    expect(act).toThrow(/unknown size 'huge': use smoke, bench, <N>MiB or <N>GiB/);
  });
});

describe('WireDataGenerator', () => {
  it('generates the same rows for the same seed and different rows for another seed', () => {
    // Arrange
    const plan = planForSize('smoke');

    // Act
    const first = allRows(new WireDataGenerator(plan, 42));
    const again = allRows(new WireDataGenerator(plan, 42));
    const other = allRows(new WireDataGenerator(plan, 7));

    // Assert
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
  });

  it('keeps smoke at a few hundred rows that touch every seeded table', () => {
    // Arrange
    const generator = new WireDataGenerator(planForSize('smoke'), 42);

    // Act
    const rows = allRows(generator).map((r) => JSON.parse(r) as { table: string });
    const counters = Array.from(
      { length: generator.plan.users },
      (_, i) => generator.userRows('seed', i, 12).counters,
    ).flat();
    const tables = new Set([...rows.map((r) => r.table), ...counters.map((c) => c.table)]);

    // Assert
    expect(rows.length + counters.length).toBeGreaterThan(150);
    expect(rows.length + counters.length).toBeLessThan(600);
    expect([...tables].sort()).toEqual(seededTables.map((t) => `${t.keyspace}.${t.name}`).sort());
  });

  it('never generates two rows with the same primary key', () => {
    // Arrange
    const generator = new WireDataGenerator(planForSize('smoke'), 42);
    const { plan } = generator;

    // Act
    const rows = [
      ...Array.from({ length: plan.teams }, (_, t) => generator.teamRows(t).rows),
      ...Array.from({ length: plan.users }, (_, i) => generator.userRows('seed', i, plan.users).rows),
      ...Array.from({ length: plan.conversations }, (_, c) => generator.seededConversationRows(c).rows),
    ].flat();
    const keys = rows.map((row) => {
      const def = tableDef(row.table);
      return `${row.table} ${canonicalJson([...def.partitionKey, ...def.clustering].map((c) => normalizeValue(row.values[c])))}`;
    });

    // Assert
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('schemaStatements', () => {
  it('creates the keyspaces with RF min(3, nodes) and the features a backup must keep', () => {
    // Arrange
    const nodes = [1, 3, 5];

    // Act
    const [one, three, five] = nodes.map((n) => schemaStatements(n).join('\n'));

    // Assert
    expect(one).toContain(
      "CREATE KEYSPACE IF NOT EXISTS brig WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    );
    expect(three).toContain("'replication_factor': 3}");
    expect(five).toContain("'replication_factor': 3}");
    expect(one).toContain('CREATE TYPE IF NOT EXISTS brig.asset');
    expect(one).toContain('"assets" list<frozen<asset>>');
    expect(one).toContain('"perms" frozen<permissions>');
    expect(one).toContain('default_time_to_live = 300');
    expect(one).toMatch(/gundeck\."notifications".*TimeWindowCompactionStrategy.*gc_grace_seconds = 0/);
    expect(one).toContain('CREATE INDEX IF NOT EXISTS conn_status ON brig."connection" ("status")');
    expect(one).toContain('"attempts" counter');
  });

  it('writes counters with UPDATE … + ? and TTL tables with USING TTL ?', () => {
    // Arrange
    const counter = tableDef('brig.rate_limit_counter');
    const cookies = tableDef('brig.user_cookies');

    // Act
    const [counterCql, cookiesCql] = [insertStatement(counter), insertStatement(cookies)];
    const params = rowParams(cookies, {
      table: 'brig.user_cookies',
      values: { user: 'u', label: 'web' },
      ttl: 600,
    });

    // Assert
    expect(counterCql).toBe(
      'UPDATE brig."rate_limit_counter" SET "attempts" = "attempts" + ?, "bytes" = "bytes" + ? WHERE "key" = ? AND "window" = ?',
    );
    expect(cookiesCql).toMatch(/^INSERT INTO brig\."user_cookies" \(.*\) VALUES \(\?, .*\) USING TTL \?$/);
    expect(params).toEqual(['u', undefined, undefined, undefined, undefined, 'web', 600]);
  });
});

describe('ttlQueryable', () => {
  it('allows TTL() on regular frozen or scalar columns only', () => {
    // Arrange
    const cases: [string, string][] = [
      ['regular', 'text'],
      ['regular', 'frozen<permissions>'],
      ['static', 'blob'],
      ['partition_key', 'uuid'],
      ['regular', 'counter'],
      ['regular', 'set<int>'],
      ['regular', 'list<frozen<asset>>'],
      ['regular', 'pubkey'],
    ];

    // Act
    const allowed = cases.map(([kind, type]) => ttlQueryable(kind, type, new Set(['pubkey'])));

    // Assert
    expect(allowed).toEqual([true, true, true, false, false, false, false, false]);
  });
});

describe('seededObjects', () => {
  it('has a 0-byte object, awkward keys, Wire key shapes and one object above the multipart threshold', () => {
    // Arrange
    const plan = planForSize('smoke');

    // Act
    const objects = seededObjects(plan, 42, new WireDataGenerator(plan, 42));
    const keys = objects.map((o) => o.key);

    // Assert
    expect(objects.some((o) => o.size === 0)).toBe(true);
    expect(keys).toContain('café/ñ 🎉.png');
    expect(keys.some((k) => k.includes(' ') && k.includes('('))).toBe(true);
    expect(keys.some((k) => k.includes('+') && k.includes('%') && k.includes('='))).toBe(true);
    expect(keys.some((k) => /^v3\/persistent\/[0-9a-f-]{36}$/.test(k))).toBe(true);
    expect(keys.some((k) => /^v3\/eternal\/[0-9a-f-]{36}$/.test(k))).toBe(true);
    expect(objects.filter((o) => o.size > multipartThresholdBytes).map((o) => o.size)).toEqual([17 * MiB]);
    expect(new Set(keys).size).toBe(keys.length);
    expect(objects.every((o) => typeof o.metadata.uploader === 'string')).toBe(true);
    // The shapes of a long-lived installation (issue 8).
    expect(keys.some((k) => Buffer.byteLength(k) === 1024)).toBe(true);
    expect(objects.find((o) => o.key === 'v3/folder/')?.size).toBe(0);
    expect(objects.some((o) => o.tags && Object.keys(o.tags).length > 0)).toBe(true);
    expect(objects.find((o) => o.headers?.contentLanguage)?.headers).toMatchObject({
      contentEncoding: expect.any(String),
      contentDisposition: expect.any(String),
      cacheControl: expect.any(String),
      expires: expect.any(Date),
    });
  });

  it('derives each body from its labels: same bytes every time, text objects are valid UTF-8', async () => {
    // Arrange
    const plan = planForSize('smoke');
    const objects = seededObjects(plan, 42, new WireDataGenerator(plan, 42));
    const png = objects.find((o) => o.key === 'café/ñ 🎉.png');
    const text = objects.find((o) => o.contentType.startsWith('text/'));
    if (!png || !text) throw new Error('seededObjects lost its png or text object');

    // Act
    const first = await objectSha256(png);
    const second = await objectSha256(png);
    const body = objectBody(text) as Buffer;

    // Assert
    expect(first).toBe(second);
    expect((objectBody(png) as Buffer).subarray(0, 4).toString('latin1')).toBe('\x89PNG');
    expect(body.length).toBe(text.size);
    expect(Buffer.from(body.toString('utf8')).equals(body)).toBe(true);
  });
});

describe('seededFolderFiles', () => {
  it('is deterministic, has values, secrets with mode 0600, the inventory and a binary file', () => {
    // Arrange
    const seed = 42;

    // Act
    const files = seededFolderFiles(seed);
    const again = seededFolderFiles(seed);
    const byPath = new Map(files.map((f) => [f.path, f]));

    // Assert
    expect(again).toEqual(files);
    expect(byPath.get('values/wire-server/values.yaml')?.mode).toBe(0o644);
    expect(byPath.get('values/wire-server/secrets.yaml')?.mode).toBe(0o600);
    expect(byPath.get('values/wire-server/secrets.yaml')?.content.toString()).toContain('FAKE');
    expect(byPath.has('values/databases-ephemeral/values.yaml')).toBe(true);
    expect(byPath.has('ansible/inventory/prod/hosts.ini')).toBe(true);
    expect(byPath.get('bin/offline-deploy.sh')?.mode).toBe(0o755);
    expect(byPath.get('values/nginx-ingress-services/certs/wire.example.com.der')?.content.includes(0)).toBe(
      true,
    );
    expect(seededFolderFiles(7)).not.toEqual(files);
  });
});

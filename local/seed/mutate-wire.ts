import { appendFile, chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Client } from 'cassandra-driver';
import { readStackInfo, type StackInfo } from '../stack-info.js';
import { emptyCounts, writeCounters, writeRows } from './cassandra-writer.js';
import { selectComponents, type WireComponents } from './components.js';
import {
  type ConsistencyName,
  createCassandraClient,
  createSourceS3Client,
  flushNodes,
} from './connections.js';
import { assetsBucket, forEachConcurrently, type ObjectSpec, putObject } from './minio-objects.js';
import { canonicalJson, normalizeValue } from './normalize.js';
import { Rng } from './prng.js';
import type { ProgressListener } from './progress.js';
import { quoteIdent, seededKeyspaces, tableDef } from './schema.js';
import { dropRetiredTable } from './schema-history.js';
import { defaultSeed } from './seed-wire.js';
import { planForSize } from './size-plan.js';
import { type CounterWrite, type RowWrite, WireDataGenerator } from './wire-data.js';

/**
 * The "data changed between two backups" step of the tests and the DR drill. On a seeded stack it
 * inserts new users (with all their rows), new conversations and a new member of an existing
 * conversation, renames a user, deletes a prekey (a tombstone in a newer SSTable), increments a
 * counter, drops a table (`brig.id_mapping`, as brig's migration 62 does), then flushes; adds, overwrites (one at the same size) and deletes MinIO objects; changes
 * `values/wire-server/values.yaml` and adds a file. It returns exactly what it did, with row keys in
 * the snapshot's key format, so a test can match the snapshot diff against it.
 */

/** Options of {@link mutateWire}. */
export interface MutateOptions {
  /** PRNG seed (use the seed the state was seeded with). @default 42 */
  readonly seed?: number;
  /** Which mutation: each round changes different things. @default 1 */
  readonly round?: number;
  /** The stack to change. @default readStackInfo() */
  readonly stack?: StackInfo;
  /** Run `nodetool flush` on every node after the Cassandra changes. @default true */
  readonly flush?: boolean;
  /** Parts to change; when given, only those set to true. @default all three */
  readonly components?: WireComponents;
  /** How much to change. */
  readonly counts?: {
    /** New users. @default 5 */
    readonly users?: number;
    /** New conversations. @default 2 */
    readonly conversations?: number;
    /** New objects. @default 5 */
    readonly objectsAdded?: number;
    /** Overwritten objects (the first keeps its size). @default 3 */
    readonly objectsOverwritten?: number;
    /** Deleted objects. @default 2 */
    readonly objectsDeleted?: number;
  };
  /** Write consistency. @default 'all' */
  readonly consistency?: ConsistencyName;
  /** A connected client to use (not shut down); one is created otherwise. */
  readonly cassandraClient?: Client;
  /** An S3 client for the source MinIO; one is created otherwise. */
  readonly s3Client?: S3Client;
  /** Called as work progresses. */
  readonly onProgress?: ProgressListener;
}

/** A row the mutation touched: its table and its key in the snapshot's format. */
export interface TouchedRow {
  readonly table: string;
  readonly key: string;
  /** Columns changed (updates and counters). */
  readonly columns?: string[];
}

/** What {@link mutateWire} did. */
export interface MutateResult {
  readonly seed: number;
  readonly round: number;
  readonly cassandra?: {
    /** New rows per `keyspace.table` (counter rows included). */
    readonly inserted: Record<string, number>;
    /** Every new row. */
    readonly insertedRows: TouchedRow[];
    readonly updated: TouchedRow[];
    readonly deleted: TouchedRow[];
    readonly newUserIds: string[];
    readonly newConversationIds: string[];
    /** Tables dropped (`keyspace.table`), as a schema migration drops them. */
    readonly droppedTables: string[];
  };
  readonly minio?: {
    readonly bucket: string;
    readonly added: string[];
    readonly overwritten: string[];
    readonly deleted: string[];
  };
  readonly wireServer?: { readonly path: string; readonly changed: string[]; readonly added: string[] };
  readonly flushed: boolean;
}

/** Key of a row in the snapshot's format: canonical JSON of the normalized primary key values. */
export function rowKey(table: string, values: Readonly<Record<string, unknown>>): string {
  const def = tableDef(table);
  return canonicalJson([...def.partitionKey, ...def.clustering].map((c) => normalizeValue(values[c])));
}

/** Applies one round of changes to a seeded stack; see the module comment. */
export async function mutateWire(options: MutateOptions = {}): Promise<MutateResult> {
  const seed = options.seed ?? defaultSeed;
  const round = options.round ?? 1;
  const stack = options.stack ?? readStackInfo();
  const components = selectComponents(options.components);
  const progress = options.onProgress ?? (() => {});
  const counts = {
    users: 5,
    conversations: 2,
    objectsAdded: 5,
    objectsOverwritten: 3,
    objectsDeleted: 2,
    ...options.counts,
  };
  const namespace = `mutate-${round}`;
  let cassandra: MutateResult['cassandra'];
  let minio: MutateResult['minio'];
  let wireServer: MutateResult['wireServer'];

  if (components.cassandra) {
    const client =
      options.cassandraClient ?? createCassandraClient(stack, { consistency: options.consistency ?? 'all' });
    try {
      if (!options.cassandraClient) await client.connect();
      cassandra = await mutateCassandra(client, seed, namespace, counts.users, counts.conversations);
      progress({
        phase: 'mutate',
        message: `cassandra: ${cassandra.insertedRows.length} rows inserted, 1 updated, 1 deleted`,
      });
    } finally {
      if (!options.cassandraClient) await client.shutdown();
    }
  }
  const flushed = (options.flush ?? true) && components.cassandra;
  if (flushed) {
    progress({ phase: 'flush', message: `nodetool flush on ${stack.cassandra.nodes.length} node(s)` });
    await flushNodes(stack, seededKeyspaces);
  }
  if (components.minio) {
    const s3 = options.s3Client ?? createSourceS3Client(stack);
    try {
      minio = await mutateMinio(s3, seed, namespace, counts);
      progress({
        phase: 'mutate',
        message: `minio: ${minio.added.length} added, ${minio.overwritten.length} overwritten, ${minio.deleted.length} deleted`,
      });
    } finally {
      if (!options.s3Client) s3.destroy();
    }
  }
  if (components.wireServer) {
    wireServer = await mutateFolder(stack.deployHost.wireServerPath, round);
    progress({
      phase: 'mutate',
      message: `wire-server: changed ${wireServer.changed.join(', ')}, added ${wireServer.added.join(', ')}`,
    });
  }
  return {
    seed,
    round,
    ...(cassandra ? { cassandra } : {}),
    ...(minio ? { minio } : {}),
    ...(wireServer ? { wireServer } : {}),
    flushed,
  };
}

async function mutateCassandra(
  client: Client,
  seed: number,
  namespace: string,
  userCount: number,
  conversationCount: number,
): Promise<NonNullable<MutateResult['cassandra']>> {
  // The smoke plan only shapes the new users (clients, prekeys, notifications): small and quick.
  const data = new WireDataGenerator(planForSize('smoke'), seed);
  const rows: RowWrite[] = [];
  const counters: CounterWrite[] = [];
  const newUsers = Array.from({ length: userCount }, (_, k) => data.user(namespace, k));
  for (let k = 0; k < userCount; k++) {
    const generated = data.userRows(namespace, k, userCount);
    rows.push(...generated.rows);
    counters.push(...generated.counters);
  }

  // Existing state, read in token order (deterministic for a given state).
  const existingUsers = (await client.execute('SELECT id, name FROM brig."user" LIMIT 50')).rows.map((r) => ({
    id: String(r.get('id')),
    name: String(r.get('name')),
  }));
  const newIds = new Set(newUsers.map((u) => u.id));
  const oldUsers = existingUsers.filter((u) => !newIds.has(u.id));
  const [renamed, ...others] = oldUsers;
  if (!renamed || others.length < 2)
    throw new Error('seed: mutate needs a seeded stack (brig.user has too few rows): run seed first');

  const newConversationIds: string[] = [];
  for (let c = 0; c < conversationCount; c++) {
    const creator = newUsers[c % newUsers.length];
    if (!creator) break;
    const members = [
      creator,
      ...(newUsers.length > 1 ? [newUsers[(c + 1) % newUsers.length] as typeof creator] : []),
      ...others.slice(c * 2, c * 2 + 2),
    ];
    const unique = [...new Map(members.map((m) => [m.id, m])).values()];
    newConversationIds.push(data.conversationId(namespace, c));
    rows.push(...data.conversationRows(namespace, c, unique));
  }

  // A new member (a new user) in an existing conversation.
  const existingConv = (await client.execute('SELECT conv FROM galley.conversation LIMIT 1')).first();
  const joining = newUsers[0];
  if (existingConv && joining) {
    const conv = String(existingConv.get('conv'));
    rows.push(data.memberRow(conv, joining.id, false, new Rng(seed, namespace, 'join')));
    rows.push({ table: 'galley.user', values: { user: joining.id, conv } });
  }

  const writeCounts = emptyCounts();
  await writeRows(client, rows, 64, writeCounts);
  await writeCounters(client, counters, 64, writeCounts);
  const insertedRows: TouchedRow[] = [
    ...rows.map((r) => ({ table: r.table, key: rowKey(r.table, r.values) })),
    ...counters.map((c) => ({ table: c.table, key: rowKey(c.table, c.key) })),
  ];

  // An update, a delete (tombstone) and a counter increment on existing rows.
  const newName = `${renamed.name} (renamed, ${namespace})`;
  await client.execute('UPDATE brig."user" SET name = ? WHERE id = ?', [newName, renamed.id], {
    prepare: true,
  });
  const updated: TouchedRow[] = [
    { table: 'brig.user', key: rowKey('brig.user', { id: renamed.id }), columns: ['name'] },
  ];
  const prekey = (await client.execute('SELECT "user", client, "key" FROM brig.prekeys LIMIT 1')).first();
  const deleted: TouchedRow[] = [];
  if (prekey) {
    const values = { user: prekey.get('user'), client: prekey.get('client'), key: prekey.get('key') };
    await client.execute(
      'DELETE FROM brig.prekeys WHERE "user" = ? AND client = ? AND "key" = ?',
      [values.user, values.client, values.key],
      {
        prepare: true,
      },
    );
    deleted.push({ table: 'brig.prekeys', key: rowKey('brig.prekeys', values) });
  }
  const newCounterKeys = new Set(counters.map((c) => String(c.key.key)));
  const counterRows = (
    await client.execute(
      `SELECT ${quoteIdent('key')}, ${quoteIdent('window')} FROM brig.rate_limit_counter LIMIT 20`,
    )
  ).rows;
  const counterRow = counterRows.find((r) => !newCounterKeys.has(String(r.get('key'))));
  if (counterRow) {
    const values = { key: counterRow.get('key'), window: counterRow.get('window') };
    await client.execute(
      'UPDATE brig.rate_limit_counter SET attempts = attempts + 1 WHERE "key" = ? AND "window" = ?',
      [values.key, values.window],
      { prepare: true },
    );
    updated.push({
      table: 'brig.rate_limit_counter',
      key: rowKey('brig.rate_limit_counter', values),
      columns: ['attempts'],
    });
  }
  const inserted: Record<string, number> = {};
  for (const row of insertedRows) inserted[row.table] = (inserted[row.table] ?? 0) + 1;
  // A schema migration between the two backups drops a table (restoring the older one brings it back).
  const droppedTables = await dropRetiredTable(client);
  return {
    inserted,
    insertedRows,
    updated,
    deleted,
    newUserIds: newUsers.map((u) => u.id),
    newConversationIds,
    droppedTables,
  };
}

async function mutateMinio(
  s3: S3Client,
  seed: number,
  namespace: string,
  counts: { objectsAdded: number; objectsOverwritten: number; objectsDeleted: number },
): Promise<NonNullable<MutateResult['minio']>> {
  const listed: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: assetsBucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) listed.push({ key: o.Key ?? '', size: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  const candidates = listed
    .filter((o) => o.key.startsWith('v3/') && o.size > 0 && o.size < 1024 * 1024)
    .map((o) => o.key)
    .sort();
  const rng = new Rng(seed, namespace, 'minio');
  const picked = rng.sample(candidates, counts.objectsOverwritten + counts.objectsDeleted);
  if (picked.length < counts.objectsOverwritten + counts.objectsDeleted) {
    throw new Error(
      `seed: mutate needs a seeded bucket ${assetsBucket} (too few small objects): run seed first`,
    );
  }
  const overwrite = picked.slice(0, counts.objectsOverwritten);
  const remove = picked.slice(counts.objectsOverwritten);
  const sizes = new Map(listed.map((o) => [o.key, o.size]));

  const added: ObjectSpec[] = Array.from({ length: counts.objectsAdded }, (_, k) => {
    const r = new Rng(seed, namespace, 'object-add', k);
    return {
      key: k === 0 ? `${namespace}/neue Datei ü ✓ +1.txt` : `v3/persistent/${r.uuid()}`,
      size: k === 1 ? r.int(1024 * 1024, 2 * 1024 * 1024) : r.int(1024, 64 * 1024),
      contentType: k === 0 ? 'text/plain; charset=utf-8' : 'application/octet-stream',
      metadata: { uploader: r.uuid(), retention: 'persistent', conv: r.uuid() },
      labels: [seed, namespace, 'add', k],
      ...(k === 0 ? { magic: 'text' as const } : {}),
    };
  });
  // Overwrites keep the content type and metadata (plus an `edited` mark); the first keeps its
  // size too, so only its checksum tells the change.
  const rewritten: ObjectSpec[] = await Promise.all(
    overwrite.map(async (key, k) => {
      const head = await s3.send(new HeadObjectCommand({ Bucket: assetsBucket, Key: key }));
      const size = sizes.get(key) ?? 1024;
      return {
        key,
        size: k === 0 ? size : size + 17 * (k + 1),
        contentType: head.ContentType ?? 'application/octet-stream',
        metadata: { ...head.Metadata, edited: namespace },
        labels: [seed, namespace, 'overwrite', key],
      };
    }),
  );
  await forEachConcurrently([...added, ...rewritten], 8, (spec) => putObject(s3, assetsBucket, spec));
  await s3.send(
    new DeleteObjectsCommand({
      Bucket: assetsBucket,
      Delete: { Objects: remove.map((Key) => ({ Key })), Quiet: true },
    }),
  );
  return { bucket: assetsBucket, added: added.map((s) => s.key), overwritten: overwrite, deleted: remove };
}

async function mutateFolder(path: string, round: number): Promise<NonNullable<MutateResult['wireServer']>> {
  const changed = 'values/wire-server/values.yaml';
  const added = `values/wire-server/values-drill-round-${round}.yaml`;
  try {
    await readFile(join(path, changed));
  } catch (error) {
    throw new Error(
      `seed: mutate needs a seeded wire-server folder (${join(path, changed)} unreadable): run seed first`,
      {
        cause: error,
      },
    );
  }
  await appendFile(
    join(path, changed),
    `\n# changed by the backup drill, round ${round}\nbackupDrill:\n  round: ${round}\n`,
  );
  await writeFile(
    join(path, added),
    `# added by the backup drill, round ${round}\nbrig:\n  replicaCount: ${3 + round}\n`,
  );
  await chmod(join(path, added), 0o644);
  return { path, changed: [changed], added: [added] };
}

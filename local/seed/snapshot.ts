import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Client } from 'cassandra-driver';
import { readStackInfo, type StackInfo } from '../stack-info.js';
import { selectComponents, type WireComponents } from './components.js';
import { type ConsistencyName, createCassandraClient, createSourceS3Client } from './connections.js';
import { assetsBucket, forEachConcurrently } from './minio-objects.js';
import { canonicalJson, hashJson, type Json, MultisetDigest, normalizeValue } from './normalize.js';
import type { SeedProgress } from './progress.js';
import { quoteIdent, seededKeyspaces } from './schema.js';

/**
 * A canonical, comparable description of the whole Wire state the seeder manages: every row of
 * every table of the keyspaces (schema, count, order-independent digest, per-row key and hash,
 * cell expiries, full values on request), every object of the buckets (size, SHA-256, content
 * type, user metadata) and every entry of the wire-server folder (type, mode, SHA-256). The DR
 * drill takes one before a disaster and one after the restore and compares them with
 * `diffSnapshots`. Tables are read page by page and hashed as they stream.
 */

/** How much of each row a snapshot keeps. */
export type SnapshotDetail =
  /** Full normalized values of every row (diffs name the column; memory grows with the data). */
  | 'rows'
  /** Primary key, row hash and cell expiries of every row (diffs name the row). */
  | 'keys'
  /**
   * Per-table count, digest and TTL-cell count only (diffs name the table); tables with a default
   * TTL of a day or less still keep keys, as their rows expire during a drill.
   */
  | 'digest';

/** Tables whose default TTL is at most this (seconds) keep row keys even at detail `digest`. */
export const shortTtlSeconds = 86_400;

/** One column of a table's schema, as `system_schema.columns` has it. */
export interface ColumnSchema {
  readonly kind: string;
  readonly type: string;
  readonly position: number;
  readonly clusteringOrder: string;
}

/** A table's schema: keys, columns, the options a restore must keep, and secondary indexes. */
export interface TableSchema {
  readonly partitionKey: string[];
  readonly clustering: string[];
  readonly columns: Record<string, ColumnSchema>;
  readonly options: Record<string, Json>;
  readonly indexes: Record<string, Json>;
  /**
   * Columns the table has dropped (`system_schema.dropped_columns`): kind, type and drop time (ms), which
   * a restore must keep for SSTables written before the drop to load. Absent in older snapshot files.
   */
  readonly droppedColumns?: Record<string, Json>;
}

/** One row of a table snapshot. */
export interface RowEntry {
  /** Canonical JSON of the primary key values, in key order (`["<uuid>","client",3]`). */
  readonly key: string;
  /** First 32 hex digits of the SHA-256 of the row's canonical JSON (TTLs excluded). */
  readonly hash: string;
  /** Expiry (epoch seconds) of each cell that has a TTL. */
  readonly expires?: Record<string, number>;
  /** Normalized values (detail `rows` only). */
  readonly values?: Record<string, Json>;
}

/** Snapshot of one table. */
export interface TableSnapshot {
  readonly name: string;
  readonly schema: TableSchema;
  readonly rowCount: number;
  /** Order-independent digest of all rows (see `MultisetDigest`). */
  readonly digest: string;
  /** Number of cells that carry a TTL. */
  readonly ttlCells: number;
  /** When the scan started (epoch seconds): rows expiring before this cannot be in it. */
  readonly scannedAt: number;
  /** Rows sorted by key (details `rows` and `keys`). */
  readonly rows?: RowEntry[];
}

/** Snapshot of one keyspace. */
export interface KeyspaceSnapshot {
  readonly name: string;
  readonly replication: Record<string, string>;
  readonly durableWrites: boolean;
  /** User-defined types: name → field → CQL type. */
  readonly types: Record<string, Record<string, string>>;
  readonly tables: TableSnapshot[];
}

/** One object of a bucket. */
export interface ObjectEntry {
  readonly key: string;
  readonly size: number;
  readonly sha256: string;
  readonly contentType?: string;
  readonly metadata: Record<string, string>;
  readonly contentEncoding?: string;
  readonly contentDisposition?: string;
  readonly cacheControl?: string;
  readonly contentLanguage?: string;
  /** The Expires header, as an ISO time. */
  readonly expires?: string;
  /** Object tags (absent: none). */
  readonly tags?: Record<string, string>;
}

/** Snapshot of one bucket. */
export interface BucketSnapshot {
  readonly name: string;
  readonly exists: boolean;
  readonly objectCount: number;
  readonly totalBytes: number;
  /** Sorted by key. */
  readonly objects: ObjectEntry[];
}

/** One entry of the wire-server folder. */
export interface FolderEntry {
  /** Path relative to the folder, `/`-separated. */
  readonly path: string;
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  /** Permission bits as four octal digits (`0644`). */
  readonly mode: string;
  readonly size?: number;
  readonly sha256?: string;
  /** Symlink target. */
  readonly target?: string;
}

/** Snapshot of the wire-server folder. */
export interface FolderSnapshot {
  readonly path: string;
  readonly exists: boolean;
  readonly fileCount: number;
  readonly totalBytes: number;
  /** Sorted by path. */
  readonly entries: FolderEntry[];
}

/** The whole snapshot; JSON-safe (see `writeSnapshotFile`). */
export interface WireSnapshot {
  readonly format: typeof snapshotFormat;
  readonly takenAt: string;
  readonly detail: SnapshotDetail;
  readonly cassandra?: { readonly keyspaces: KeyspaceSnapshot[]; readonly missingKeyspaces: string[] };
  readonly minio?: { readonly buckets: BucketSnapshot[] };
  readonly wireServer?: FolderSnapshot;
}

/** Format tag of {@link WireSnapshot}. */
export const snapshotFormat = 'wire-backup-seed-snapshot/1';

/** Options of {@link snapshotWire}. */
export interface SnapshotOptions {
  /** The stack to read. @default readStackInfo() */
  readonly stack?: StackInfo;
  /** Keyspaces to describe. @default the seeded keyspaces (brig, galley, gundeck, spar) */
  readonly keyspaces?: readonly string[];
  /** Buckets of the source MinIO to describe. @default ['assets'] */
  readonly buckets?: readonly string[];
  /** The wire-server folder. @default stack.deployHost.wireServerPath */
  readonly wireServerPath?: string;
  /** Parts to describe; when given, only those set to true. @default all three */
  readonly components?: WireComponents;
  /** How much of each row to keep. @default 'keys' */
  readonly detail?: SnapshotDetail;
  /** Rows per page. @default 1000 */
  readonly fetchSize?: number;
  /** Read consistency. @default 'localQuorum' */
  readonly consistency?: ConsistencyName;
  /** Tables read at once. @default 4 */
  readonly tableConcurrency?: number;
  /** Objects read at once. @default 8 */
  readonly objectConcurrency?: number;
  /** A connected client to use (not shut down); one is created otherwise. */
  readonly cassandraClient?: Client;
  /** An S3 client for the source MinIO; one is created otherwise. */
  readonly s3Client?: S3Client;
  /** Called as work progresses. */
  readonly onProgress?: (event: SeedProgress) => void;
}

/** Describes the current state of the stack's Cassandra keyspaces, MinIO buckets and wire-server folder. */
export async function snapshotWire(options: SnapshotOptions = {}): Promise<WireSnapshot> {
  const components = selectComponents(options.components);
  const stack = options.stack ?? readStackInfo();
  const detail = options.detail ?? 'keys';
  const takenAt = new Date().toISOString();
  const progress = options.onProgress ?? (() => {});
  let cassandra: WireSnapshot['cassandra'];
  let minio: WireSnapshot['minio'];
  let wireServer: WireSnapshot['wireServer'];
  if (components.cassandra) {
    const client =
      options.cassandraClient ??
      createCassandraClient(stack, {
        consistency: options.consistency ?? 'localQuorum',
        nativeCollections: true,
      });
    try {
      if (!options.cassandraClient) await client.connect();
      cassandra = await snapshotCassandra(client, options.keyspaces ?? seededKeyspaces, {
        detail,
        fetchSize: options.fetchSize ?? 1000,
        tableConcurrency: options.tableConcurrency ?? 4,
        progress,
      });
    } finally {
      if (!options.cassandraClient) await client.shutdown();
    }
  }
  if (components.minio) {
    const s3 = options.s3Client ?? createSourceS3Client(stack);
    try {
      const buckets: BucketSnapshot[] = [];
      for (const bucket of options.buckets ?? [assetsBucket]) {
        buckets.push(await snapshotBucket(s3, bucket, options.objectConcurrency ?? 8, progress));
      }
      minio = { buckets };
    } finally {
      if (!options.s3Client) s3.destroy();
    }
  }
  if (components.wireServer) {
    wireServer = await snapshotFolder(options.wireServerPath ?? stack.deployHost.wireServerPath, progress);
  }
  return {
    format: snapshotFormat,
    takenAt,
    detail,
    ...(cassandra ? { cassandra } : {}),
    ...(minio ? { minio } : {}),
    ...(wireServer ? { wireServer } : {}),
  };
}

interface CassandraScanOptions {
  readonly detail: SnapshotDetail;
  readonly fetchSize: number;
  readonly tableConcurrency: number;
  readonly progress: (event: SeedProgress) => void;
}

type SchemaRow = Record<string, unknown>;

/** Whether `TTL(column)` is allowed: a regular/static, non-counter, frozen or non-collection column. */
export function ttlQueryable(kind: string, type: string, userTypes: ReadonlySet<string>): boolean {
  if (kind !== 'regular' && kind !== 'static') return false;
  if (type === 'counter') return false;
  if (/^(set|list|map)</.test(type)) return false;
  return !userTypes.has(type);
}

function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value ?? {});
  for (const [k, v] of entries.sort(([a], [b]) => (String(a) < String(b) ? -1 : 1)))
    out[String(k)] = String(v);
  return out;
}

async function snapshotCassandra(
  client: Client,
  keyspaces: readonly string[],
  options: CassandraScanOptions,
): Promise<NonNullable<WireSnapshot['cassandra']>> {
  const result: KeyspaceSnapshot[] = [];
  const missing: string[] = [];
  for (const keyspace of keyspaces) {
    const ks = (
      await client.execute('SELECT * FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace], {
        prepare: true,
      })
    ).first();
    if (!ks) {
      missing.push(keyspace);
      continue;
    }
    const byKeyspace = async (table: string): Promise<SchemaRow[]> =>
      (
        await client.execute(`SELECT * FROM system_schema.${table} WHERE keyspace_name = ?`, [keyspace], {
          prepare: true,
        })
      ).rows as SchemaRow[];
    const [typeRows, tableRows, columnRows, indexRows, droppedRows] = await Promise.all(
      ['types', 'tables', 'columns', 'indexes', 'dropped_columns'].map(byKeyspace),
    );
    const types: Record<string, Record<string, string>> = {};
    for (const row of (typeRows ?? []).sort((a, b) =>
      String(a.type_name).localeCompare(String(b.type_name)),
    )) {
      const names = (row.field_names as string[] | null) ?? [];
      const fieldTypes = (row.field_types as string[] | null) ?? [];
      types[String(row.type_name)] = Object.fromEntries(names.map((n, i) => [n, fieldTypes[i] ?? '']));
    }
    const userTypes = new Set(Object.keys(types));
    const tableNames = (tableRows ?? []).map((row) => String(row.table_name)).sort();
    const tables: TableSnapshot[] = new Array(tableNames.length);
    await forEachConcurrently(tableNames, options.tableConcurrency, async (name, i) => {
      const tableRow = (tableRows ?? []).find((row) => row.table_name === name) ?? {};
      const schema = tableSchema(
        (columnRows ?? []).filter((row) => row.table_name === name),
        tableRow,
        (indexRows ?? []).filter((row) => row.table_name === name),
        (droppedRows ?? []).filter((row) => row.table_name === name),
      );
      options.progress({ phase: 'snapshot', message: `scanning ${keyspace}.${name}` });
      tables[i] = await scanTable(client, keyspace, name, schema, userTypes, options);
      options.progress({
        phase: 'snapshot',
        message: `${keyspace}.${name}: ${tables[i]?.rowCount} rows`,
        done: i + 1,
        total: tableNames.length,
      });
    });
    result.push({
      name: keyspace,
      replication: stringMap(ks.replication),
      durableWrites: Boolean(ks.durable_writes),
      types,
      tables,
    });
  }
  return { keyspaces: result, missingKeyspaces: missing };
}

function tableSchema(
  columnRows: SchemaRow[],
  tableRow: SchemaRow,
  indexRows: SchemaRow[],
  droppedRows: SchemaRow[],
): TableSchema {
  const byKind = (kind: string): string[] =>
    columnRows
      .filter((c) => c.kind === kind)
      .sort((a, b) => Number(a.position) - Number(b.position))
      .map((c) => String(c.column_name));
  const columns: Record<string, ColumnSchema> = {};
  for (const c of [...columnRows].sort((a, b) =>
    String(a.column_name).localeCompare(String(b.column_name)),
  )) {
    columns[String(c.column_name)] = {
      kind: String(c.kind),
      type: String(c.type),
      position: Number(c.position),
      clusteringOrder: String(c.clustering_order),
    };
  }
  const indexes: Record<string, Json> = {};
  for (const index of indexRows) {
    indexes[String(index.index_name)] = { kind: String(index.kind), options: stringMap(index.options) };
  }
  const droppedColumns: Record<string, Json> = {};
  for (const dropped of [...droppedRows].sort((a, b) =>
    String(a.column_name).localeCompare(String(b.column_name)),
  )) {
    droppedColumns[String(dropped.column_name)] = {
      kind: String(dropped.kind),
      type: String(dropped.type),
      droppedTime:
        dropped.dropped_time instanceof Date ? dropped.dropped_time.getTime() : String(dropped.dropped_time),
    };
  }
  return {
    partitionKey: byKind('partition_key'),
    clustering: byKind('clustering'),
    columns,
    options: {
      compaction: stringMap(tableRow.compaction),
      compression: stringMap(tableRow.compression),
      default_time_to_live: Number(tableRow.default_time_to_live ?? 0),
      gc_grace_seconds: Number(tableRow.gc_grace_seconds ?? 0),
    },
    indexes,
    droppedColumns,
  };
}

async function scanTable(
  client: Client,
  keyspace: string,
  name: string,
  schema: TableSchema,
  userTypes: ReadonlySet<string>,
  options: CassandraScanOptions,
): Promise<TableSnapshot> {
  const keyColumns = [...schema.partitionKey, ...schema.clustering];
  const valueColumns = Object.keys(schema.columns).sort();
  const ttlColumns = valueColumns.filter((c) => {
    const column = schema.columns[c];
    return column !== undefined && ttlQueryable(column.kind, column.type, userTypes);
  });
  const ttlAlias = (column: string): string => `ttl__${column}`;
  const select = [
    ...valueColumns.map(quoteIdent),
    ...ttlColumns.map((c) => `TTL(${quoteIdent(c)}) AS ${quoteIdent(ttlAlias(c))}`),
  ].join(', ');
  const query = `SELECT ${select} FROM ${quoteIdent(keyspace)}.${quoteIdent(name)}`;
  const digest = new MultisetDigest();
  // Rows of tables whose default TTL is short (brig.nonce: 300 s) expire during any drill: keep
  // their keys even at detail `digest`, so the diff can tell an expired row from a lost one.
  const defaultTtl = Number(schema.options.default_time_to_live ?? 0);
  const keepRows = options.detail !== 'digest' || (defaultTtl > 0 && defaultTtl <= shortTtlSeconds);
  const rows: RowEntry[] | undefined = keepRows ? [] : undefined;
  let ttlCells = 0;
  const scannedAt = Math.floor(Date.now() / 1000);
  let pageState: string | undefined;
  do {
    const page = await client.execute(query, [], { prepare: true, fetchSize: options.fetchSize, pageState });
    const readAt = Math.round(Date.now() / 1000);
    for (const row of page.rows) {
      const values: Record<string, Json> = {};
      for (const column of valueColumns) values[column] = normalizeValue(row.get(column));
      const sha = hashJson(values);
      digest.add(sha);
      let expires: Record<string, number> | undefined;
      for (const column of ttlColumns) {
        const ttl = row.get(ttlAlias(column)) as number | null;
        if (ttl === null || ttl === undefined) continue;
        ttlCells++;
        expires ??= {};
        expires[column] = readAt + ttl;
      }
      if (rows) {
        rows.push({
          key: canonicalJson(keyColumns.map((c) => values[c] ?? null)),
          hash: sha.slice(0, 32),
          ...(expires ? { expires } : {}),
          ...(options.detail === 'rows' ? { values } : {}),
        });
      }
    }
    pageState = page.pageState ?? undefined;
  } while (pageState);
  rows?.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return {
    name,
    schema,
    rowCount: digest.count,
    digest: digest.digest(),
    ttlCells,
    scannedAt,
    ...(rows ? { rows } : {}),
  };
}

async function snapshotBucket(
  s3: S3Client,
  bucket: string,
  concurrency: number,
  progress: (event: SeedProgress) => void,
): Promise<BucketSnapshot> {
  const listed: { key: string; size: number }[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      for (const object of page.Contents ?? [])
        listed.push({ key: object.Key ?? '', size: object.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || (error as Error).name === 'NoSuchBucket') {
      return { name: bucket, exists: false, objectCount: 0, totalBytes: 0, objects: [] };
    }
    throw error;
  }
  const objects: ObjectEntry[] = new Array(listed.length);
  let done = 0;
  await forEachConcurrently(listed, concurrency, async ({ key }, i) => {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of response.Body as Readable) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    objects[i] = {
      key,
      size,
      sha256: hash.digest('hex'),
      ...(response.ContentType ? { contentType: response.ContentType } : {}),
      metadata: stringMap(response.Metadata),
      ...(response.ContentEncoding ? { contentEncoding: response.ContentEncoding } : {}),
      ...(response.ContentDisposition ? { contentDisposition: response.ContentDisposition } : {}),
      ...(response.CacheControl ? { cacheControl: response.CacheControl } : {}),
      ...(response.ContentLanguage ? { contentLanguage: response.ContentLanguage } : {}),
      ...(response.Expires ? { expires: response.Expires.toISOString() } : {}),
      ...(response.TagCount ? { tags: await objectTags(s3, bucket, key) } : {}),
    };
    done++;
    if (done % 500 === 0 || done === listed.length) {
      progress({
        phase: 'snapshot',
        message: `${bucket}: ${done}/${listed.length} objects read`,
        done,
        total: listed.length,
      });
    }
  });
  objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return {
    name: bucket,
    exists: true,
    objectCount: objects.length,
    totalBytes: objects.reduce((sum, o) => sum + o.size, 0),
    objects,
  };
}

async function objectTags(s3: S3Client, bucket: string, key: string): Promise<Record<string, string>> {
  const tagging = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
  return Object.fromEntries((tagging.TagSet ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Describes a folder tree: every file, directory and symlink with its mode, size and SHA-256. */
export async function snapshotFolder(
  root: string,
  progress: (event: SeedProgress) => void = () => {},
): Promise<FolderSnapshot> {
  try {
    if (!(await lstat(root)).isDirectory()) throw new Error(`seed: ${root} is not a directory`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { path: root, exists: false, fileCount: 0, totalBytes: 0, entries: [] };
    }
    throw error;
  }
  const entries: FolderEntry[] = [];
  const walk = async (relative: string): Promise<void> => {
    for (const name of (await readdir(join(root, relative))).sort()) {
      const path = relative === '' ? name : `${relative}/${name}`;
      const full = join(root, path);
      const stat = await lstat(full);
      const mode = (stat.mode & 0o7777).toString(8).padStart(4, '0');
      if (stat.isDirectory()) {
        entries.push({ path, type: 'dir', mode });
        await walk(path);
      } else if (stat.isFile()) {
        entries.push({ path, type: 'file', mode, size: stat.size, sha256: await sha256File(full) });
      } else if (stat.isSymbolicLink()) {
        entries.push({ path, type: 'symlink', mode, target: await readlink(full) });
      } else {
        entries.push({ path, type: 'other', mode });
      }
    }
  };
  await walk('');
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const files = entries.filter((e) => e.type === 'file');
  progress({ phase: 'snapshot', message: `${root}: ${files.length} files` });
  return {
    path: root,
    exists: true,
    fileCount: files.length,
    totalBytes: files.reduce((sum, f) => sum + (f.size ?? 0), 0),
    entries,
  };
}

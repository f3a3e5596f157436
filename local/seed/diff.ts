import { canonicalJson, type Json } from './normalize.js';
import type {
  BucketSnapshot,
  FolderSnapshot,
  KeyspaceSnapshot,
  ObjectEntry,
  RowEntry,
  TableSnapshot,
  WireSnapshot,
} from './snapshot.js';

/**
 * Compares two snapshots (`a` before, `b` after) and lists every difference a person can act on:
 * which table and row (and column, with detail `rows`), which object and field, which file. An
 * empty list means the two states are the same. Rows that carried a TTL and expired in between are
 * not differences; expiries are compared within a tolerance, since TTLs count down.
 */

/** Where a difference is. */
export type DifferenceArea = 'cassandra' | 'schema' | 'minio' | 'wire-server';

/** One difference between snapshot `a` and snapshot `b`. */
export interface SnapshotDifference {
  readonly area: DifferenceArea;
  /** `keyspace.table`, `keyspace` or a bucket name; the folder path for `wire-server`. */
  readonly target: string;
  /** Row key (canonical JSON), object key or file path, when the difference is about one. */
  readonly key?: string;
  /** Column, object field or file field, when the difference is about one. */
  readonly field?: string;
  /** `added`: only in b; `removed`: only in a; `changed`: in both, different. */
  readonly change: 'added' | 'removed' | 'changed';
  /** The difference in words. */
  readonly message: string;
}

/** Options of {@link diffSnapshots}. */
export interface DiffOptions {
  /** How far two expiries of the same cell may be apart, in seconds. @default 120 */
  readonly ttlToleranceSeconds?: number;
  /** Differences listed per table before the rest are summarised in one line. @default 50 */
  readonly maxPerTable?: number;
  /**
   * Buckets of `a` to compare with a differently named bucket of `b` (a restore into another
   * bucket): `{ assets: 'assets-restored' }`. Differences are reported under the name in `a`.
   */
  readonly bucketPairs?: Readonly<Record<string, string>>;
}

const show = (value: Json | undefined): string => {
  const text = value === undefined ? 'absent' : canonicalJson(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
};

function byName<T>(items: readonly T[], name: (item: T) => string): Map<string, T> {
  return new Map(items.map((item) => [name(item), item]));
}

function unionSorted(a: Iterable<string>, b: Iterable<string>): string[] {
  return [...new Set([...a, ...b])].sort();
}

/** Lists the differences between snapshot `a` (before) and `b` (after); empty means identical. */
export function diffSnapshots(
  a: WireSnapshot,
  b: WireSnapshot,
  options: DiffOptions = {},
): SnapshotDifference[] {
  const tolerance = options.ttlToleranceSeconds ?? 120;
  const maxPerTable = options.maxPerTable ?? 50;
  const out: SnapshotDifference[] = [];
  if (a.cassandra && b.cassandra)
    diffCassandra(a.cassandra.keyspaces, b.cassandra.keyspaces, out, tolerance, maxPerTable);
  if (a.minio && b.minio) {
    const pairs = options.bucketPairs ?? {};
    const renamed = Object.fromEntries(Object.entries(pairs).map(([inA, inB]) => [inB, inA]));
    const bucketsB = b.minio.buckets.map((bucket) => ({
      ...bucket,
      name: renamed[bucket.name] ?? bucket.name,
    }));
    diffBuckets(a.minio.buckets, bucketsB, out);
  }
  if (a.wireServer && b.wireServer) diffFolder(a.wireServer, b.wireServer, out);
  return out;
}

/** Formats differences one per line (`area target [key] [field]: message`). */
export function formatDifferences(differences: readonly SnapshotDifference[]): string {
  return differences
    .map(
      (d) =>
        `${d.area} ${d.target}${d.key === undefined ? '' : ` ${d.key}`}${d.field ? ` [${d.field}]` : ''}: ${d.message}`,
    )
    .join('\n');
}

function diffCassandra(
  a: readonly KeyspaceSnapshot[],
  b: readonly KeyspaceSnapshot[],
  out: SnapshotDifference[],
  tolerance: number,
  maxPerTable: number,
): void {
  const left = byName(a, (k) => k.name);
  const right = byName(b, (k) => k.name);
  for (const name of unionSorted(left.keys(), right.keys())) {
    const ka = left.get(name);
    const kb = right.get(name);
    if (!ka || !kb) {
      const tables = (ka ?? kb)?.tables.length ?? 0;
      out.push({
        area: 'schema',
        target: name,
        change: ka ? 'removed' : 'added',
        message: ka
          ? `keyspace missing in b (${tables} tables in a)`
          : `keyspace only in b (${tables} tables)`,
      });
      continue;
    }
    const schema = (
      field: string,
      message: string,
      change: SnapshotDifference['change'] = 'changed',
    ): void => {
      out.push({ area: 'schema', target: name, field, change, message });
    };
    if (canonicalJson(ka.replication) !== canonicalJson(kb.replication)) {
      schema('replication', `replication ${show(ka.replication)} → ${show(kb.replication)}`);
    }
    if (ka.durableWrites !== kb.durableWrites)
      schema('durable_writes', `${ka.durableWrites} → ${kb.durableWrites}`);
    for (const type of unionSorted(Object.keys(ka.types), Object.keys(kb.types))) {
      const ta = ka.types[type];
      const tb = kb.types[type];
      if (!ta || !tb)
        schema(`type ${type}`, ta ? 'type missing in b' : 'type only in b', ta ? 'removed' : 'added');
      else if (canonicalJson(ta) !== canonicalJson(tb))
        schema(`type ${type}`, `fields ${show(ta)} → ${show(tb)}`);
    }
    const tablesA = byName(ka.tables, (t) => t.name);
    const tablesB = byName(kb.tables, (t) => t.name);
    for (const table of unionSorted(tablesA.keys(), tablesB.keys())) {
      const ta = tablesA.get(table);
      const tb = tablesB.get(table);
      const target = `${name}.${table}`;
      if (!ta || !tb) {
        out.push({
          area: 'schema',
          target,
          change: ta ? 'removed' : 'added',
          message: ta
            ? `table missing in b (${ta.rowCount} rows in a)`
            : `table only in b (${tb?.rowCount} rows)`,
        });
        continue;
      }
      diffTableSchema(target, ta, tb, out);
      diffTableRows(target, ta, tb, out, tolerance, maxPerTable);
    }
  }
}

function diffTableSchema(
  target: string,
  a: TableSnapshot,
  b: TableSnapshot,
  out: SnapshotDifference[],
): void {
  const push = (field: string, message: string, change: SnapshotDifference['change'] = 'changed'): void => {
    out.push({ area: 'schema', target, field, change, message });
  };
  const keyA = [...a.schema.partitionKey, '|', ...a.schema.clustering].join(',');
  const keyB = [...b.schema.partitionKey, '|', ...b.schema.clustering].join(',');
  if (keyA !== keyB) push('primary key', `primary key (${keyA}) → (${keyB})`);
  for (const column of unionSorted(Object.keys(a.schema.columns), Object.keys(b.schema.columns))) {
    const ca = a.schema.columns[column];
    const cb = b.schema.columns[column];
    if (!ca || !cb)
      push(`column ${column}`, ca ? 'column missing in b' : 'column only in b', ca ? 'removed' : 'added');
    else if (canonicalJson({ ...ca }) !== canonicalJson({ ...cb })) {
      push(
        `column ${column}`,
        `${ca.kind} ${ca.type} ${ca.clusteringOrder} → ${cb.kind} ${cb.type} ${cb.clusteringOrder}`,
      );
    }
  }
  for (const option of unionSorted(Object.keys(a.schema.options), Object.keys(b.schema.options))) {
    const oa = a.schema.options[option];
    const ob = b.schema.options[option];
    if (canonicalJson(oa ?? null) !== canonicalJson(ob ?? null)) push(option, `${show(oa)} → ${show(ob)}`);
  }
  for (const index of unionSorted(Object.keys(a.schema.indexes), Object.keys(b.schema.indexes))) {
    const ia = a.schema.indexes[index];
    const ib = b.schema.indexes[index];
    if (ia === undefined || ib === undefined) {
      push(
        `index ${index}`,
        ia === undefined ? 'index only in b' : 'index missing in b',
        ia === undefined ? 'added' : 'removed',
      );
    } else if (canonicalJson(ia) !== canonicalJson(ib)) push(`index ${index}`, `${show(ia)} → ${show(ib)}`);
  }
  const droppedA = a.schema.droppedColumns ?? {};
  const droppedB = b.schema.droppedColumns ?? {};
  for (const column of unionSorted(Object.keys(droppedA), Object.keys(droppedB))) {
    const da = droppedA[column];
    const db = droppedB[column];
    if (da === undefined || db === undefined) {
      push(
        `dropped column ${column}`,
        da === undefined ? 'dropped only in b' : 'not dropped in b (the schema history is lost)',
        da === undefined ? 'added' : 'removed',
      );
    } else if (canonicalJson(da) !== canonicalJson(db)) {
      push(`dropped column ${column}`, `${show(da)} → ${show(db)}`);
    }
  }
}

/** Whether every TTL'd cell of a row has expired by `at` (epoch seconds), within the tolerance. */
function expiredBy(row: RowEntry, at: number, tolerance: number): boolean {
  const expiries = Object.values(row.expires ?? {});
  return expiries.length > 0 && Math.max(...expiries) <= at + tolerance;
}

function diffTableRows(
  target: string,
  a: TableSnapshot,
  b: TableSnapshot,
  out: SnapshotDifference[],
  tolerance: number,
  maxPerTable: number,
): void {
  if (!a.rows || !b.rows) {
    if (a.rowCount !== b.rowCount) {
      out.push({
        area: 'cassandra',
        target,
        field: 'rowCount',
        change: 'changed',
        message: `row count ${a.rowCount} → ${b.rowCount}`,
      });
    }
    if (a.digest !== b.digest) {
      out.push({
        area: 'cassandra',
        target,
        field: 'digest',
        change: 'changed',
        message: 'row digest differs',
      });
    }
    if (a.ttlCells !== b.ttlCells) {
      out.push({
        area: 'cassandra',
        target,
        field: 'ttl',
        change: 'changed',
        message: `cells with a TTL ${a.ttlCells} → ${b.ttlCells}`,
      });
    }
    return;
  }
  const found: SnapshotDifference[] = [];
  const rowsA = a.rows;
  const rowsB = b.rows;
  let i = 0;
  let j = 0;
  while (i < rowsA.length || j < rowsB.length) {
    const ra = rowsA[i];
    const rb = rowsB[j];
    if (ra && (!rb || ra.key < rb.key)) {
      if (!expiredBy(ra, b.scannedAt, tolerance)) {
        found.push({
          area: 'cassandra',
          target,
          key: ra.key,
          change: 'removed',
          message: 'row missing in b',
        });
      }
      i++;
    } else if (rb && (!ra || rb.key < ra.key)) {
      if (!expiredBy(rb, a.scannedAt, tolerance)) {
        found.push({ area: 'cassandra', target, key: rb.key, change: 'added', message: 'row only in b' });
      }
      j++;
    } else if (ra && rb) {
      diffRow(target, ra, rb, a.scannedAt, b.scannedAt, found, tolerance);
      i++;
      j++;
    }
  }
  out.push(...found.slice(0, maxPerTable));
  if (found.length > maxPerTable) {
    const count = (change: string): number => found.filter((d) => d.change === change).length;
    out.push({
      area: 'cassandra',
      target,
      change: 'changed',
      message: `… and ${found.length - maxPerTable} more (in all: ${count('removed')} rows missing in b, ${count('added')} only in b, ${count('changed')} changed)`,
    });
  }
}

function diffRow(
  target: string,
  a: RowEntry,
  b: RowEntry,
  scannedA: number,
  scannedB: number,
  out: SnapshotDifference[],
  tolerance: number,
): void {
  if (a.hash !== b.hash) {
    if (a.values && b.values) {
      for (const column of unionSorted(Object.keys(a.values), Object.keys(b.values))) {
        const va = a.values[column];
        const vb = b.values[column];
        if (canonicalJson(va ?? null) === canonicalJson(vb ?? null)) continue;
        // A TTL'd cell that expired in between reads as null: not a difference.
        const expiryA = a.expires?.[column];
        if (vb === null && expiryA !== undefined && expiryA <= scannedB + tolerance) continue;
        out.push({
          area: 'cassandra',
          target,
          key: a.key,
          field: column,
          change: 'changed',
          message: `${show(va)} → ${show(vb)}`,
        });
      }
    } else {
      out.push({
        area: 'cassandra',
        target,
        key: a.key,
        change: 'changed',
        message: `row content differs (hash ${a.hash} → ${b.hash})`,
      });
    }
  }
  for (const column of unionSorted(Object.keys(a.expires ?? {}), Object.keys(b.expires ?? {}))) {
    const ea = a.expires?.[column];
    const eb = b.expires?.[column];
    const at = (s: number): string => new Date(s * 1000).toISOString();
    if (ea !== undefined && eb === undefined) {
      if (ea <= scannedB + tolerance) continue;
      out.push({
        area: 'cassandra',
        target,
        key: a.key,
        field: `ttl(${column})`,
        change: 'removed',
        message: `TTL lost (a expires ${at(ea)}, b never)`,
      });
    } else if (ea === undefined && eb !== undefined) {
      if (eb <= scannedA + tolerance) continue;
      out.push({
        area: 'cassandra',
        target,
        key: a.key,
        field: `ttl(${column})`,
        change: 'added',
        message: `TTL only in b (expires ${at(eb)})`,
      });
    } else if (ea !== undefined && eb !== undefined && Math.abs(ea - eb) > tolerance) {
      out.push({
        area: 'cassandra',
        target,
        key: a.key,
        field: `ttl(${column})`,
        change: 'changed',
        message: `expiry ${at(ea)} → ${at(eb)} (${eb - ea} s, tolerance ${tolerance} s)`,
      });
    }
  }
}

function diffBuckets(
  a: readonly BucketSnapshot[],
  b: readonly BucketSnapshot[],
  out: SnapshotDifference[],
): void {
  const left = byName(a, (x) => x.name);
  const right = byName(b, (x) => x.name);
  for (const name of unionSorted(left.keys(), right.keys())) {
    const ba = left.get(name);
    const bb = right.get(name);
    if (!ba?.exists || !bb?.exists) {
      if (ba?.exists || bb?.exists) {
        out.push({
          area: 'minio',
          target: name,
          change: ba?.exists ? 'removed' : 'added',
          message: ba?.exists
            ? `bucket missing in b (${ba.objectCount} objects in a)`
            : `bucket only in b (${bb?.objectCount} objects)`,
        });
      }
      continue;
    }
    const objectsA = byName(ba.objects, (o) => o.key);
    const objectsB = byName(bb.objects, (o) => o.key);
    for (const key of unionSorted(objectsA.keys(), objectsB.keys())) {
      const oa = objectsA.get(key);
      const ob = objectsB.get(key);
      if (!oa || !ob) {
        out.push({
          area: 'minio',
          target: name,
          key,
          change: oa ? 'removed' : 'added',
          message: oa ? `object missing in b (${oa.size} bytes)` : `object only in b (${ob?.size} bytes)`,
        });
        continue;
      }
      diffObject(name, oa, ob, out);
    }
  }
}

function diffObject(bucket: string, a: ObjectEntry, b: ObjectEntry, out: SnapshotDifference[]): void {
  const push = (field: string, message: string): void => {
    out.push({ area: 'minio', target: bucket, key: a.key, field, change: 'changed', message });
  };
  if (a.size !== b.size) push('size', `${a.size} → ${b.size} bytes`);
  if (a.sha256 !== b.sha256)
    push('sha256', `content differs (sha256 ${a.sha256.slice(0, 12)}… → ${b.sha256.slice(0, 12)}…)`);
  for (const field of [
    'contentType',
    'contentEncoding',
    'contentDisposition',
    'cacheControl',
    'contentLanguage',
    'expires',
  ] as const) {
    if (a[field] !== b[field]) push(field, `${show(a[field])} → ${show(b[field])}`);
  }
  const tagsA = a.tags ?? {};
  const tagsB = b.tags ?? {};
  for (const name of unionSorted(Object.keys(tagsA), Object.keys(tagsB))) {
    if (tagsA[name] !== tagsB[name]) push(`tag ${name}`, `${show(tagsA[name])} → ${show(tagsB[name])}`);
  }
  for (const name of unionSorted(Object.keys(a.metadata), Object.keys(b.metadata))) {
    if (a.metadata[name] !== b.metadata[name])
      push(`metadata ${name}`, `${show(a.metadata[name])} → ${show(b.metadata[name])}`);
  }
}

function diffFolder(a: FolderSnapshot, b: FolderSnapshot, out: SnapshotDifference[]): void {
  const target = b.path === a.path ? a.path : `${a.path} → ${b.path}`;
  if (!a.exists || !b.exists) {
    if (a.exists || b.exists) {
      out.push({
        area: 'wire-server',
        target,
        change: a.exists ? 'removed' : 'added',
        message: a.exists
          ? `folder missing in b (${a.fileCount} files in a)`
          : `folder only in b (${b.fileCount} files)`,
      });
    }
    return;
  }
  const left = byName(a.entries, (e) => e.path);
  const right = byName(b.entries, (e) => e.path);
  for (const path of unionSorted(left.keys(), right.keys())) {
    const ea = left.get(path);
    const eb = right.get(path);
    if (!ea || !eb) {
      out.push({
        area: 'wire-server',
        target,
        key: path,
        change: ea ? 'removed' : 'added',
        message: ea ? `${ea.type} missing in b` : `${eb?.type} only in b`,
      });
      continue;
    }
    const push = (field: string, message: string): void => {
      out.push({ area: 'wire-server', target, key: path, field, change: 'changed', message });
    };
    if (ea.type !== eb.type) push('type', `${ea.type} → ${eb.type}`);
    if (ea.mode !== eb.mode) push('mode', `${ea.mode} → ${eb.mode}`);
    if (ea.size !== eb.size) push('size', `${ea.size} → ${eb.size} bytes`);
    if (ea.sha256 !== eb.sha256) push('sha256', 'content differs');
    if (ea.target !== eb.target) push('target', `${show(ea.target)} → ${show(eb.target)}`);
  }
}

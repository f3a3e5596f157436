import { type Client, concurrent } from 'cassandra-driver';
import {
  insertStatement,
  quoteIdent,
  schemaStatements,
  seededKeyspaces,
  type TableDef,
  tableDef,
} from './schema.js';
import { type CounterWrite, type RowWrite, rowBytes } from './wire-data.js';

/** Writes the seeded schema and rows to Cassandra: DDL, bulk inserts, idempotent counters. */

/**
 * Runs one schema statement and waits until every node agrees on the new schema. On a busy
 * multi-node cluster another coordinator may not know a keyspace created a moment ago ("doesn't
 * exist"): such a statement is tried again, for up to a minute.
 */
export async function executeDdl(client: Client, statement: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await client.execute(statement, [], { prepare: false });
      break;
    } catch (error) {
      if (
        !/does(n't| not) exist|unconfigured|Unknown/i.test((error as Error).message) ||
        Date.now() > deadline
      )
        throw error;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
  // The driver has checkSchemaAgreement() but its type declarations omit it.
  const metadata = client.metadata as unknown as { checkSchemaAgreement(): Promise<boolean> };
  while (!(await metadata.checkSchemaAgreement()) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Drops the seeded keyspaces (the seeder owns them; the next write re-creates them). */
export async function dropSeededKeyspaces(client: Client): Promise<void> {
  for (const keyspace of seededKeyspaces) await executeDdl(client, `DROP KEYSPACE IF EXISTS ${keyspace}`);
}

/** Creates the seeded keyspaces, types, tables and indexes where missing (RF = min(3, nodes)). */
export async function createSeededSchema(client: Client, nodeCount: number): Promise<void> {
  for (const statement of schemaStatements(nodeCount)) await executeDdl(client, statement);
}

/** Per-table counts of what a write did. */
export interface WriteCounts {
  /** Rows (or counter rows) written, by `keyspace.table`. */
  readonly rows: Record<string, number>;
  /** Approximate logical bytes written, by `keyspace.table`. */
  readonly bytes: Record<string, number>;
}

/** Empty {@link WriteCounts}. */
export function emptyCounts(): WriteCounts {
  return { rows: {}, bytes: {} };
}

function count(into: WriteCounts, table: string, rows: number, bytes: number): void {
  into.rows[table] = (into.rows[table] ?? 0) + rows;
  into.bytes[table] = (into.bytes[table] ?? 0) + bytes;
}

/** Bound parameters of a row for {@link insertStatement}: every column in order (undefined = unset). */
export function rowParams(table: TableDef, row: RowWrite): unknown[] {
  const params = Object.keys(table.columns).map((name) => row.values[name]);
  if (table.perRowTtl) params.push(row.ttl ?? 0);
  return params;
}

/** Inserts rows with prepared statements, `concurrency` in flight; adds to `counts`. */
export async function writeRows(
  client: Client,
  rows: readonly RowWrite[],
  concurrency: number,
  counts: WriteCounts,
): Promise<void> {
  if (rows.length === 0) return;
  const queries = rows.map((row) => {
    const table = tableDef(row.table);
    count(counts, row.table, 1, rowBytes(row.values));
    return { query: insertStatement(table), params: rowParams(table, row) };
  });
  await concurrent.executeConcurrent(client, queries, {
    concurrencyLevel: concurrency,
    raiseOnFirstError: true,
  });
}

/**
 * Brings counter rows to the wanted values: reads each row and adds the difference, so writing the
 * same counters twice leaves them as they are (counter updates are not idempotent by themselves).
 */
export async function writeCounters(
  client: Client,
  counters: readonly CounterWrite[],
  concurrency: number,
  counts: WriteCounts,
): Promise<void> {
  if (counters.length === 0) return;
  const reads = counters.map((write) => {
    const table = tableDef(write.table);
    const keys = [...table.partitionKey, ...table.clustering];
    const names = Object.keys(write.values);
    return {
      query: `SELECT ${names.map(quoteIdent).join(', ')} FROM ${table.keyspace}.${quoteIdent(table.name)} WHERE ${keys
        .map((k) => `${quoteIdent(k)} = ?`)
        .join(' AND ')}`,
      params: keys.map((k) => write.key[k]),
    };
  });
  const current = await concurrent.executeConcurrent(client, reads, {
    concurrencyLevel: concurrency,
    raiseOnFirstError: true,
    collectResults: true,
  });
  const updates: { query: string; params: unknown[] }[] = [];
  counters.forEach((write, i) => {
    const table = tableDef(write.table);
    const keys = [...table.partitionKey, ...table.clustering];
    const columns = Object.keys(table.columns).filter((c) => !keys.includes(c));
    const row = (current.resultItems[i] as { first(): Record<string, unknown> | null } | undefined)?.first();
    const deltas = columns.map((c) => (write.values[c] ?? 0) - Number(row?.[c]?.toString() ?? 0));
    count(counts, write.table, 1, rowBytes({ ...write.key, ...write.values }));
    if (deltas.every((d) => d === 0)) return;
    updates.push({ query: insertStatement(table), params: [...deltas, ...keys.map((k) => write.key[k])] });
  });
  if (updates.length > 0) {
    await concurrent.executeConcurrent(client, updates, {
      concurrencyLevel: concurrency,
      raiseOnFirstError: true,
    });
  }
}

import type { Client } from 'cassandra-driver';
import type { StackInfo } from '../stack-info.js';
import { executeDdl, type WriteCounts } from './cassandra-writer.js';
import { flushNodes } from './connections.js';

/**
 * Schema history, as a long-lived Wire cluster carries it: tables whose columns were dropped after
 * rows were written and flushed, a column dropped and re-added with another type, and a table that a
 * later migration drops (brig's migration 62 drops `id_mapping`). A backup must capture this history,
 * or a fresh cluster cannot load the SSTables written before the drop ("Unknown column … during
 * deserialization").
 *
 * `brig.legacy_profile` is created with every column it ever had, gets rows (with a static column, a
 * frozen UDT, a set, an indexed column), is flushed, then loses `retired`, `retired_static` (static),
 * `retired_asset` (frozen UDT), `retired_tags` (set) and `format` (text), re-added as `format blob`, and
 * gets more rows. `brig.id_mapping` is seeded here and dropped by {@link dropRetiredTable} (the
 * mutation between two backups). Our own CQL, shaped like Wire's.
 */

/** The tables this module seeds (`keyspace.table`). */
export const historyTables = ['brig.id_mapping', 'brig.legacy_profile'] as const;

/** The table a mutation drops, as brig's migration 62 drops it. */
export const retiredTable = 'brig.id_mapping';

/** Columns of `brig.legacy_profile` dropped after rows were flushed (`format`, text, is re-added as blob). */
export const droppedColumns = [
  'format',
  'retired',
  'retired_asset',
  'retired_static',
  'retired_tags',
] as const;

const legacyProfile = `CREATE TABLE IF NOT EXISTS brig.legacy_profile (
  "user" uuid, seq int, team uuid static, retired_static text static, picture text, retired text,
  retired_asset frozen<asset>, retired_tags set<text>, format text, PRIMARY KEY ("user", seq))
  WITH compaction = {'class': 'LeveledCompactionStrategy'}`;
const idMapping = `CREATE TABLE IF NOT EXISTS brig.id_mapping (
  mapped_id uuid PRIMARY KEY, remote_id uuid, remote_domain text)
  WITH compaction = {'class': 'LeveledCompactionStrategy'}`;
// Fixed times (microseconds), so that seeding is deterministic and a restore is checked for keeping
// the original drop times: the rows written before the drop, then each drop, in that order.
const writtenBefore = 1_700_000_000_000_000;
const droppedAt = 1_700_000_100_000_000;
const history = [
  ...['retired', 'retired_static', 'retired_asset', 'retired_tags', 'format'].map(
    (column, i) => `ALTER TABLE brig.legacy_profile DROP ${column} USING TIMESTAMP ${droppedAt + i * 1000}`,
  ),
  'ALTER TABLE brig.legacy_profile ADD format blob',
];

/** A deterministic UUID (version 4 layout) from a namespace digit and an index. */
function uuidOf(space: number, index: number): string {
  return `0000000${space}-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;
}

async function tableExists(client: Client, keyspace: string, table: string): Promise<boolean> {
  const rows = await client.execute(
    'SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?',
    [keyspace, table],
    { prepare: true },
  );
  return rows.rowLength > 0;
}

/**
 * Creates the history tables with their rows and history; on a stack that has them already, it only
 * writes the rows written after the drop again (same values). Adds the rows written to `counts`.
 */
export async function seedSchemaHistory(
  client: Client,
  stack: StackInfo,
  counts: WriteCounts,
): Promise<void> {
  const { rows } = counts;
  const users = 4;
  if (!(await tableExists(client, 'brig', 'legacy_profile'))) {
    await executeDdl(client, legacyProfile);
    await executeDdl(
      client,
      'CREATE INDEX IF NOT EXISTS legacy_profile_picture ON brig.legacy_profile (picture)',
    );
    await executeDdl(client, idMapping);
    for (let u = 0; u < users; u++) {
      for (let seq = 0; seq < 3; seq++) {
        await client.execute(
          `INSERT INTO brig.legacy_profile ("user", seq, team, retired_static, picture, retired, retired_asset, retired_tags, format)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ${writtenBefore + u * 10 + seq}`,
          [
            uuidOf(1, u),
            seq,
            uuidOf(2, u % 2),
            `static before the drop ${u}`,
            `picture-${u}-${seq}`,
            `retired value ${u}/${seq}`,
            { typ: seq, key: `3-2-${u}-${seq}`, size: 100 + seq },
            [`tag-${seq}`, `user-${u}`],
            `format ${seq * 10 + u}`,
          ],
          { prepare: true },
        );
      }
    }
    for (let i = 0; i < 6; i++) {
      await client.execute(
        `INSERT INTO brig.id_mapping (mapped_id, remote_id, remote_domain) VALUES (?, ?, ?) USING TIMESTAMP ${writtenBefore}`,
        [uuidOf(3, i), uuidOf(4, i), `remote-${i}.example.com`],
        { prepare: true },
      );
    }
    // The rows above go to SSTables that hold the columns about to be dropped.
    await flushNodes(stack, ['brig']);
    for (const statement of history) await executeDdl(client, statement);
  }
  // After the drop: new rows, and a re-added column written over an old row.
  for (let u = 0; u < users; u++) {
    await client.execute(
      'INSERT INTO brig.legacy_profile ("user", seq, picture, format) VALUES (?, ?, ?, ?)',
      [uuidOf(1, u), 3, `picture-${u}-3`, Buffer.from(`format after the re-add ${u}`)],
      { prepare: true },
    );
  }
  await client.execute(
    'UPDATE brig.legacy_profile SET format = ? WHERE "user" = ? AND seq = ?',
    [Buffer.from('overwritten after the re-add'), uuidOf(1, 0), 0],
    { prepare: true },
  );
  rows['brig.legacy_profile'] = users * 4;
  if (await tableExists(client, 'brig', 'id_mapping')) rows['brig.id_mapping'] = 6;
}

/** Drops {@link retiredTable}, as a migration between two backups would; the tables it dropped. */
export async function dropRetiredTable(client: Client): Promise<string[]> {
  if (!(await tableExists(client, 'brig', 'id_mapping'))) return [];
  await executeDdl(client, `DROP TABLE IF EXISTS ${retiredTable}`);
  return [retiredTable];
}

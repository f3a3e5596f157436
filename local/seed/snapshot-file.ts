import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { RowEntry, TableSnapshot, WireSnapshot } from './snapshot.js';
import { snapshotFormat } from './snapshot.js';

/**
 * Snapshot files: JSON Lines, so a large snapshot never has to be one JSON string. Line 1 is the
 * snapshot without table rows; each following line is `{"t":"<keyspace>.<table>","r":<row>}`.
 */

/** Writes `snapshot` to `path` (JSON Lines; see the module comment). */
export async function writeSnapshotFile(path: string, snapshot: WireSnapshot): Promise<void> {
  const out = createWriteStream(path);
  const write = async (line: string): Promise<void> => {
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  };
  const header: WireSnapshot = {
    ...snapshot,
    ...(snapshot.cassandra
      ? {
          cassandra: {
            ...snapshot.cassandra,
            keyspaces: snapshot.cassandra.keyspaces.map((ks) => ({
              ...ks,
              tables: ks.tables.map(({ rows, ...table }) => ({ ...table, ...(rows ? { rows: [] } : {}) })),
            })),
          },
        }
      : {}),
  };
  await write(JSON.stringify(header));
  for (const ks of snapshot.cassandra?.keyspaces ?? []) {
    for (const table of ks.tables) {
      for (const row of table.rows ?? [])
        await write(JSON.stringify({ t: `${ks.name}.${table.name}`, r: row }));
    }
  }
  out.end();
  await once(out, 'finish');
}

/** Reads a snapshot written by {@link writeSnapshotFile}; throws when the file is not one. */
export async function readSnapshotFile(path: string): Promise<WireSnapshot> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  let snapshot: WireSnapshot | undefined;
  const tables = new Map<string, TableSnapshot>();
  for await (const line of lines) {
    if (line === '') continue;
    if (!snapshot) {
      snapshot = JSON.parse(line) as WireSnapshot;
      if (snapshot.format !== snapshotFormat) {
        throw new Error(
          `seed: ${path} is not a snapshot file (format ${String(snapshot.format)}, want ${snapshotFormat})`,
        );
      }
      for (const ks of snapshot.cassandra?.keyspaces ?? []) {
        for (const table of ks.tables) tables.set(`${ks.name}.${table.name}`, table);
      }
      continue;
    }
    const { t, r } = JSON.parse(line) as { t: string; r: RowEntry };
    const table = tables.get(t);
    if (!table?.rows) throw new Error(`seed: ${path}: row of unknown table ${t}`);
    table.rows.push(r);
  }
  if (!snapshot) throw new Error(`seed: ${path} is empty, not a snapshot file`);
  return snapshot;
}

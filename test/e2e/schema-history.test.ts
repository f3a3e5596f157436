import { afterEach, describe, expect, it } from 'vitest';
import { type DrillReport, runDrill } from '../../local/drill.js';
import { createCassandraClient } from '../../local/seed/connections.js';
import { droppedColumns, retiredTable } from '../../local/seed/schema-history.js';
import { readStackInfo } from '../../local/stack-info.js';

/**
 * Schema history end to end: the seeded cluster carries `brig.legacy_profile` (rows written and flushed,
 * then columns dropped: a regular, a static, a frozen UDT, a set; `format` dropped as text and re-added
 * as blob; a secondary index) and `brig.id_mapping`, which the mutation between the two backups drops.
 * The drill restores the older backup into a fresh cluster (`wire-stack up --reset`) by `nodetool
 * import` and by `sstableloader` (the new-topology path), and compares every row, column, index and
 * dropped column (with its drop time) with the state before the disaster.
 */

/** The restored cluster's view of the history: dropped columns of legacy_profile, rows of each table. */
async function restoredHistory(): Promise<{
  dropped: Record<string, string>;
  legacyRows: number;
  reAdded: number;
  idMappingRows: number;
  indexed: number;
}> {
  const client = createCassandraClient(readStackInfo(), { consistency: 'one' });
  await client.connect();
  try {
    const dropped = (
      await client.execute(
        "SELECT column_name, kind, type, dropped_time FROM system_schema.dropped_columns WHERE keyspace_name = 'brig' AND table_name = 'legacy_profile'",
      )
    ).rows;
    const legacy = (await client.execute('SELECT format FROM brig.legacy_profile')).rows;
    const idMapping = (await client.execute(`SELECT COUNT(*) AS n FROM ${retiredTable}`)).first();
    const indexed = (
      await client.execute("SELECT seq FROM brig.legacy_profile WHERE picture = 'picture-1-2'")
    ).rows;
    return {
      dropped: Object.fromEntries(
        dropped.map((r) => [
          String(r.get('column_name')),
          `${r.get('kind')} ${r.get('type')} ${(r.get('dropped_time') as Date).getTime()}`,
        ]),
      ),
      legacyRows: legacy.length,
      reAdded: legacy.filter((r) => r.get('format') !== null).length,
      idMappingRows: Number(idMapping?.get('n') ?? -1),
      indexed: indexed.length,
    };
  } finally {
    await client.shutdown();
  }
}

const expectedDropped = {
  retired: 'regular text 1700000100000',
  retired_static: 'static text 1700000100001',
  retired_asset: 'regular frozen<tuple<int, text, int>> 1700000100002',
  retired_tags: 'regular set<text> 1700000100003',
  format: 'regular text 1700000100004',
};

describe('schema history in the disaster-recovery drill', () => {
  let report: DrillReport | undefined;
  afterEach(() => {
    report = undefined;
  });

  for (const mode of ['import', 'load'] as const) {
    it(`restores dropped, re-added and dropped-table history into a fresh cluster by ${mode}, every row equal`, async () => {
      // Act
      report = await runDrill({ fromNodes: 1, toNodes: 1, size: 'smoke', restoreOlder: true, mode });
      const history = await restoredHistory();

      // Assert
      expect(report.differences).toEqual([]);
      expect(report.loaders).toEqual([mode]);
      expect(Object.keys(history.dropped).sort()).toEqual([...droppedColumns].sort());
      expect(history.dropped).toEqual(expectedDropped);
      // 4 users × 3 rows written before the drop + 1 after; the re-added column holds the 4 values
      // written after its re-add and the one written over an old row, none of the dropped text ones.
      expect(history.legacyRows).toBe(16);
      expect(history.reAdded).toBe(5);
      // Dropped after this backup, by the mutation: restoring the older backup brings it back.
      expect(history.idMappingRows).toBe(6);
      expect(history.indexed).toBe(1);
    });
  }
});

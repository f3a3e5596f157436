/**
 * `npm run bench [-- peers|small|copy|cassandra|backup]` (peers = small + copy; default all but postgresql): benchmarks side by side with the tools operators use today,
 * every peer measured in the same run, printed in one table with ratios and the load average.
 * - small:  100,000 objects of 1–64 KiB (`BENCH_SMALL_OBJECTS`): full copy and a no-change run, wire-backup
 *           vs `rclone copy`, `mc mirror`, `aws s3 sync`, and one plain listing (`bench/small-objects.ts`).
 * - copy:   one 1 GiB object (`BENCH_COPY_BYTES`): copyBatch vs `mc cp` vs `aws s3 cp`, peak RSS of each.
 * - cassandra: wire-backup's Cassandra backup (full, differential with nothing new, after a small change)
 *           and in-place restore vs cassandra-medusa 0.31.0 on the same node and data
 *           (`BENCH_CASSANDRA_SIZE`, default 128MiB; `bench/cassandra.ts`; needs `npm run bench:setup -- cassandra`).
 * - backup: an hourly backup, manual procedure vs wire-backup (full, then after a small change).
 * - postgresql: base backups of `BENCH_PG_SIZE` (default 1 GiB) of Wire-shaped tables, wire-backup's host
 *           script vs `pg_basebackup -Ft -z` + `aws s3 cp` vs pgBackRest 2.45, full then after a change
 *           (`bench/postgresql.ts`); not part of the default run (needs `npm run bench:setup -- postgresql`).
 * Needs the local stack (`npm run stack -- up`) and the peers (`bench/setup-peers.sh`). Figures go to
 * stdout, progress to stderr. The machine is shared: figures are noisy; the load average is printed.
 */
import { cpus } from 'node:os';
import { main as backupVsManual } from './backup-vs-manual.js';
import { main as cassandra } from './cassandra.js';
import { main as copyMemory } from './copy-memory.js';
import { main as postgresql } from './postgresql.js';
import { main as smallObjects } from './small-objects.js';
import { type BenchRow, loadAverage, printTable } from './table.js';

const which = process.argv[2] ?? 'all';
const loadBefore = loadAverage();
const rows: BenchRow[] = [];
// The short parts first, and each part's rows on stderr as soon as it ends: a run cut off in the long
// small-object part (about 1½ h at 100,000 objects) still leaves the rows it measured.
const parts: [string, () => Promise<BenchRow[]>][] = [
  ['copy', copyMemory],
  ['cassandra', cassandra],
  ['small', smallObjects],
];
for (const [name, run] of parts) {
  const wanted = which === name || which === 'all' || (which === 'peers' && name !== 'cassandra');
  if (!wanted) continue;
  const partRows = await run();
  rows.push(...partRows);
  printTable(partRows, `bench ${name}: rows so far (load ${loadAverage()})`, (line) => console.error(line));
}
if (rows.length > 0) {
  printTable(
    rows,
    `wire-backup vs peers, one run, same data, local stack on ${cpus().length} cores; load average (1/5/15 min) before ${loadBefore}, after ${loadAverage()}`,
  );
}
if (which === 'backup' || which === 'all') await backupVsManual();
if (which === 'postgresql') {
  const loadStart = loadAverage();
  const result = await postgresql();
  printTable(
    result.rows,
    `PostgreSQL base backups, one run, same data, ${cpus().length} cores; load average (1/5/15 min) before ${loadStart}, after ${loadAverage()}; CPU s = the tool's (children included) + the server's`,
  );
  for (const note of result.notes) console.log(`- ${note}`);
}

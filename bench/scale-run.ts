/**
 * `npm run scale`: the scale run of issue 12. Fills one source bucket with `SCALE_OBJECTS` (default
 * 1,000,000) objects of 1–64 KiB (kept in the stack as `scale-<n>` for the next run), then runs the
 * backup state machine over it in the local runner with everything it enforces (Lambda timeouts and
 * memory, 256 KiB payloads, IAM): a full backup, then a no-change run. The runner does not count
 * Step Functions history events; its own progress-event count of the parent execution is checked
 * against the 25,000-event limit as a proxy. Prints, per run, the wall time, that count and the peak RSS of the runner process (every Lambda container included).
 * Opt-in: it takes hours at 1 M objects on 2 cores (filling the bucket is most of a cold run).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStackInfo } from '../local/stack-info.js';
import { client, populate, wireBackupRun } from './small-objects.js';
import { loadAverage } from './table.js';

const historyLimit = 25_000;
const stack = readStackInfo();
const n = Number(process.env.SCALE_OBJECTS ?? 1_000_000);
const bucket = `scale-${n}`;
await populate(client(stack.minio.endpoint, stack.minio.accessKey, stack.minio.secretKey, 64), bucket, n);
const dir = mkdtempSync(join(tmpdir(), 'scale-run-'));
try {
  const rows: string[][] = [['run', 'objects', 'seconds', 'runner events', 'peak RSS MiB', 'load']];
  for (const [name, full] of [
    ['full backup', true],
    ['no-change run', false],
  ] as const) {
    console.error(`scale: ${name} of ${n.toLocaleString('en')} objects… (load ${loadAverage()})`);
    const run = wireBackupRun(bucket, full, join(dir, `${full ? 'full' : 'again'}.time`), true);
    if (run.events > historyLimit)
      throw new Error(`${name}: ${run.events} history events, over ${historyLimit}`);
    rows.push([
      name,
      n.toLocaleString('en'),
      run.seconds.toFixed(1),
      String(run.events),
      run.peakRssMiB.toFixed(0),
      loadAverage(),
    ]);
  }
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  console.log(
    `\nscale run: one bucket of ${n.toLocaleString('en')} objects, backup state machine in the local runner (IAM, Lambda timeouts and memory enforced)`,
  );
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | '));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

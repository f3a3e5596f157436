/**
 * `npm run scale`: the scale run of issue 12. Fills one source bucket with `SCALE_OBJECTS` (default
 * 1,000,000) objects of 1–`SCALE_MAX_KIB` KiB (default 4: the run is about object counts, and 1 M
 * objects of up to 64 KiB would need ~65 GB on this machine twice over), kept in the stack as
 * `scale-<n>` for the next run, then runs the backup state machine over it in the local runner with
 * everything it enforces (Lambda timeouts and memory, 256 KiB payloads, the 25,000-event history limit,
 * IAM): a full backup, then a no-change run. Prints, per run, the wall time, the parent execution's
 * history events (as the runner counts them against the limit) and the peak RSS of the runner process
 * (every Lambda container included, as worker threads).
 * Opt-in: it takes hours at 1 M objects on 2 cores (filling the bucket is a large part of a cold run).
 * Stopped part-way (Ctrl-C, the end of a session), it is not started over: run it again and the full
 * backup resumes what the stopped one copied (README, "A MinIO copy is never started over"), as long as
 * the stopped one started less than the purge's `graceHours` (24) ago; the row says how much it resumed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStackInfo } from '../local/stack-info.js';
import { client, populate, wireBackupRun } from './small-objects.js';
import { loadAverage } from './table.js';

const stack = readStackInfo();
const n = Number(process.env.SCALE_OBJECTS ?? 1_000_000);
const maxKiB = Number(process.env.SCALE_MAX_KIB ?? 4);
if (!Number.isInteger(n) || n < 1)
  throw new Error(`SCALE_OBJECTS must be a positive integer, not '${process.env.SCALE_OBJECTS}'`);
if (!Number.isInteger(maxKiB) || maxKiB < 1 || maxKiB > 1024)
  throw new Error(`SCALE_MAX_KIB must be an integer from 1 to 1024, not '${process.env.SCALE_MAX_KIB}'`);
const bucket = maxKiB === 64 ? `scale-${n}` : `scale-${n}-${maxKiB}k`;
await populate(
  client(stack.minio.endpoint, stack.minio.accessKey, stack.minio.secretKey, 64),
  bucket,
  n,
  maxKiB,
);
const dir = mkdtempSync(join(tmpdir(), 'scale-run-'));
try {
  const rows: string[][] = [
    [
      'run',
      'objects',
      'copied',
      'carried (resumed)',
      'seconds',
      'objects/s',
      'history events',
      'peak RSS MiB',
      'load',
    ],
  ];
  const slowest: [string, Record<string, number>][] = [];
  for (const [name, full] of [
    ['full backup', true],
    ['no-change run', false],
  ] as const) {
    console.error(`scale: ${name} of ${n.toLocaleString('en')} objects… (load ${loadAverage()})`);
    const run = wireBackupRun(bucket, full, join(dir, `${full ? 'full' : 'again'}.time`), true);
    slowest.push([name, run.longest]);
    const result = run.minioBuckets.find((b) => b.bucket === bucket);
    rows.push([
      name,
      n.toLocaleString('en'),
      (result?.copiedObjects ?? 0).toLocaleString('en'),
      `${(result?.carriedObjects ?? 0).toLocaleString('en')}${result?.resumed ? ` (${result.resumed.objects.toLocaleString('en')} from interrupted ${result.resumed.from})` : ''}`,
      run.seconds.toFixed(1),
      (n / run.seconds).toFixed(0),
      String(run.historyEvents),
      run.peakRssMiB.toFixed(0),
      loadAverage(),
    ]);
  }
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  console.log(
    `\nscale run: one bucket of ${n.toLocaleString('en')} objects of 1–${maxKiB} KiB, backup state machine in the local runner (IAM, Lambda timeouts and memory, payload and history limits enforced; a run over them fails)`,
  );
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | '));
  for (const [name, longest] of slowest) {
    const top = Object.entries(longest)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([state, took]) => `${state} ${took.toFixed(0)} s`);
    console.log(
      `${name}, longest single Task runs: ${top.join(', ')} (each within its Lambda's timeout, which the runner enforces)`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Child process of the benchmarks: runs the backup state machine (the definition CDK synthesizes, the
 * Lambdas' bundles, in the local runner) for the components named on the command line (default the
 * MinIO component alone, over the buckets named), or with `restore` the restore state machine for those
 * components (overwrite on), and prints one JSON line `{seconds, status, …}` on stdout. The parent runs
 * it under `/usr/bin/time -v`, so its peak RSS (runner plus every Lambda container, as worker threads,
 * and the host scripts it spawns) is its own.
 *
 * `bin/node22 --import tsx bench/wire-backup-child.ts '{"buckets":["b"],"full":true,"enforceIam":false}'`
 * `… '{"components":["cassandra"],"full":false}'`, `… '{"components":["cassandra"],"restore":{"backupId":"…"}}'`,
 * `… '{"buckets":["b"],"restore":{"backupId":"…","minioTargets":{"b":"fresh"}}}'`
 * The synthesis (cached on disk) happens before the clock starts: `seconds` is the execution alone.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { backupSummarySchema } from '../functions/core/contract/backup.js';
import { componentNames } from '../functions/core/contract/common.js';
import { restoreReportSchema } from '../functions/core/contract/restore.js';
import { localConfig } from '../local/local-config.js';
import { runLocal, synthesizeLocal } from '../local/local-run.js';
import { readStackInfo } from '../local/stack-info.js';

const argsSchema = z.object({
  /** MinIO buckets to back up (the configuration's default when absent). */
  buckets: z.array(z.string()).min(1).optional(),
  full: z.boolean().default(false),
  components: z.array(z.enum(componentNames)).min(1).default(['minio']),
  /** Restore this backup (overwrite on, the components above) instead of backing up. */
  restore: z
    .object({
      backupId: z.string().min(1),
      /** Source bucket → the bucket to restore it into (`targets.minio.buckets`); absent: in place. */
      minioTargets: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  enforceIam: z.boolean().default(false),
});

const args = argsSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
const stack = readStackInfo();
const config = localConfig(stack, args.buckets ? { buckets: args.buckets } : {});
synthesizeLocal(config);
const started = process.hrtime.bigint();
const result = await runLocal(
  args.restore
    ? {
        stateMachine: 'wire-restore',
        input: {
          backupId: args.restore.backupId,
          confirm: args.restore.backupId,
          overwrite: true,
          components: args.components,
          ...(args.restore.minioTargets
            ? { targets: { minio: { buckets: args.restore.minioTargets } } }
            : {}),
        },
        config,
        enforceIam: args.enforceIam,
      }
    : {
        stateMachine: 'wire-backup',
        input: { trigger: 'manual', full: args.full, components: args.components },
        config,
        enforceIam: args.enforceIam,
      },
);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
// The longest single run of each Task state (entered → exited, per Map item): how close a Lambda came to
// its synthesized timeout.
const entered = new Map<string, number>();
const longest: Record<string, number> = {};
for (const event of result.events) {
  if (!event.state || event.stateType !== 'Task') continue;
  const at = `${event.scope ?? ''}|${event.state}`;
  if (event.type === 'StateEntered') entered.set(at, event.timestamp);
  if (event.type === 'StateExited' && entered.has(at)) {
    const took = (event.timestamp - (entered.get(at) ?? event.timestamp)) / 1000;
    longest[event.state] = Math.max(longest[event.state] ?? 0, took);
  }
}
const vmHwmKiB = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
const { status, error, cause } = result;
// What the execution did, from its output (parsed: the parent prints it).
const succeeded = status === 'SUCCEEDED';
const backup = succeeded && !args.restore ? backupSummarySchema.parse(result.output) : undefined;
const report = succeeded && args.restore ? restoreReportSchema.parse(result.output) : undefined;
const cassandraNodes = backup?.manifest.cassandra?.nodes.map((n) => ({
  files: n.files,
  bytes: n.bytes,
  newFiles: n.newFiles,
  newBytes: n.newBytes,
}));
const restored = report && {
  outcome: report.outcome,
  restoredNodes: report.verified?.cassandra?.nodes ?? 0,
  rowCounts: report.verified?.rowCounts
    ? {
        tables: report.verified.rowCounts.tables,
        matching: report.verified.rowCounts.matching,
        backupRows: report.verified.rowCounts.backupRows,
        restoredRows: report.verified.rowCounts.restoredRows,
      }
    : null,
};
// Per bucket: how the MinIO copy was split (copied, carried, resumed from an interrupted backup).
const minioBuckets = backup?.manifest.minio?.buckets.map((b) => ({
  bucket: b.bucket,
  objects: b.objects,
  copiedObjects: b.copiedObjects,
  carriedObjects: b.carriedObjects,
  ...(b.resumed ? { resumed: b.resumed } : {}),
}));
// What the MinIO restore verified, per target bucket (the small-objects bench checks it).
const restore = report && { outcome: report.outcome, minio: report.verified?.minio ?? [] };
process.stdout.write(
  `${JSON.stringify({ seconds, status, error, cause, events: result.events.length, historyEvents: result.historyEvents, longest, vmHwmKiB, backupId: backup?.backupId ?? report?.backupId, totals: backup?.manifest.totals, cassandraNodes, minioBuckets, restored, restore })}\n`,
);
process.exit(result.status === 'SUCCEEDED' ? 0 : 1);

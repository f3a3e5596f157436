/**
 * Child process of the benchmarks: runs the backup state machine (the definition CDK synthesizes, the
 * Lambdas' bundles, in the local runner) for the MinIO component alone, over the buckets named on the
 * command line, or the restore state machine (MinIO alone) of one backup of one bucket into another
 * bucket, and prints one JSON line `{seconds, status, …}` on stdout. The parent runs it under
 * `/usr/bin/time -v`, so its peak RSS (runner plus every Lambda container, as worker threads) is its own.
 *
 * `bin/node22 --import tsx bench/wire-backup-child.ts '{"buckets":["b"],"full":true,"enforceIam":false}'`
 * `bin/node22 --import tsx bench/wire-backup-child.ts '{"mode":"restore","bucket":"b","backupId":"…","targetBucket":"c"}'`
 * The synthesis (cached on disk) happens before the clock starts: `seconds` is the execution alone.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { localConfig } from '../local/local-config.js';
import { runLocal, synthesizeLocal } from '../local/local-run.js';
import type { RunResult } from '../local/runner/run-state-machine.js';
import { readStackInfo } from '../local/stack-info.js';

const backupArgsSchema = z.object({
  mode: z.literal('backup').default('backup'),
  buckets: z.array(z.string()).min(1),
  full: z.boolean(),
  enforceIam: z.boolean().default(false),
});
/** Restores `backupId`'s copy of `bucket` (MinIO only) into `targetBucket` (missing or empty). */
const restoreArgsSchema = z.object({
  mode: z.literal('restore'),
  bucket: z.string(),
  backupId: z.string(),
  targetBucket: z.string(),
  enforceIam: z.boolean().default(false),
});
const argsSchema = z.union([restoreArgsSchema, backupArgsSchema]);

/** What the backup's output and the restore's report tell the parent (the rest is not read). */
const backupOutputSchema = z.object({ manifest: z.object({ backupId: z.string() }) });
const restoreOutputSchema = z.object({
  outcome: z.string(),
  results: z
    .object({ minio: z.object({ objects: z.number(), bytes: z.number() }).nullable().optional() })
    .optional(),
  verified: z
    .object({
      minio: z.array(
        z.object({ targetBucket: z.string(), objects: z.number(), bytes: z.number(), extra: z.number() }),
      ),
    })
    .optional(),
});

const args = argsSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
const stack = readStackInfo();
const config = localConfig(stack, { buckets: args.mode === 'restore' ? [args.bucket] : args.buckets });
synthesizeLocal(config);
const started = process.hrtime.bigint();
const result: RunResult =
  args.mode === 'restore'
    ? await runLocal({
        stateMachine: 'wire-restore',
        input: {
          backupId: args.backupId,
          confirm: args.backupId,
          components: ['minio'],
          targets: { minio: { buckets: { [args.bucket]: args.targetBucket } } },
        },
        config,
        enforceIam: args.enforceIam,
      })
    : await runLocal({
        stateMachine: 'wire-backup',
        input: { trigger: 'manual', full: args.full, components: ['minio'] },
        config,
        enforceIam: args.enforceIam,
      });
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
const backupId =
  args.mode === 'backup' ? backupOutputSchema.safeParse(result.output).data?.manifest.backupId : undefined;
const restore = args.mode === 'restore' ? restoreOutputSchema.safeParse(result.output).data : undefined;
process.stdout.write(
  `${JSON.stringify({ seconds, status, error, cause, events: result.events.length, historyEvents: result.historyEvents, longest, vmHwmKiB, backupId, restore })}\n`,
);
process.exit(result.status === 'SUCCEEDED' ? 0 : 1);

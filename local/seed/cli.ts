import { parseArgs } from 'node:util';
import type { WireComponents } from './components.js';
import { diffSnapshots, formatDifferences } from './diff.js';
import { mutateWire } from './mutate-wire.js';
import type { SeedProgress } from './progress.js';
import { defaultSeed, seedWire } from './seed-wire.js';
import { type SnapshotDetail, snapshotWire, type WireSnapshot } from './snapshot.js';
import { readSnapshotFile, writeSnapshotFile } from './snapshot-file.js';

/**
 * Command line of the seeder (`bin/node22 --import tsx local/seed/cli.ts <command>`):
 *   seed --size smoke|bench|<N>MiB [--seed 42] [--reset] [--flush] [--only cassandra,minio,wire-server] [--json]
 *   mutate [--seed 42] [--round 1] [--no-flush] [--json]
 *   snapshot [--detail keys|rows|digest] [--only …] [--buckets assets,…] [--out <file>]
 *   diff <a> <b> [--tolerance <seconds>] [--bucket-pair assets=assets-restored]  (exit 1 when they differ)
 * Progress goes to stderr, the summary to stdout.
 */

const usage = `usage: local/seed/cli.ts <command> [options]
  seed     --size smoke|bench|<N>MiB [--seed ${defaultSeed}] [--reset] [--flush] [--only cassandra,minio,wire-server] [--json]
  mutate   [--seed ${defaultSeed}] [--round 1] [--no-flush] [--json]
  snapshot [--detail keys|rows|digest] [--only cassandra,minio,wire-server] [--buckets assets,...] [--out <file>]
  diff     <a.jsonl> <b.jsonl> [--tolerance 120] [--bucket-pair <bucket in a>=<bucket in b>]...`;

const started = Date.now();
function logProgress(event: SeedProgress): void {
  const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[${seconds}s] ${event.phase}: ${event.message}\n`);
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function parseSeed(value: string | undefined): number {
  const seed = Number(value ?? defaultSeed);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, not '${value}'`);
  return seed;
}

/** `--only cassandra,minio,wire-server` as a component selection (absent: every part). */
function onlyComponents(only: string | undefined): { components?: WireComponents } {
  if (only === undefined) return {};
  const parts = only.split(',').map((s) => s.trim());
  const unknown = parts.filter((p) => !['cassandra', 'minio', 'wire-server'].includes(p));
  if (unknown.length > 0)
    throw new Error(`--only takes cassandra, minio, wire-server; not '${unknown.join(',')}'`);
  return {
    components: {
      cassandra: parts.includes('cassandra'),
      minio: parts.includes('minio'),
      wireServer: parts.includes('wire-server'),
    },
  };
}

function summarizeSnapshot(snapshot: WireSnapshot): string {
  const lines = [`snapshot taken ${snapshot.takenAt} (detail ${snapshot.detail})`];
  for (const ks of snapshot.cassandra?.keyspaces ?? []) {
    const rows = ks.tables.reduce((sum, t) => sum + t.rowCount, 0);
    lines.push(`  cassandra ${ks.name}: ${ks.tables.length} tables, ${rows} rows`);
  }
  for (const missing of snapshot.cassandra?.missingKeyspaces ?? [])
    lines.push(`  cassandra ${missing}: missing`);
  for (const bucket of snapshot.minio?.buckets ?? []) {
    lines.push(
      `  minio ${bucket.name}: ${bucket.exists ? `${bucket.objectCount} objects, ${mib(bucket.totalBytes)}` : 'missing'}`,
    );
  }
  if (snapshot.wireServer) {
    const w = snapshot.wireServer;
    lines.push(
      `  wire-server ${w.path}: ${w.exists ? `${w.fileCount} files, ${w.totalBytes} bytes` : 'missing'}`,
    );
  }
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      size: { type: 'string' },
      seed: { type: 'string' },
      reset: { type: 'boolean' },
      flush: { type: 'boolean' },
      'no-flush': { type: 'boolean' },
      only: { type: 'string' },
      buckets: { type: 'string' },
      json: { type: 'boolean' },
      round: { type: 'string' },
      detail: { type: 'string' },
      out: { type: 'string' },
      tolerance: { type: 'string' },
      'bucket-pair': { type: 'string', multiple: true },
    },
  });
  switch (command) {
    case 'seed': {
      const result = await seedWire({
        size: values.size ?? 'smoke',
        seed: parseSeed(values.seed),
        reset: values.reset ?? false,
        flush: values.flush ?? false,
        ...onlyComponents(values.only),
        onProgress: logProgress,
      });
      if (values.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return 0;
      }
      const lines = [`seeded size ${result.size} with seed ${result.seed} in ${secs(result.durationMs)}`];
      if (result.cassandra) {
        const c = result.cassandra;
        lines.push(
          `  cassandra: ${c.totalRows} rows in ${Object.keys(c.rows).length} tables, ~${mib(c.bytes)}, ${secs(c.durationMs)}`,
        );
      }
      if (result.minio) {
        const m = result.minio;
        lines.push(
          `  minio ${m.bucket}: ${m.objects} objects, ${mib(m.bytes)} (${m.multipartKeys.length} multipart), ${secs(m.durationMs)}`,
        );
      }
      if (result.wireServer)
        lines.push(`  wire-server ${result.wireServer.path}: ${result.wireServer.files} files`);
      lines.push(
        result.flushed
          ? '  flushed every node'
          : '  not flushed (run with --flush, or nodetool flush, before a snapshot-based backup)',
      );
      process.stdout.write(`${lines.join('\n')}\n`);
      return 0;
    }
    case 'mutate': {
      const result = await mutateWire({
        seed: parseSeed(values.seed),
        round: Number(values.round ?? 1),
        flush: !values['no-flush'],
        onProgress: logProgress,
      });
      if (values.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return 0;
      }
      const c = result.cassandra;
      const m = result.minio;
      const w = result.wireServer;
      const lines = [
        `mutation round ${result.round} (seed ${result.seed})`,
        c
          ? `  cassandra: ${c.insertedRows.length} rows inserted, ${c.updated.length} updated, ${c.deleted.length} deleted`
          : '',
        m
          ? `  minio: added ${m.added.length}, overwritten ${m.overwritten.length}, deleted ${m.deleted.length}`
          : '',
        w ? `  wire-server: changed ${w.changed.join(', ')}; added ${w.added.join(', ')}` : '',
        result.flushed ? '  flushed every node' : '  not flushed',
      ];
      process.stdout.write(`${lines.filter(Boolean).join('\n')}\n`);
      return 0;
    }
    case 'snapshot': {
      const detail = (values.detail ?? 'keys') as SnapshotDetail;
      if (!['keys', 'rows', 'digest'].includes(detail))
        throw new Error(`--detail must be keys, rows or digest, not '${detail}'`);
      const snapshot = await snapshotWire({
        detail,
        ...onlyComponents(values.only),
        ...(values.buckets ? { buckets: values.buckets.split(',').map((b) => b.trim()) } : {}),
        onProgress: logProgress,
      });
      if (values.out) await writeSnapshotFile(values.out, snapshot);
      process.stdout.write(
        `${summarizeSnapshot(snapshot)}${values.out ? `\n  written to ${values.out}` : ''}\n`,
      );
      return 0;
    }
    case 'diff': {
      const [a, b] = positionals;
      if (!a || !b) throw new Error('diff needs two snapshot files');
      const tolerance = Number(values.tolerance ?? 120);
      const bucketPairs = Object.fromEntries(
        (values['bucket-pair'] ?? []).map((pair) => {
          const [inA, inB] = pair.split('=');
          if (!inA || !inB)
            throw new Error(`--bucket-pair must be <bucket in a>=<bucket in b>, not '${pair}'`);
          return [inA, inB];
        }),
      );
      const differences = diffSnapshots(await readSnapshotFile(a), await readSnapshotFile(b), {
        ttlToleranceSeconds: tolerance,
        bucketPairs,
      });
      process.stdout.write(
        differences.length === 0
          ? 'no differences\n'
          : `${formatDifferences(differences)}\n${differences.length} differences\n`,
      );
      return differences.length === 0 ? 0 : 1;
    }
    default:
      process.stderr.write(`${usage}\n`);
      return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`wire-backup seed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);

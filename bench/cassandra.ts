/**
 * Benchmark: wire-backup's Cassandra backup and restore vs cassandra-medusa 0.31.0 on the same node and
 * the same data, in one run (`npm run bench -- cassandra`; part of the default run after `copy`):
 * 1. a full backup of `BENCH_CASSANDRA_SIZE` (default `128MiB`; the Cassandra part of that seed plan):
 *    wire-backup's backup state machine (Cassandra alone, `full: true`) vs `medusa backup-node --mode full`;
 * 2. the same with nothing changed: wire-backup `full: false` vs `--mode differential`;
 * 3. after `mutateWire` (round 1, Cassandra only; it flushes): both again, differential;
 * 4. a restore of the latest backup in place: every seeded table is truncated first (the loss), then
 *    wire-backup's restore state machine (Cassandra alone, overwrite) and, after another truncation,
 *    `medusa restore-node --in-place` (stops the node, moves the files in, starts it). After each, every
 *    table's `COUNT(*)` must equal the count taken before the truncation, or the bench fails.
 * Each tool runs as its own process under `/usr/bin/time -v` (wall s, peak RSS, CPU s of the process and
 * its children; the Cassandra server's own CPU is in neither). wire-backup runs in
 * `bench/wire-backup-child.ts` (local runner, IAM not enforced, as the other benches). Medusa writes to
 * its own bucket `bench-medusa` in the stack's vault MinIO (emptied first), with a config written here.
 * Medusa exits 0 after a failed snapshot or upload: its log is read for ERROR lines and `medusa status`
 * must show the backup complete on the node with files in it, or the bench fails.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Client } from 'cassandra-driver';
import { z } from 'zod';
import { createCassandraClient } from '../local/seed/connections.js';
import { mutateWire, seededKeyspaces, seedWire } from '../local/seed/index.js';
import { emptyBucket, ensureBucket } from '../local/seed/minio-objects.js';
import { createStackS3Client } from '../local/stack-clients.js';
import { readStackInfo, repoRoot, type StackInfo } from '../local/stack-info.js';
import { type BenchRow, timedCommand } from './table.js';

const medusaBucket = 'bench-medusa';
const mib = (bytes: number) => bytes / 2 ** 20;

/** What `bench/wire-backup-child.ts` prints (its last stdout line). */
const childOutputSchema = z.object({
  seconds: z.number(),
  status: z.string(),
  error: z.string().optional(),
  cause: z.string().optional(),
  backupId: z.string().optional(),
  cassandraNodes: z
    .array(z.object({ files: z.number(), bytes: z.number(), newFiles: z.number(), newBytes: z.number() }))
    .optional(),
  restored: z
    .object({
      outcome: z.string(),
      restoredNodes: z.number(),
      rowCounts: z
        .object({
          tables: z.number(),
          matching: z.number(),
          backupRows: z.number(),
          restoredRows: z.number(),
        })
        .nullable(),
    })
    .optional(),
});
type ChildOutput = z.infer<typeof childOutputSchema>;

/** The medusa executable of the tool cache (`npm run bench:setup -- cassandra`). */
function medusaBinary(stack: StackInfo): string {
  const candidates = [
    process.env.WIRE_BACKUP_CACHE ? join(process.env.WIRE_BACKUP_CACHE, 'medusa-venv', 'bin', 'medusa') : '',
    join(stack.cacheDir, 'medusa-venv', 'bin', 'medusa'),
    join(repoRoot, '.cache', 'medusa-venv', 'bin', 'medusa'),
  ];
  const found = candidates.find((path) => path !== '' && existsSync(path));
  if (!found)
    throw new Error(`medusa not found (${candidates.join(', ')}): run 'npm run bench:setup -- cassandra'`);
  return found;
}

/** Sum of the sizes of the bucket's (current) objects. */
async function bucketBytes(s3: S3Client, bucket: string): Promise<number> {
  let total = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const object of page.Contents ?? []) total += object.Size ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return total;
}

/** Bytes of the live SSTables of the seeded keyspaces (snapshots and incremental backups left out). */
function sstableBytes(dataDir: string): number {
  const walk = (dir: string): number => {
    let total = 0;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const st = statSync(path);
      if (st.isDirectory()) total += name === 'snapshots' || name === 'backups' ? 0 : walk(path);
      else total += st.size;
    }
    return total;
  };
  return seededKeyspaces.reduce((total, ks) => {
    const dir = join(dataDir, ks);
    return total + (existsSync(dir) ? walk(dir) : 0);
  }, 0);
}

/** The tables of the seeded keyspaces as the node has them now (`keyspace.table`), and their default TTL. */
async function liveTables(client: Client): Promise<{ name: string; ttl: number }[]> {
  const result = await client.execute(
    'SELECT keyspace_name, table_name, default_time_to_live FROM system_schema.tables WHERE keyspace_name IN ?',
    [[...seededKeyspaces]],
  );
  return result.rows
    .map((r) => ({
      name: `${String(r.keyspace_name)}.${String(r.table_name)}`,
      ttl: Number(r.default_time_to_live ?? 0),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * `COUNT(*)` of every table of the seeded keyspaces whose rows do not expire by themselves (a table with
 * a default TTL, `brig.nonce` 300 s, loses rows between the count and a restore; wire-backup's own
 * check leaves them out too).
 */
async function countRows(stack: StackInfo): Promise<Map<string, number>> {
  const client = createCassandraClient(stack, { consistency: 'one' });
  try {
    const counts = new Map<string, number>();
    for (const { name, ttl } of await liveTables(client)) {
      if (ttl > 0) continue;
      const [ks, t] = name.split('.');
      const result = await client.execute(`SELECT COUNT(*) AS n FROM "${ks}"."${t}"`);
      counts.set(name, Number(result.first()?.get('n') ?? -1));
    }
    return counts;
  } finally {
    await client.shutdown();
  }
}

/** TRUNCATE every table of the seeded keyspaces: the loss a restore repairs. */
async function truncateAll(stack: StackInfo): Promise<void> {
  const client = createCassandraClient(stack, { consistency: 'all' });
  try {
    for (const { name } of await liveTables(client)) {
      const [ks, t] = name.split('.');
      await client.execute(`TRUNCATE "${ks}"."${t}"`);
    }
  } finally {
    await client.shutdown();
  }
}

/** Throws unless every table has the row count it had before (the restore restored). */
function requireCounts(tool: string, expected: Map<string, number>, actual: Map<string, number>): string {
  const wrong = [...new Set([...expected.keys(), ...actual.keys()])].filter(
    (t) => expected.get(t) !== actual.get(t),
  );
  if (wrong.length > 0) {
    throw new Error(
      `${tool}: restore did not restore: ${wrong.map((t) => `${t} ${actual.get(t) ?? 'absent'} rows, expected ${expected.get(t) ?? 'absent'}`).join('; ')}`,
    );
  }
  const rows = [...expected.values()].reduce((a, b) => a + b, 0);
  return `${expected.size} tables, ${rows.toLocaleString('en-US')} rows, each COUNT(*) = before the loss (tables with a default TTL left out)`;
}

/** Writes medusa's config (s3_compatible on the stack's vault; the node's nodetool, stop and start). */
function writeMedusaConfig(stack: StackInfo, dir: string): string {
  const node = stack.cassandra.nodes[0];
  const host = node ? stack.hosts[node.instanceId] : undefined;
  if (!node || !host) throw new Error('bench cassandra: no Cassandra node in stack.json');
  const nodeDir = dirname(node.dataDir);
  const vault = new URL(stack.vault.endpoint);
  const keyFile = join(dir, 'credentials');
  writeFileSync(
    keyFile,
    `[default]\naws_access_key_id = ${stack.vault.accessKey}\naws_secret_access_key = ${stack.vault.secretKey}\n`,
    { mode: 0o600 },
  );
  // Stop: TERM the node's JVM (its pid file) and wait for it to exit. Start: `wire-stack up`, which starts
  // what is not running and returns once the node is UN and its CQL port open.
  const stop = join(dir, 'stop-cassandra.sh');
  writeFileSync(
    stop,
    `#!/usr/bin/env bash
set -u
pidfile=${JSON.stringify(join(nodeDir, 'cassandra.pid'))}
pid=$(cat "$pidfile" 2>/dev/null) || exit 0
kill -TERM "$pid" 2>/dev/null || exit 0
for _ in $(seq 1 240); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$pid" 2>/dev/null; then echo "cassandra (pid $pid) still running after 120 s" >&2; exit 1; fi
rm -f "$pidfile"
`,
    { mode: 0o755 },
  );
  const start = join(dir, 'start-cassandra.sh');
  writeFileSync(
    start,
    `#!/usr/bin/env bash
export WIRE_STACK_DIR=${JSON.stringify(stack.stackDir)} WIRE_BACKUP_CACHE=${JSON.stringify(stack.cacheDir)}
exec ${JSON.stringify(join(repoRoot, 'local-stack', 'bin', 'wire-stack'))} up
`,
    { mode: 0o755 },
  );
  const ini = join(dir, 'medusa.ini');
  writeFileSync(
    ini,
    `[cassandra]
config_file = ${join(nodeDir, 'conf', 'cassandra.yaml')}
; the host profile's nodetool is bound to the node's JMX address and port, and takes no -D flags
nodetool_executable = ${join(host.binDir, 'nodetool')}
nodetool_flags =
use_sudo = False
resolve_ip_addresses = False
stop_cmd = ${stop}
start_cmd = ${start}

[storage]
storage_provider = s3_compatible
bucket_name = ${medusaBucket}
key_file = ${keyFile}
host = ${vault.hostname}
port = ${vault.port}
secure = False
region = ${stack.vault.region}
fqdn = ${node.address}
use_sudo_for_restore = False

[monitoring]
monitoring_provider = None

[logging]
enabled = False
`,
  );
  return ini;
}

/** One medusa command under `/usr/bin/time -v`, its log (stderr) checked for ERROR lines. */
function medusa(
  context: { bin: string; ini: string; dir: string; env: NodeJS.ProcessEnv },
  step: string,
  args: readonly string[],
) {
  const log = join(context.dir, `medusa-${step}.log`);
  const run = timedCommand(
    'bash',
    ['-c', 'exec "$0" "$@" 2>"$MEDUSA_LOG"', context.bin, '--config-file', context.ini, ...args],
    { env: { ...context.env, MEDUSA_LOG: log }, reportFile: join(context.dir, `medusa-${step}.time`) },
  );
  const text = readFileSync(log, 'utf8');
  const errors = text.split('\n').filter((l) => /\] (ERROR|CRITICAL):/.test(l));
  if (errors.length > 0) {
    throw new Error(`medusa ${args[0]} (${step}) logged errors (exit 0 all the same): ${errors.join(' | ')}`);
  }
  return { ...run, log: text };
}

/** `medusa status`: the backup complete on the one node, with files; its file count and size. */
function requireMedusaBackup(context: Parameters<typeof medusa>[0], name: string): string {
  const { stdout } = medusa(context, `status-${name}`, ['status', '--backup-name', name]);
  const nodes = /(\d+) nodes completed, (\d+) nodes incomplete, (\d+) nodes missing/.exec(stdout);
  const files = /- (\d+) files, ([\d.]+ \w+)/.exec(stdout);
  const complete = nodes?.[1] === '1' && nodes[2] === '0' && nodes[3] === '0';
  if (!complete || !files || Number(files[1]) === 0) {
    throw new Error(`medusa backup ${name} is not complete: ${stdout.trim()}`);
  }
  return `${files[1]} files, ${files[2]}`;
}

/** Seeds, then measures both tools on each work in turn; see the module comment. */
export async function main(size = process.env.BENCH_CASSANDRA_SIZE ?? '128MiB'): Promise<BenchRow[]> {
  const stack = readStackInfo();
  const node = stack.cassandra.nodes[0];
  const host = node ? stack.hosts[node.instanceId] : undefined;
  if (!node || !host || stack.cassandra.nodes.length !== 1) {
    throw new Error('bench cassandra: needs a 1-node stack (wire-stack up --nodes 1)');
  }
  const bin = medusaBinary(stack);
  const dir = join(stack.stackDir, 'bench-cassandra');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'restore-tmp'), { recursive: true });
  const context = {
    bin,
    ini: writeMedusaConfig(stack, dir),
    dir,
    // Medusa calls `nodetool` (the node's wrapper first on PATH); the pure-Python driver (no C build).
    env: { ...process.env, PATH: `${host.binDir}:${process.env.PATH ?? ''}`, CASS_DRIVER_NO_EXTENSIONS: '1' },
  };
  const s3 = createStackS3Client(stack.vault);
  try {
    await ensureBucket(s3, medusaBucket);
    await emptyBucket(s3, medusaBucket);

    console.error(`bench cassandra: seeding ${size} (the Cassandra part)…`);
    await seedWire({ stack, size, reset: true, flush: true, components: { cassandra: true } });
    const sstables = mib(sstableBytes(node.dataDir));
    const rows: BenchRow[] = [];

    const wireBackup = (
      step: string,
      input: Record<string, unknown>,
    ): ChildOutput & { peakRssMiB: number; cpuSeconds: number; processSeconds: number } => {
      const run = timedCommand(
        join(repoRoot, 'bin', 'node22'),
        [
          '--import',
          'tsx',
          join(repoRoot, 'bench', 'wire-backup-child.ts'),
          JSON.stringify({ components: ['cassandra'], ...input }),
        ],
        { reportFile: join(dir, `wire-backup-${step}.time`) },
      );
      const line = childOutputSchema.parse(JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}'));
      if (line.status !== 'SUCCEEDED')
        throw new Error(`wire-backup ${step} ${line.status}: ${line.error} ${line.cause}`);
      return { ...line, peakRssMiB: run.peakRssMiB, cpuSeconds: run.cpuSeconds, processSeconds: run.seconds };
    };

    const backups: { work: string; full: boolean; medusaName: string }[] = [
      {
        work: `Cassandra full backup (${size} seeded, ${sstables.toFixed(0)} MiB of SSTables, 1 node)`,
        full: true,
        medusaName: 'bench-full',
      },
      { work: 'differential, nothing new', full: false, medusaName: 'bench-nothing-new' },
      { work: 'differential after a small change', full: false, medusaName: 'bench-small-change' },
    ];
    let latestWireBackup = '';
    for (const [i, b] of backups.entries()) {
      if (i === 2) {
        console.error('bench cassandra: a small change (mutateWire round 1, flushed)…');
        await mutateWire({ stack, round: 1, components: { cassandra: true } });
      }
      console.error(`bench cassandra: ${b.work}: wire-backup…`);
      const vaultBefore = await bucketBytes(s3, stack.vault.bucket);
      const wb = wireBackup(b.medusaName, { full: b.full });
      const vaultAfter = await bucketBytes(s3, stack.vault.bucket);
      latestWireBackup = wb.backupId ?? '';
      const n = wb.cassandraNodes?.[0];
      rows.push({
        work: b.work,
        tool: 'wire-backup',
        seconds: wb.seconds,
        peakRssMiB: wb.peakRssMiB,
        cpuSeconds: wb.cpuSeconds,
        sentMiB: mib(vaultAfter - vaultBefore),
        reference: true,
        note: n
          ? `${n.newFiles} of ${n.files} files new, ${mib(n.newBytes).toFixed(1)} of ${mib(n.bytes).toFixed(1)} MiB (manifest); execution time (the child's wall ${wb.processSeconds.toFixed(0)} s with synthesis)`
          : 'no Cassandra node in the manifest',
      });
      console.error(`bench cassandra: ${b.work}: medusa backup-node…`);
      const medusaBefore = await bucketBytes(s3, medusaBucket);
      const mode = b.full ? 'full' : 'differential';
      const md = medusa(context, b.medusaName, [
        'backup-node',
        '--backup-name',
        b.medusaName,
        '--mode',
        mode,
      ]);
      const medusaAfter = await bucketBytes(s3, medusaBucket);
      const status = requireMedusaBackup(context, b.medusaName);
      const copied = /(\d+) files copied from host \((\d+) new, (\d+) reuploaded\)/.exec(md.log);
      rows.push({
        work: b.work,
        tool: `medusa backup-node --mode ${mode}`,
        seconds: md.seconds,
        peakRssMiB: md.peakRssMiB,
        cpuSeconds: md.cpuSeconds,
        sentMiB: mib(medusaAfter - medusaBefore),
        note: `${copied ? `${copied[2]} files new; ` : ''}backup ${status} (medusa status), system keyspaces included`,
      });
    }

    console.error('bench cassandra: counting rows (what the latest backups hold)…');
    const expected = await countRows(stack);
    const work = 'restore of the latest backup (in place)';

    console.error('bench cassandra: truncating every seeded table, then wire-backup restore…');
    await truncateAll(stack);
    const wr = wireBackup('restore', { restore: { backupId: latestWireBackup } });
    const wrCounts = requireCounts('wire-backup', expected, await countRows(stack));
    const rc = wr.restored?.rowCounts;
    rows.push({
      work,
      tool: 'wire-backup',
      seconds: wr.seconds,
      peakRssMiB: wr.peakRssMiB,
      cpuSeconds: wr.cpuSeconds,
      reference: true,
      note: `restore state machine (child's wall ${wr.processSeconds.toFixed(0)} s), nodetool import, node up throughout; its own row-count check ${rc ? `${rc.matching}/${rc.tables} tables` : 'off'}; bench: ${wrCounts}`,
    });

    console.error('bench cassandra: truncating every seeded table, then medusa restore-node --in-place…');
    await truncateAll(stack);
    const mr = medusa(context, 'restore', [
      'restore-node',
      '--in-place',
      '--backup-name',
      backups[2]?.medusaName ?? '',
      '--temp-dir',
      join(dir, 'restore-tmp'),
    ]);
    const mrCounts = requireCounts('medusa', expected, await countRows(stack));
    rows.push({
      work,
      tool: 'medusa restore-node --in-place',
      seconds: mr.seconds,
      peakRssMiB: mr.peakRssMiB,
      cpuSeconds: mr.cpuSeconds,
      note: `download, stop node, move files in (system keyspaces too), start (wire-stack up, until UN); no check of its own; bench: ${mrCounts}`,
    });
    return rows;
  } finally {
    s3.destroy();
  }
}

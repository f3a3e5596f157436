/**
 * Benchmark: many small objects (1–64 KiB; `BENCH_SMALL_OBJECTS`, default 100,000) in one source
 * bucket, copied into the vault side by side by wire-backup (the backup state machine, MinIO
 * component alone, in the local runner) and by the tools an operator would use instead: `rclone copy`,
 * `mc mirror`, `aws s3 sync` (two steps through a local folder: one `aws` command talks to one
 * endpoint). Then the same again with nothing changed (wire-backup's incremental run; the peers' second
 * run, which compares both sides), and one plain listing of the bucket as the floor of a no-change run.
 * Last the way back: wire-backup's restore state machine (MinIO only) of its newest backup into a fresh
 * empty bucket of the source MinIO, vs each peer copying its own copy back into one; every restored
 * bucket is compared with the source bucket (`bench/restore-check.ts`) before its row is kept.
 *
 * Each tool runs as its own process under `/usr/bin/time -v` (wall time, peak RSS). The populated
 * source bucket is kept between runs (`bench-small-<n>`): creating it is most of a cold run.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { z } from 'zod';
import { forEachConcurrent } from '../functions/core/streams.js';
import { readStackInfo, repoRoot, type StackInfo } from '../local/stack-info.js';
import { checkRestore } from './restore-check.js';
import { awsCli, type BenchRow, cachedBinary, loadAverage, s3Url, timedCommand } from './table.js';

const KiB = 1024;

/** A client with a keep-alive pool large enough for `sockets` requests at once. */
export function client(
  endpoint: string,
  accessKeyId: string,
  secretAccessKey: string,
  sockets: number,
): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: sockets }) },
  });
}

/** Counts a bucket's objects with one plain listing (1,000 keys a page); undefined if it does not exist. */
async function listAll(
  s3: S3Client,
  bucket: string,
  onKey?: (key: string) => void,
): Promise<number | undefined> {
  let count = 0;
  let token: string | undefined;
  try {
    do {
      const page: ListObjectsV2CommandOutput = await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          MaxKeys: 1000,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      count += page.KeyCount ?? 0;
      if (onKey) for (const o of page.Contents ?? []) if (o.Key) onKey(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchBucket') return undefined;
    throw error;
  }
  return count;
}

/** Key and size of object i: Wire-like asset keys, sizes spread over 1–64 KiB. */
function objectOf(i: number, maxKiB: number): { key: string; size: number } {
  const h = createHash('sha256').update(`bench-small ${i}`).digest();
  const size = KiB + (h.readUInt32BE(0) % ((maxKiB - 1) * KiB + 1));
  return {
    key: `v3/persistent/${h.subarray(4, 6).toString('hex')}/${h.subarray(6, 22).toString('hex')}`,
    size,
  };
}

/** Creates and fills the source bucket (objects of 1–`maxKiB` KiB) unless it already holds exactly `n` objects. */
export async function populate(source: S3Client, bucket: string, n: number, maxKiB = 64): Promise<void> {
  const have = await listAll(source, bucket);
  if (have === n) {
    console.error(`bench small: s3://${bucket} already holds ${n} objects (kept from an earlier run)`);
    return;
  }
  if (have === undefined) await source.send(new CreateBucketCommand({ Bucket: bucket }));
  // An interrupted fill is continued: the keys already there (the same keys and sizes: they are derived
  // from the index) are not written again.
  const written = new Set<string>();
  if (have) await listAll(source, bucket, (key) => written.add(key));
  console.error(
    `bench small: writing ${n - written.size} objects of 1–${maxKiB} KiB into s3://${bucket} (64 at a time; ${written.size} already there)…`,
  );
  const started = Date.now();
  const indexes = Array.from({ length: n }, (_, i) => i);
  await forEachConcurrent(indexes, 64, async (i) => {
    const { key, size } = objectOf(i, maxKiB);
    if (written.has(key)) return;
    await source.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: randomBytes(size),
        ContentType: 'application/octet-stream',
      }),
    );
    if ((i + 1) % 10_000 === 0)
      console.error(`  ${i + 1} objects (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  });
  const count = await listAll(source, bucket);
  if (count !== n) throw new Error(`s3://${bucket} holds ${count} objects after populating, expected ${n}`);
}

interface Peer {
  readonly tool: string;
  readonly run: (dir: string, step: string) => { seconds: number; peakRssMiB: number };
  readonly note: string;
  /** Copies the peer's own copy (in the vault) back into `restoreBucket` on the source MinIO. */
  readonly restore: {
    readonly tool: string;
    readonly run: (restoreBucket: string) => { seconds: number; peakRssMiB: number };
  };
}

function peersOf(stack: StackInfo, bucket: string, target: string, dir: string): Peer[] {
  const peers: Peer[] = [];
  const srcUrl = s3Url(stack.minio.endpoint, stack.minio.accessKey, stack.minio.secretKey);
  const vaultUrl = s3Url(stack.vault.endpoint, stack.vault.accessKey, stack.vault.secretKey);
  const rclone = cachedBinary(stack, 'rclone');
  if (rclone) {
    const env = {
      ...process.env,
      RCLONE_CONFIG: '/dev/null',
      RCLONE_CONFIG_SRC_TYPE: 's3',
      RCLONE_CONFIG_SRC_PROVIDER: 'Minio',
      RCLONE_CONFIG_SRC_ENDPOINT: stack.minio.endpoint,
      RCLONE_CONFIG_SRC_ACCESS_KEY_ID: stack.minio.accessKey,
      RCLONE_CONFIG_SRC_SECRET_ACCESS_KEY: stack.minio.secretKey,
      RCLONE_CONFIG_VAULT_TYPE: 's3',
      RCLONE_CONFIG_VAULT_PROVIDER: 'Minio',
      RCLONE_CONFIG_VAULT_ENDPOINT: stack.vault.endpoint,
      RCLONE_CONFIG_VAULT_ACCESS_KEY_ID: stack.vault.accessKey,
      RCLONE_CONFIG_VAULT_SECRET_ACCESS_KEY: stack.vault.secretKey,
    };
    const flags = ['--transfers', '32', '--checkers', '32', '--fast-list', '--checksum'];
    peers.push({
      tool: 'rclone copy',
      note: '--transfers 32 --checkers 32 --fast-list --checksum',
      run: (d, step) =>
        timedCommand(rclone, ['copy', `src:${bucket}`, `vault:${target}/rclone`, ...flags], {
          env,
          reportFile: join(d, `rclone-${step}.time`),
        }),
      restore: {
        tool: 'rclone copy (vault→src)',
        run: (restoreBucket) =>
          timedCommand(rclone, ['copy', `vault:${target}/rclone`, `src:${restoreBucket}`, ...flags], {
            env,
            reportFile: join(dir, 'rclone-restore.time'),
          }),
      },
    });
  } else console.error('bench small: rclone not in the tool cache (run bench/setup-peers.sh): left out');
  const mc = cachedBinary(stack, 'mc');
  if (mc) {
    const env = { ...process.env, MC_HOST_src: srcUrl, MC_HOST_vault: vaultUrl };
    peers.push({
      tool: 'mc mirror',
      note: 'defaults',
      run: (d, step) =>
        timedCommand(
          mc,
          ['--config-dir', join(dir, 'mc'), '--quiet', 'mirror', `src/${bucket}`, `vault/${target}/mc`],
          { env, reportFile: join(d, `mc-${step}.time`) },
        ),
      restore: {
        tool: 'mc mirror (vault→src)',
        run: (restoreBucket) =>
          timedCommand(
            mc,
            [
              '--config-dir',
              join(dir, 'mc'),
              '--quiet',
              'mirror',
              `vault/${target}/mc`,
              `src/${restoreBucket}`,
            ],
            { env, reportFile: join(dir, 'mc-restore.time') },
          ),
      },
    });
  }
  const aws = awsCli();
  if (aws) {
    const config = join(dir, 'aws-config');
    writeFileSync(config, '[default]\nregion = us-east-1\ns3 =\n  max_concurrent_requests = 32\n');
    const local = join(dir, 'aws-sync');
    mkdirSync(local, { recursive: true });
    const script = [
      'set -euo pipefail',
      'AWS_ACCESS_KEY_ID="$SRC_KEY" AWS_SECRET_ACCESS_KEY="$SRC_SECRET" aws --endpoint-url "$SRC_ENDPOINT" s3 sync --only-show-errors "s3://$SRC_BUCKET" "$LOCAL"',
      'AWS_ACCESS_KEY_ID="$DST_KEY" AWS_SECRET_ACCESS_KEY="$DST_SECRET" aws --endpoint-url "$DST_ENDPOINT" s3 sync --only-show-errors "$LOCAL" "s3://$DST"',
    ].join('\n');
    // The restore: the peer's copy in the vault → a folder of its own (empty) → the fresh bucket.
    const restoreScript = [
      'set -euo pipefail',
      'AWS_ACCESS_KEY_ID="$DST_KEY" AWS_SECRET_ACCESS_KEY="$DST_SECRET" aws --endpoint-url "$DST_ENDPOINT" s3 sync --only-show-errors "s3://$DST" "$RESTORE_LOCAL"',
      'AWS_ACCESS_KEY_ID="$SRC_KEY" AWS_SECRET_ACCESS_KEY="$SRC_SECRET" aws --endpoint-url "$SRC_ENDPOINT" s3 sync --only-show-errors "$RESTORE_LOCAL" "s3://$RESTORE_BUCKET"',
    ].join('\n');
    const restoreLocal = join(dir, 'aws-restore');
    const env = {
      ...process.env,
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      SRC_KEY: stack.minio.accessKey,
      SRC_SECRET: stack.minio.secretKey,
      SRC_ENDPOINT: stack.minio.endpoint,
      SRC_BUCKET: bucket,
      LOCAL: local,
      DST_KEY: stack.vault.accessKey,
      DST_SECRET: stack.vault.secretKey,
      DST_ENDPOINT: stack.vault.endpoint,
      DST: `${target}/aws`,
    };
    peers.push({
      tool: 'aws s3 sync (src→disk→vault)',
      note: 'max_concurrent_requests 32; one aws command reaches one endpoint, so two syncs through a folder',
      run: (d, step) =>
        timedCommand('bash', ['-c', script], { env, reportFile: join(d, `aws-${step}.time`) }),
      restore: {
        tool: 'aws s3 sync (vault→disk→src)',
        run: (restoreBucket) => {
          mkdirSync(restoreLocal, { recursive: true });
          return timedCommand('bash', ['-c', restoreScript], {
            env: { ...env, RESTORE_LOCAL: restoreLocal, RESTORE_BUCKET: restoreBucket },
            reportFile: join(dir, 'aws-restore.time'),
          });
        },
      },
    });
  } else console.error('bench small: no aws CLI (run bench/setup-peers.sh): aws s3 sync left out');
  return peers;
}

/** The JSON line `bench/wire-backup-child.ts` prints. */
const childLineSchema = z.object({
  seconds: z.number(),
  status: z.string(),
  events: z.number(),
  historyEvents: z.number(),
  /** The longest single run of each Task state, seconds. */
  longest: z.record(z.string(), z.number()),
  cause: z.string().optional(),
  /** The backup's id (backup mode). */
  backupId: z.string().optional(),
  /** Per bucket: objects copied, carried, and resumed from an interrupted backup (backup mode). */
  minioBuckets: z
    .array(
      z.object({
        bucket: z.string(),
        objects: z.number(),
        copiedObjects: z.number(),
        carriedObjects: z.number(),
        resumed: z.object({ from: z.string(), objects: z.number() }).optional(),
      }),
    )
    .optional(),
  /** What the restore reported (restore mode). */
  restore: z
    .object({
      outcome: z.string(),
      minio: z.array(z.object({ targetBucket: z.string(), objects: z.number(), extra: z.number() })),
    })
    .optional(),
});

/** Runs `bench/wire-backup-child.ts` under `/usr/bin/time -v`; its line, with the process's peak RSS. */
function wireBackupChild(args: Record<string, unknown>, reportFile: string) {
  const run = timedCommand(
    join(repoRoot, 'bin', 'node22'),
    ['--import', 'tsx', join(repoRoot, 'bench', 'wire-backup-child.ts'), JSON.stringify(args)],
    { reportFile },
  );
  const line = childLineSchema.parse(JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}'));
  if (line.status !== 'SUCCEEDED') throw new Error(`wire-backup ${line.status}: ${line.cause}`);
  return { ...line, peakRssMiB: run.peakRssMiB, cpuSeconds: run.cpuSeconds };
}

/** wire-backup: the backup state machine over the bucket (MinIO only), in a child process. */
export function wireBackupRun(bucket: string, full: boolean, reportFile: string, enforceIam = false) {
  const line = wireBackupChild({ buckets: [bucket], full, enforceIam }, reportFile);
  return {
    seconds: line.seconds,
    peakRssMiB: line.peakRssMiB,
    cpuSeconds: line.cpuSeconds,
    events: line.events,
    historyEvents: line.historyEvents,
    longest: line.longest,
    backupId: line.backupId,
    minioBuckets: line.minioBuckets ?? [],
  };
}

/** wire-backup: the restore state machine (MinIO only) of `backupId`'s copy of `bucket` into `targetBucket`. */
export function wireBackupRestore(
  bucket: string,
  backupId: string,
  targetBucket: string,
  reportFile: string,
) {
  const line = wireBackupChild(
    { buckets: [bucket], restore: { backupId, minioTargets: { [bucket]: targetBucket } } },
    reportFile,
  );
  if (line.restore?.outcome !== 'restored')
    throw new Error(`wire-backup restore ended ${line.restore?.outcome ?? 'without a report'}`);
  return {
    seconds: line.seconds,
    peakRssMiB: line.peakRssMiB,
    cpuSeconds: line.cpuSeconds,
    events: line.events,
  };
}

/** Creates and fills the benchmark's source bucket only (`bench/small-objects.ts populate`). */
export async function populateOnly(): Promise<void> {
  const stack = readStackInfo();
  const n = Number(process.env.BENCH_SMALL_OBJECTS ?? 100_000);
  await populate(
    client(stack.minio.endpoint, stack.minio.accessKey, stack.minio.secretKey, 64),
    `bench-small-${n}`,
    n,
  );
}

/** Runs the benchmark; its rows (the caller prints them in the one table). */
export async function main(): Promise<BenchRow[]> {
  const stack = readStackInfo();
  const n = Number(process.env.BENCH_SMALL_OBJECTS ?? 100_000);
  const bucket = `bench-small-${n}`;
  const target = 'bench-peers';
  const source = client(stack.minio.endpoint, stack.minio.accessKey, stack.minio.secretKey, 64);
  const vaultSide = client(stack.vault.endpoint, stack.vault.accessKey, stack.vault.secretKey, 8);
  await populate(source, bucket, n);
  const dir = mkdtempSync(join(tmpdir(), 'bench-small-'));
  const mc = cachedBinary(stack, 'mc');
  const mcEnv = {
    ...process.env,
    MC_HOST_vault: s3Url(stack.vault.endpoint, stack.vault.accessKey, stack.vault.secretKey),
    MC_HOST_src: s3Url(stack.minio.endpoint, stack.minio.accessKey, stack.minio.secretKey),
  };
  const mcRun = (...args: string[]) =>
    mc
      ? execFileSync(mc, ['--config-dir', join(dir, 'mc'), '--quiet', ...args], {
          env: mcEnv,
          stdio: 'ignore',
        })
      : undefined;
  // Fresh targets: the peers' bucket is dropped (one request) and the vault's copies of this bucket removed.
  try {
    mcRun('rb', '--force', `vault/${target}`);
  } catch {
    // not there yet
  }
  await vaultSide.send(new CreateBucketCommand({ Bucket: target }));
  await vaultSide.send(
    new PutBucketVersioningCommand({ Bucket: target, VersioningConfiguration: { Status: 'Enabled' } }),
  );
  try {
    mcRun('rm', '--recursive', '--versions', '--force', `vault/${stack.vault.bucket}/minio/_keys/${bucket}/`);
  } catch {
    // nothing to remove
  }
  const rows: BenchRow[] = [];
  const full = `${n.toLocaleString('en')} small objects (1–64 KiB): full copy`;
  const again = `${n.toLocaleString('en')} objects: no-change run`;
  const restore = `${n.toLocaleString('en')} small objects: restore into an empty bucket`;
  // Fresh restore targets on the source MinIO, one per tool, created (empty) before the tool runs and
  // removed afterwards.
  const runId = Date.now().toString(36);
  const restoreBuckets: string[] = [];
  const freshBucket = async (tool: string): Promise<string> => {
    const name = `bench-restore-${tool}-${runId}`;
    await source.send(new CreateBucketCommand({ Bucket: name }));
    restoreBuckets.push(name);
    return name;
  };
  const checked = async (tool: string, restoreBucket: string): Promise<string> => {
    const check = await checkRestore({
      source: { s3: source, bucket },
      restored: { s3: source, bucket: restoreBucket },
      tool,
    });
    return `checked: ${check.objects} keys and sizes, ${check.etagsCompared} MD5 ETags equal the source's`;
  };
  const rate = (seconds: number) => `${Math.round(n / seconds).toLocaleString('en')} obj/s`;
  /** One plain listing of the source bucket: its keys and seconds. */
  const timedListing = async () => {
    const started = process.hrtime.bigint();
    const keys = await listAll(source, bucket);
    return { keys, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  };
  const record = (row: BenchRow) => {
    rows.push(row);
    const rss = row.peakRssMiB === undefined ? '' : `, peak RSS ${row.peakRssMiB.toFixed(0)} MiB`;
    console.error(`  ${row.work} — ${row.tool}: ${row.seconds.toFixed(2)} s${rss} (load ${loadAverage()})`);
  };
  try {
    console.error(`bench small: wire-backup full backup of ${bucket}… (load ${loadAverage()})`);
    const wb1 = wireBackupRun(bucket, true, join(dir, 'wb-full.time'));
    record({
      work: full,
      tool: 'wire-backup',
      seconds: wb1.seconds,
      peakRssMiB: wb1.peakRssMiB,
      cpuSeconds: wb1.cpuSeconds,
      rate: rate(wb1.seconds),
      reference: true,
      note: `state machine, ${wb1.events} runner events; RSS = runner + all Lambda containers`,
    });
    const peers = peersOf(stack, bucket, target, dir);
    for (const peer of peers) {
      console.error(`bench small: ${peer.tool} (full)…`);
      const r = peer.run(dir, 'full');
      record({ work: full, tool: peer.tool, ...r, rate: rate(r.seconds), note: peer.note });
    }
    // The full copies wrote tens of GB through the page cache, so the first listing after them may read
    // MinIO's object metadata from disk (one run here: wire-backup's no-change run, listing first, took
    // 358 s and the plain listing right after it 44 s; an earlier run 27 s and 4.9 s). One listing first,
    // recorded as the cold floor, so that every no-change run below lists from the same cache (2026-12-03:
    // the cold listing 134 s, then wire-backup's no-change run 39.8 s and the plain listing 9.1 s).
    const cold = await timedListing();
    record({
      work: again,
      tool: 'one plain listing, cold (first after the full copies; not a peer)',
      seconds: cold.seconds,
      note: `${cold.keys} keys, 1,000 a page, one client; warms MinIO's metadata for the rows below`,
    });
    console.error('bench small: wire-backup no-change run…');
    const wb2 = wireBackupRun(bucket, false, join(dir, 'wb-again.time'));
    record({
      work: again,
      tool: 'wire-backup',
      seconds: wb2.seconds,
      peakRssMiB: wb2.peakRssMiB,
      cpuSeconds: wb2.cpuSeconds,
      reference: true,
      note: `incremental: list + diff against the previous manifest, ${wb2.events} runner events`,
    });
    const listing = await timedListing();
    record({
      work: again,
      tool: 'one plain listing (ListObjectsV2)',
      seconds: listing.seconds,
      note: `${listing.keys} keys, 1,000 a page, one client`,
    });
    for (const peer of peers) {
      console.error(`bench small: ${peer.tool} (no change)…`);
      const r = peer.run(dir, 'again');
      record({ work: again, tool: peer.tool, ...r, note: peer.note });
    }
    // Restores: wire-backup restores its newest backup of the bucket (the no-change run's manifest: every
    // object, as they were); each peer copies its own copy back. No row for a restore that fails the check.
    if (!wb2.backupId) throw new Error('the wire-backup child did not print the backup id');
    const wbTarget = await freshBucket('wb');
    console.error(`bench small: wire-backup restore of ${wb2.backupId} into ${wbTarget}…`);
    const wb3 = wireBackupRestore(bucket, wb2.backupId, wbTarget, join(dir, 'wb-restore.time'));
    record({
      work: restore,
      tool: 'wire-backup',
      seconds: wb3.seconds,
      peakRssMiB: wb3.peakRssMiB,
      cpuSeconds: wb3.cpuSeconds,
      rate: rate(wb3.seconds),
      reference: true,
      note: `restore state machine (plan, copy batches, verify), ${wb3.events} runner events; ${await checked('wire-backup', wbTarget)}`,
    });
    for (const peer of peers) {
      const peerTarget = await freshBucket(peer.tool.split(' ')[0] ?? 'peer');
      console.error(`bench small: ${peer.restore.tool} into ${peerTarget}…`);
      const r = peer.restore.run(peerTarget);
      record({
        work: restore,
        tool: peer.restore.tool,
        ...r,
        rate: rate(r.seconds),
        note: await checked(peer.restore.tool, peerTarget),
      });
    }
    return rows;
  } finally {
    try {
      mcRun('rb', '--force', `vault/${target}`);
    } catch {
      // best effort
    }
    for (const restoreBucket of restoreBuckets) {
      try {
        mcRun('rb', '--force', `src/${restoreBucket}`);
      } catch (error) {
        console.error(`bench small: could not remove s3://${restoreBucket}: ${String(error)}`);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

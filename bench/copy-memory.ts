/**
 * Benchmark: memory and throughput of copying one large object (1 GiB by default) from the source
 * MinIO into the vault with `copyBatch`, side by side with `mc cp` and a streamed `aws s3 cp - | aws s3
 * cp -`. The object is generated from a seeded PRNG (AES-256-CTR keystream) and streamed into the
 * source, never held in memory. `copyBatch` runs in a child process so its peak RSS is its own.
 * Then the way back: each tool restores its own copy into an empty bucket of the source MinIO —
 * `restoreBatch` (the restore state machine's copy step, on a batch of the entry copyBatch wrote; in a
 * child process under `/usr/bin/time -v`), `mc cp`, `aws s3 cp - | aws s3 cp -` — and every restored
 * object is checked (`bench/restore-check.ts`, plus its SHA-256 read back).
 *
 * Run: `bin/node22 --import tsx bench/copy-memory.ts` (the local stack must be up). Size override:
 * `BENCH_COPY_BYTES=268435456`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createCipheriv, createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { z } from 'zod';
import { createSourceS3Client, createVaultS3Client } from '../functions/core/clients.js';
import { readJsonLines, writeJsonLines } from '../functions/core/manifest-io.js';
import { copyBatch } from '../functions/core/minio-copy.js';
import { type ManifestEntry, manifestEntrySchema } from '../functions/core/minio-layout.js';
import { planBucketBackup } from '../functions/core/minio-plan.js';
import { restoreBatch } from '../functions/core/restore-minio-copy.js';
import {
  backupPrefix,
  batchKeyOf,
  batchResultKeyOf,
  minioBucketPrefix,
  restoreBatchKeyOf,
  restorePrefix,
} from '../functions/core/vault-layout.js';
import { readStackInfo, repoRoot, type StackInfo } from '../local/stack-info.js';
import { checkRestore } from './restore-check.js';
import { type BenchRow as CommonRow, timedCommand } from './table.js';

const MiB = 1024 * 1024;
const childFlag = '--copy-batch-child';
const restoreChildFlag = '--restore-batch-child';

/** One row of the result table. */
interface BenchRow {
  readonly tool: string;
  readonly seconds: number;
  readonly peakRssMiB: number;
  readonly note: string;
  /** User + system CPU seconds, when measured. */
  readonly cpuSeconds?: number;
  /** The way back (vault → an empty bucket of the source MinIO). */
  readonly restore?: boolean;
}

/** Where one end of a peer's copy is: `src` (the source MinIO) or `vault`, a bucket and a key. */
interface Place {
  readonly side: 'src' | 'vault';
  readonly bucket: string;
  readonly key: string;
}

function endpointOf(stack: StackInfo, side: Place['side']) {
  return side === 'src' ? stack.minio : stack.vault;
}

/** A deterministic pseudo-random byte stream (AES-256-CTR over zeros), 1 MiB per read. */
function prngStream(seed: string, bytes: number): Readable {
  const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update(seed).digest(), Buffer.alloc(16));
  const zeros = Buffer.alloc(MiB);
  let left = bytes;
  return new Readable({
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, zeros.length);
      left -= n;
      this.push(cipher.update(zeros.subarray(0, n)));
    },
  });
}

/** SHA-256 of the PRNG stream, computed the same streamed way. */
async function prngSha256(seed: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of prngStream(seed, bytes)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function clientsFor(stack: StackInfo): { source: S3Client; vault: S3Client } {
  return {
    source: createSourceS3Client({
      endpoint: stack.minio.endpoint,
      region: stack.minio.region,
      accessKeyId: stack.minio.accessKey,
      secretAccessKey: stack.minio.secretKey,
      forcePathStyle: true,
      legacyChecksums: false,
    }),
    vault: createVaultS3Client({
      region: stack.vault.region,
      endpoint: stack.vault.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: stack.vault.accessKey, secretAccessKey: stack.vault.secretKey },
    }),
  };
}

/** The minio `mc` binary: `$WIRE_BACKUP_CACHE/bin/mc`, the stack's cache, or the shared cache. */
function findMc(stack: StackInfo): string | undefined {
  const candidates = [
    process.env.WIRE_BACKUP_CACHE ? join(process.env.WIRE_BACKUP_CACHE, 'bin', 'mc') : undefined,
    join(stack.cacheDir, 'bin', 'mc'),
    join(repoRoot, '.cache', 'bin', 'mc'),
    '/root/.cache/wire-backup/bin/mc',
  ];
  return candidates.find((path): path is string => path !== undefined && existsSync(path));
}

/** Peak RSS (MiB), wall time (s) and CPU seconds from a `/usr/bin/time -v` report. */
function parseTimeReport(report: string): { peakRssMiB: number; seconds: number; cpuSeconds: number } {
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(report)?.[1];
  const user = Number(/User time \(seconds\): ([\d.]+)/.exec(report)?.[1] ?? 0);
  const system = Number(/System time \(seconds\): ([\d.]+)/.exec(report)?.[1] ?? 0);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/.exec(report)?.[1] ?? '0';
  const seconds = wall
    .split(':')
    .map(Number)
    .reduce((total, part) => total * 60 + part, 0);
  return { peakRssMiB: Number(rss ?? 0) / 1024, seconds, cpuSeconds: user + system };
}

function s3Url(endpoint: string, accessKey: string, secretKey: string): string {
  const url = new URL(endpoint);
  url.username = encodeURIComponent(accessKey);
  url.password = encodeURIComponent(secretKey);
  return url.toString().replace(/\/$/, '');
}

/** `mc cp` from one alias to the other (source MinIO `src`, `vault`), under `/usr/bin/time -v`. */
function benchMc(stack: StackInfo, mc: string, from: Place, to: Place, dir: string): BenchRow {
  const report = join(dir, `mc-${from.side}.time`);
  execFileSync(
    '/usr/bin/time',
    [
      '-v',
      '-o',
      report,
      mc,
      '--config-dir',
      join(dir, 'mc-config'),
      '--quiet',
      'cp',
      `${from.side}/${from.bucket}/${from.key}`,
      `${to.side}/${to.bucket}/${to.key}`,
    ],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        MC_HOST_src: s3Url(stack.minio.endpoint, stack.minio.accessKey, stack.minio.secretKey),
        MC_HOST_vault: s3Url(stack.vault.endpoint, stack.vault.accessKey, stack.vault.secretKey),
      },
    },
  );
  const { peakRssMiB, seconds, cpuSeconds } = parseTimeReport(readFileSync(report, 'utf8'));
  return {
    tool: from.side === 'vault' ? 'mc cp (vault→src)' : 'mc cp',
    seconds,
    peakRssMiB,
    cpuSeconds,
    note: 'one process',
    restore: from.side === 'vault',
  };
}

/** `aws s3 cp s3://… - | aws s3 cp - s3://…` from one place to the other, each side under `/usr/bin/time -v`. */
function benchAwsCli(stack: StackInfo, from: Place, to: Place, size: number, dir: string) {
  const src = endpointOf(stack, from.side);
  const dst = endpointOf(stack, to.side);
  const script = [
    'set -euo pipefail',
    'export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_DEFAULT_REGION=us-east-1',
    'AWS_ACCESS_KEY_ID="$SRC_KEY" AWS_SECRET_ACCESS_KEY="$SRC_SECRET" /usr/bin/time -v -o "$DIR/aws-get.time" \\',
    '  aws --endpoint-url "$SRC_ENDPOINT" s3 cp "s3://$SRC_BUCKET/$SRC_OBJECT" - \\',
    '| AWS_ACCESS_KEY_ID="$DST_KEY" AWS_SECRET_ACCESS_KEY="$DST_SECRET" /usr/bin/time -v -o "$DIR/aws-put.time" \\',
    '  aws --endpoint-url "$DST_ENDPOINT" s3 cp - "s3://$DST_BUCKET/$DST_OBJECT" --expected-size "$SIZE" --only-show-errors',
  ].join('\n');
  const started = process.hrtime.bigint();
  execFileSync('bash', ['-c', script], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      DIR: dir,
      SIZE: String(size),
      SRC_KEY: src.accessKey,
      SRC_SECRET: src.secretKey,
      SRC_ENDPOINT: src.endpoint,
      SRC_BUCKET: from.bucket,
      SRC_OBJECT: from.key,
      DST_KEY: dst.accessKey,
      DST_SECRET: dst.secretKey,
      DST_ENDPOINT: dst.endpoint,
      DST_BUCKET: to.bucket,
      DST_OBJECT: to.key,
    },
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const get = parseTimeReport(readFileSync(join(dir, 'aws-get.time'), 'utf8'));
  const put = parseTimeReport(readFileSync(join(dir, 'aws-put.time'), 'utf8'));
  return {
    tool: from.side === 'vault' ? 'aws s3 cp - | aws s3 cp - (vault→src)' : 'aws s3 cp - | aws s3 cp -',
    seconds,
    peakRssMiB: get.peakRssMiB + put.peakRssMiB,
    cpuSeconds: get.cpuSeconds + put.cpuSeconds,
    note: `two processes: ${get.peakRssMiB.toFixed(0)} + ${put.peakRssMiB.toFixed(0)} MiB`,
    restore: from.side === 'vault',
  } satisfies BenchRow;
}

/** Child mode: runs copyBatch alone in this process and prints one JSON line with its figures. */
async function runChild(argument: string): Promise<void> {
  const { sourceBucket, batchKey } = JSON.parse(argument) as { sourceBucket: string; batchKey: string };
  const stack = readStackInfo();
  const { source, vault } = clientsFor(stack);
  const baselineRss = process.memoryUsage().rss;
  let peakRss = baselineRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 100);
  const started = process.hrtime.bigint();
  // Overrides to try other settings than the handler's defaults (MiB; parts in flight).
  const partMiB = process.env.BENCH_COPY_PART_MIB;
  const queue = process.env.BENCH_COPY_QUEUE;
  const result = await copyBatch({
    source,
    vault,
    sourceBucket,
    vaultBucket: stack.vault.bucket,
    batchKey,
    ...(partMiB ? { partSizeBytes: Number(partMiB) * MiB } : {}),
    ...(queue ? { queueSize: Number(queue) } : {}),
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(sampler);
  const vmHwmKiB = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
  process.stdout.write(`${JSON.stringify({ result, seconds, baselineRss, peakRss, vmHwmKiB })}\n`);
}

const restoreChildArgsSchema = z.object({
  sourceBucket: z.string(),
  targetBucket: z.string(),
  batchKey: z.string(),
});
const childLineSchema = z.object({
  result: z.object({ restoredObjects: z.number(), restoredBytes: z.number() }),
  seconds: z.number(),
  vmHwmKiB: z.number(),
});

/**
 * Restore child mode: `restoreBatch` alone in this process — the restore state machine's copy step,
 * with the handler's settings (multipart above 16 MiB, `MINIO_MULTIPART_THRESHOLD`'s default) — and one
 * JSON line with its figures.
 */
async function runRestoreChild(argument: string): Promise<void> {
  const { sourceBucket, targetBucket, batchKey } = restoreChildArgsSchema.parse(JSON.parse(argument));
  const stack = readStackInfo();
  const { source, vault } = clientsFor(stack);
  const started = process.hrtime.bigint();
  const result = await restoreBatch({
    vault,
    vaultBucket: stack.vault.bucket,
    target: source,
    sourceBucket,
    targetBucket,
    batchKey,
    multipartThresholdBytes: 16 * MiB,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const vmHwmKiB = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
  process.stdout.write(`${JSON.stringify({ result, seconds, vmHwmKiB })}\n`);
}

/** Runs {@link runRestoreChild} in a child process under `/usr/bin/time -v`. */
function benchRestoreBatch(
  sourceBucket: string,
  targetBucket: string,
  batchKey: string,
  dir: string,
): BenchRow {
  const run = timedCommand(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      restoreChildFlag,
      JSON.stringify({ sourceBucket, targetBucket, batchKey }),
    ],
    { reportFile: join(dir, 'restore-batch.time') },
  );
  const line = childLineSchema.parse(JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}'));
  if (line.result.restoredObjects !== 1)
    throw new Error(`restoreBatch restored ${line.result.restoredObjects} objects, expected 1`);
  return {
    tool: 'restoreBatch (this repo)',
    seconds: line.seconds,
    peakRssMiB: run.peakRssMiB,
    cpuSeconds: run.cpuSeconds,
    note: `one process; ${run.seconds.toFixed(1)} s with node's start; reads the exact vault version, SHA-256 checked on the way`,
    restore: true,
  };
}

/** SHA-256 of an object, streamed. */
async function objectSha256(s3: S3Client, bucket: string, key: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!(got.Body instanceof Readable)) throw new Error(`s3://${bucket}/${key}: no stream body`);
  const hash = createHash('sha256');
  for await (const chunk of got.Body) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function emptyAndDeleteBucket(s3: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket })).catch(() => undefined);
    const keys = (page?.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : []));
    if (keys.length === 0) break;
    for (const key of keys) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
}

async function benchCopyBatch(sourceBucket: string, batchKey: string) {
  const script = fileURLToPath(import.meta.url);
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', script, childFlag, JSON.stringify({ sourceBucket, batchKey })],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`copyBatch child exited ${code}`)),
    );
  });
  const line = output.trim().split('\n').pop() ?? '{}';
  return JSON.parse(line) as {
    result: { copiedObjects: number; copiedBytes: number };
    seconds: number;
    baselineRss: number;
    peakRss: number;
    vmHwmKiB: number;
  };
}

async function deleteVersions(vault: S3Client, bucket: string, prefix: string): Promise<void> {
  for (;;) {
    const page = await vault.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
    const versions = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])];
    if (versions.length === 0) return;
    for (const version of versions) {
      await vault.send(
        new DeleteObjectCommand({ Bucket: bucket, Key: version.Key, VersionId: version.VersionId }),
      );
    }
  }
}

function printTable(bytes: number, rows: readonly BenchRow[]): void {
  const header = ['tool', 'seconds', 'MiB/s', 'peak RSS MiB', 'note'];
  const cells = rows.map((row) => [
    row.tool,
    row.seconds.toFixed(1),
    (bytes / MiB / row.seconds).toFixed(0),
    row.peakRssMiB.toFixed(0),
    row.note,
  ]);
  const widths = header.map((title, i) =>
    Math.max(title.length, ...cells.map((cell) => (cell[i] ?? '').length)),
  );
  const format = (cell: readonly string[]): string =>
    cell
      .map((value, i) => (i === 0 || i === 4 ? value.padEnd(widths[i] ?? 0) : value.padStart(widths[i] ?? 0)))
      .join('  ');
  console.log(`\ncopy of one ${(bytes / MiB).toFixed(0)} MiB object, source MinIO → vault (same machine)`);
  console.log(format(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const cell of cells) console.log(format(cell));
}

/** Runs the benchmark against the local stack, prints its own table and returns its rows for `bench/run.ts`. */
export async function main(): Promise<CommonRow[]> {
  const stack = readStackInfo();
  const { source, vault } = clientsFor(stack);
  const bytes = Number(process.env.BENCH_COPY_BYTES ?? 1024 * MiB);
  const runId = `${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
  const bucket = `bench-copy-${runId}`;
  const key = 'large/object.bin';
  const backupId = `bench-${runId}`;
  const restoreId = `bench-${runId}`;
  const restoreBuckets: string[] = [];
  const seed = `wire-backup copy-memory ${bytes}`;
  const dir = mkdtempSync(join(tmpdir(), 'copy-memory-'));
  const rows: BenchRow[] = [];
  // Each figure is logged as soon as it exists, so a later failure does not lose it.
  const record = (row: BenchRow): void => {
    rows.push(row);
    console.error(
      `  ${row.tool}: ${row.seconds.toFixed(1)} s, peak RSS ${row.peakRssMiB.toFixed(0)} MiB (${row.note})`,
    );
  };
  try {
    console.error(`generating ${(bytes / MiB).toFixed(0)} MiB into s3://${bucket}/${key} (streamed) …`);
    await source.send(new CreateBucketCommand({ Bucket: bucket }));
    // One streamed PUT, so the source ETag is a plain MD5 and copyBatch checks it (the costlier path).
    await source.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: prngStream(seed, bytes), ContentLength: bytes }),
    );
    const expectedSha256 = await prngSha256(seed, bytes);

    await planBucketBackup({
      source,
      vault,
      sourceBucket: bucket,
      vaultBucket: stack.vault.bucket,
      backupId,
    });
    const batchKey = batchKeyOf(backupId, bucket, 1);
    console.error('copyBatch …');
    const copy = await benchCopyBatch(bucket, batchKey);
    const results = readJsonLines(vault, stack.vault.bucket, batchResultKeyOf(batchKey), {
      parse: (value) => manifestEntrySchema.parse(value),
    });
    const copied: ManifestEntry[] = [];
    for await (const entry of results) {
      copied.push(entry);
      if (entry.sha256 !== expectedSha256)
        throw new Error(`copyBatch wrote SHA-256 ${entry.sha256}, expected ${expectedSha256}`);
    }
    record({
      tool: 'copyBatch (this repo)',
      seconds: copy.seconds,
      peakRssMiB: copy.vmHwmKiB / 1024,
      note: `sampled peak ${(copy.peakRss / MiB).toFixed(0)} MiB, idle ${(copy.baselineRss / MiB).toFixed(0)} MiB; SHA-256 ok`,
    });

    const mc = findMc(stack);
    if (mc) {
      console.error('mc cp …');
      record(
        benchMc(
          stack,
          mc,
          { side: 'src', bucket, key },
          { side: 'vault', bucket: stack.vault.bucket, key: `bench/${runId}/mc.bin` },
          dir,
        ),
      );
    } else {
      console.error('mc not found: skipped');
    }
    console.error('aws s3 cp …');
    record(
      benchAwsCli(
        stack,
        { side: 'src', bucket, key },
        { side: 'vault', bucket: stack.vault.bucket, key: `bench/${runId}/aws.bin` },
        bytes,
        dir,
      ),
    );
    for (const target of [`bench/${runId}/mc.bin`, `bench/${runId}/aws.bin`]) {
      const head = await vault
        .send(new HeadObjectCommand({ Bucket: stack.vault.bucket, Key: target }))
        .catch(() => undefined);
      if (head && head.ContentLength !== bytes)
        throw new Error(`${target} has ${head.ContentLength} bytes, expected ${bytes}`);
    }

    // The way back: each tool's own copy into an empty bucket of the source MinIO, checked against
    // the source bucket (listing: key, size, plain-MD5 ETags) and by its SHA-256 read back.
    const restoredRow = async (restoreBucket: string, row: BenchRow): Promise<void> => {
      const listed = await checkRestore({
        source: { s3: source, bucket },
        restored: { s3: source, bucket: restoreBucket },
        tool: row.tool,
      });
      const sha256 = await objectSha256(source, restoreBucket, key);
      if (sha256 !== expectedSha256)
        throw new Error(
          `${row.tool}: s3://${restoreBucket}/${key} has SHA-256 ${sha256}, expected ${expectedSha256}`,
        );
      record({
        ...row,
        note: `${row.note}; checked: key, size${listed.etagsCompared ? ', MD5 ETag' : ''}, SHA-256 read back`,
      });
    };
    const freshBucket = async (tool: string): Promise<string> => {
      const name = `${bucket}-r-${tool}`;
      await source.send(new CreateBucketCommand({ Bucket: name }));
      restoreBuckets.push(name);
      return name;
    };
    const restoreBatchKey = restoreBatchKeyOf(restoreId, bucket, 1);
    await writeJsonLines(vault, stack.vault.bucket, restoreBatchKey, copied);
    const wbTarget = await freshBucket('wb');
    console.error('restoreBatch …');
    await restoredRow(wbTarget, benchRestoreBatch(bucket, wbTarget, restoreBatchKey, dir));
    if (mc) {
      const mcTarget = await freshBucket('mc');
      console.error('mc cp (vault→src) …');
      await restoredRow(
        mcTarget,
        benchMc(
          stack,
          mc,
          { side: 'vault', bucket: stack.vault.bucket, key: `bench/${runId}/mc.bin` },
          { side: 'src', bucket: mcTarget, key },
          dir,
        ),
      );
    }
    const awsTarget = await freshBucket('aws');
    console.error('aws s3 cp (vault→src) …');
    await restoredRow(
      awsTarget,
      benchAwsCli(
        stack,
        { side: 'vault', bucket: stack.vault.bucket, key: `bench/${runId}/aws.bin` },
        { side: 'src', bucket: awsTarget, key },
        bytes,
        dir,
      ),
    );

    printTable(bytes, rows);
    const mib = (bytes / MiB).toFixed(0);
    return rows.map((row) => {
      const reference = row.tool.startsWith('copyBatch') || row.tool.startsWith('restoreBatch');
      return {
        work: row.restore ? `one ${mib} MiB object: restore into an empty bucket` : `one ${mib} MiB object`,
        tool: reference ? `wire-backup (${row.tool.split(' ')[0]})` : row.tool,
        seconds: row.seconds,
        peakRssMiB: row.peakRssMiB,
        cpuSeconds: row.cpuSeconds,
        rate: `${(bytes / MiB / row.seconds).toFixed(0)} MiB/s`,
        reference,
        note: row.note,
      };
    });
  } finally {
    await deleteVersions(vault, stack.vault.bucket, `bench/${runId}/`);
    await deleteVersions(vault, stack.vault.bucket, minioBucketPrefix(bucket));
    await deleteVersions(vault, stack.vault.bucket, backupPrefix(backupId));
    await deleteVersions(vault, stack.vault.bucket, restorePrefix(restoreId));
    for (const restoreBucket of restoreBuckets) await emptyAndDeleteBucket(source, restoreBucket);
    await source.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
    await source.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const childIndex = process.argv.indexOf(childFlag);
  const restoreIndex = process.argv.indexOf(restoreChildFlag);
  const run =
    childIndex >= 0
      ? runChild(process.argv[childIndex + 1] ?? '{}')
      : restoreIndex >= 0
        ? runRestoreChild(process.argv[restoreIndex + 1] ?? '{}')
        : main();
  run.catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}

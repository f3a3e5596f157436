/**
 * Benchmark: memory and throughput of copying one large object (1 GiB by default) from the source
 * MinIO into the vault with `copyBatch`, side by side with `mc cp` and a streamed `aws s3 cp - | aws s3
 * cp -`. The object is generated from a seeded PRNG (AES-256-CTR keystream) and streamed into the
 * source, never held in memory. `copyBatch` runs in a child process so its peak RSS is its own.
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
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createSourceS3Client, createVaultS3Client } from '../functions/core/clients.js';
import { readJsonLines } from '../functions/core/manifest-io.js';
import { copyBatch } from '../functions/core/minio-copy.js';
import { manifestEntrySchema } from '../functions/core/minio-layout.js';
import { planBucketBackup } from '../functions/core/minio-plan.js';
import {
  backupPrefix,
  batchKeyOf,
  batchResultKeyOf,
  minioBucketPrefix,
} from '../functions/core/vault-layout.js';
import { readStackInfo, repoRoot, type StackInfo } from '../local/stack-info.js';
import type { BenchRow as CommonRow } from './table.js';

const MiB = 1024 * 1024;
const childFlag = '--copy-batch-child';

/** One row of the result table. */
interface BenchRow {
  readonly tool: string;
  readonly seconds: number;
  readonly peakRssMiB: number;
  readonly note: string;
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

/** Peak RSS (MiB) and wall time (s) from a `/usr/bin/time -v` report. */
function parseTimeReport(report: string): { peakRssMiB: number; seconds: number } {
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(report)?.[1];
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/.exec(report)?.[1] ?? '0';
  const seconds = wall
    .split(':')
    .map(Number)
    .reduce((total, part) => total * 60 + part, 0);
  return { peakRssMiB: Number(rss ?? 0) / 1024, seconds };
}

function s3Url(endpoint: string, accessKey: string, secretKey: string): string {
  const url = new URL(endpoint);
  url.username = encodeURIComponent(accessKey);
  url.password = encodeURIComponent(secretKey);
  return url.toString().replace(/\/$/, '');
}

/** `mc cp` from the source alias to the vault alias, under `/usr/bin/time -v`. */
function benchMc(
  stack: StackInfo,
  mc: string,
  bucket: string,
  key: string,
  targetKey: string,
  dir: string,
): BenchRow {
  const report = join(dir, 'mc.time');
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
      `src/${bucket}/${key}`,
      `vault/${stack.vault.bucket}/${targetKey}`,
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
  const { peakRssMiB, seconds } = parseTimeReport(readFileSync(report, 'utf8'));
  return { tool: 'mc cp', seconds, peakRssMiB, note: 'one process' };
}

/** `aws s3 cp s3://… - | aws s3 cp - s3://…`, each side under `/usr/bin/time -v`. */
function benchAwsCli(
  stack: StackInfo,
  bucket: string,
  key: string,
  targetKey: string,
  size: number,
  dir: string,
) {
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
      SRC_KEY: stack.minio.accessKey,
      SRC_SECRET: stack.minio.secretKey,
      SRC_ENDPOINT: stack.minio.endpoint,
      SRC_BUCKET: bucket,
      SRC_OBJECT: key,
      DST_KEY: stack.vault.accessKey,
      DST_SECRET: stack.vault.secretKey,
      DST_ENDPOINT: stack.vault.endpoint,
      DST_BUCKET: stack.vault.bucket,
      DST_OBJECT: targetKey,
    },
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const get = parseTimeReport(readFileSync(join(dir, 'aws-get.time'), 'utf8'));
  const put = parseTimeReport(readFileSync(join(dir, 'aws-put.time'), 'utf8'));
  return {
    tool: 'aws s3 cp - | aws s3 cp -',
    seconds,
    peakRssMiB: get.peakRssMiB + put.peakRssMiB,
    note: `two processes: ${get.peakRssMiB.toFixed(0)} + ${put.peakRssMiB.toFixed(0)} MiB`,
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
    for await (const entry of results) {
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
      record(benchMc(stack, mc, bucket, key, `bench/${runId}/mc.bin`, dir));
    } else {
      console.error('mc not found: skipped');
    }
    console.error('aws s3 cp …');
    record(benchAwsCli(stack, bucket, key, `bench/${runId}/aws.bin`, bytes, dir));
    for (const target of [`bench/${runId}/mc.bin`, `bench/${runId}/aws.bin`]) {
      const head = await vault
        .send(new HeadObjectCommand({ Bucket: stack.vault.bucket, Key: target }))
        .catch(() => undefined);
      if (head && head.ContentLength !== bytes)
        throw new Error(`${target} has ${head.ContentLength} bytes, expected ${bytes}`);
    }
    printTable(bytes, rows);
    const work = `one ${(bytes / MiB).toFixed(0)} MiB object`;
    return rows.map((row) => ({
      work,
      tool: row.tool.startsWith('copyBatch') ? 'wire-backup (copyBatch)' : row.tool,
      seconds: row.seconds,
      peakRssMiB: row.peakRssMiB,
      rate: `${(bytes / MiB / row.seconds).toFixed(0)} MiB/s`,
      reference: row.tool.startsWith('copyBatch'),
      note: row.note,
    }));
  } finally {
    await deleteVersions(vault, stack.vault.bucket, `bench/${runId}/`);
    await deleteVersions(vault, stack.vault.bucket, minioBucketPrefix(bucket));
    await deleteVersions(vault, stack.vault.bucket, backupPrefix(backupId));
    await source.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
    await source.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const childIndex = process.argv.indexOf(childFlag);
  const run = childIndex >= 0 ? runChild(process.argv[childIndex + 1] ?? '{}') : main();
  run.catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}

import type { S3Client } from '@aws-sdk/client-s3';
import type { Client } from 'cassandra-driver';
import { readStackInfo, type StackInfo } from '../stack-info.js';
import {
  createSeededSchema,
  dropSeededKeyspaces,
  emptyCounts,
  type WriteCounts,
  writeCounters,
  writeRows,
} from './cassandra-writer.js';
import { selectComponents, type WireComponents } from './components.js';
import {
  type ConsistencyName,
  createCassandraClient,
  createSourceS3Client,
  flushNodes,
} from './connections.js';
import {
  assetsBucket,
  emptyBucket,
  ensureBucket,
  forEachConcurrently,
  putObject,
  seededObjects,
} from './minio-objects.js';
import type { ProgressListener } from './progress.js';
import { seededKeyspaces } from './schema.js';
import { seedSchemaHistory } from './schema-history.js';
import { multipartThresholdBytes, planForSize, type SeedPlan } from './size-plan.js';
import { type CounterWrite, type RowWrite, WireDataGenerator } from './wire-data.js';
import { emptyFolder, folderBytes, seededFolderFiles, writeFolder } from './wire-server-folder.js';

/**
 * Seeds a Wire installation's state on the local stack: the Cassandra keyspaces `brig`, `galley`,
 * `gundeck`, `spar`, the MinIO bucket `assets` and the wire-server deploy folder. Deterministic: the
 * same size and seed give the same data; seeding again over the same state changes nothing.
 */

/** The default seed of the PRNG. */
export const defaultSeed = 42;

/** Which parts to seed (see {@link WireComponents}). */
export type SeedComponents = WireComponents;

/** Options of {@link seedWire}. */
export interface SeedOptions {
  /** `smoke`, `bench` (~1 GiB) or `<N>MiB`/`<N>GiB`. @default 'smoke' */
  readonly size?: string;
  /** PRNG seed. @default 42 */
  readonly seed?: number;
  /** The stack to seed. @default readStackInfo() */
  readonly stack?: StackInfo;
  /** First drop the seeded keyspaces, empty the bucket and the folder. @default false */
  readonly reset?: boolean;
  /** Run `nodetool flush` on every node afterwards (through the host profile wrapper). @default false */
  readonly flush?: boolean;
  /** Parts to seed; when given, only those set to true. @default all three */
  readonly components?: SeedComponents;
  /** Cassandra statements in flight. @default 128 */
  readonly concurrency?: number;
  /** Objects uploaded at once. @default 8 */
  readonly objectConcurrency?: number;
  /** Write consistency (ALL makes every replica hold every row before a backup). @default 'all' */
  readonly consistency?: ConsistencyName;
  /** A connected client to use (not shut down); one is created otherwise. */
  readonly cassandraClient?: Client;
  /** An S3 client for the source MinIO; one is created otherwise. */
  readonly s3Client?: S3Client;
  /** Called as work progresses. */
  readonly onProgress?: ProgressListener;
}

/** What a seed run wrote. */
export interface SeedResult {
  readonly size: string;
  readonly seed: number;
  readonly plan: SeedPlan;
  readonly cassandra?: {
    /** Rows written per `keyspace.table`. */
    readonly rows: Record<string, number>;
    readonly totalRows: number;
    /** Approximate logical bytes written. */
    readonly bytes: number;
    readonly durationMs: number;
  };
  readonly minio?: {
    readonly bucket: string;
    readonly objects: number;
    readonly bytes: number;
    /** Keys of the objects above the multipart threshold (uploaded in parts). */
    readonly multipartKeys: string[];
    readonly durationMs: number;
  };
  readonly wireServer?: { readonly path: string; readonly files: number; readonly bytes: number };
  readonly flushed: boolean;
  readonly durationMs: number;
}

const sum = (values: Record<string, number>): number => Object.values(values).reduce((a, b) => a + b, 0);

/** Seeds the stack; see the module comment. */
export async function seedWire(options: SeedOptions = {}): Promise<SeedResult> {
  const started = Date.now();
  const size = options.size ?? 'smoke';
  const seed = options.seed ?? defaultSeed;
  const plan = planForSize(size);
  const stack = options.stack ?? readStackInfo();
  const components = selectComponents(options.components);
  const progress = options.onProgress ?? (() => {});
  const data = new WireDataGenerator(plan, seed);
  let cassandra: SeedResult['cassandra'];
  let minio: SeedResult['minio'];
  let wireServer: SeedResult['wireServer'];

  // Cassandra, MinIO and the folder are independent: seed them side by side.
  const seedCassandraPart = async (): Promise<void> => {
    if (!components.cassandra) return;
    const client =
      options.cassandraClient ?? createCassandraClient(stack, { consistency: options.consistency ?? 'all' });
    try {
      if (!options.cassandraClient) await client.connect();
      const t0 = Date.now();
      const counts = await seedCassandra(
        client,
        data,
        stack,
        options.reset ?? false,
        options.concurrency ?? 128,
        progress,
      );
      cassandra = {
        rows: counts.rows,
        totalRows: sum(counts.rows),
        bytes: sum(counts.bytes),
        durationMs: Date.now() - t0,
      };
    } finally {
      if (!options.cassandraClient) await client.shutdown();
    }
  };

  const seedMinioPart = async (): Promise<void> => {
    if (!components.minio) return;
    const s3 = options.s3Client ?? createSourceS3Client(stack);
    try {
      const t0 = Date.now();
      await ensureBucket(s3, assetsBucket);
      if (options.reset) {
        const deleted = await emptyBucket(s3, assetsBucket);
        progress({ phase: 'reset', message: `emptied bucket ${assetsBucket} (${deleted} objects)` });
      }
      const specs = seededObjects(plan, seed, data);
      const bytes = specs.reduce((total, s) => total + s.size, 0);
      let done = 0;
      let doneBytes = 0;
      // Largest first, so the long multipart uploads overlap the many small ones.
      const order = [...specs].sort((x, y) => y.size - x.size);
      await forEachConcurrently(order, options.objectConcurrency ?? 8, async (spec) => {
        await putObject(s3, assetsBucket, spec);
        done++;
        doneBytes += spec.size;
        if (done % 250 === 0 || done === specs.length || spec.size > multipartThresholdBytes) {
          progress({
            phase: 'minio',
            message: `${done}/${specs.length} objects, ${(doneBytes / 2 ** 20).toFixed(1)}/${(bytes / 2 ** 20).toFixed(1)} MiB`,
            done,
            total: specs.length,
          });
        }
      });
      minio = {
        bucket: assetsBucket,
        objects: specs.length,
        bytes,
        multipartKeys: specs.filter((s) => s.size > multipartThresholdBytes).map((s) => s.key),
        durationMs: Date.now() - t0,
      };
    } finally {
      if (!options.s3Client) s3.destroy();
    }
  };

  const seedFolderPart = async (): Promise<void> => {
    if (!components.wireServer) return;
    const path = stack.deployHost.wireServerPath;
    if (options.reset) {
      await emptyFolder(path);
      progress({ phase: 'reset', message: `emptied ${path}` });
    }
    const files = seededFolderFiles(seed);
    await writeFolder(path, files);
    wireServer = { path, files: files.length, bytes: folderBytes(files) };
    progress({ phase: 'wire-server', message: `wrote ${files.length} files to ${path}` });
  };

  await Promise.all([seedCassandraPart(), seedMinioPart(), seedFolderPart()]);

  const flushed = Boolean(options.flush && components.cassandra);
  if (flushed) {
    progress({ phase: 'flush', message: `nodetool flush on ${stack.cassandra.nodes.length} node(s)` });
    await flushNodes(stack, seededKeyspaces);
  }
  return {
    size,
    seed,
    plan,
    ...(cassandra ? { cassandra } : {}),
    ...(minio ? { minio } : {}),
    ...(wireServer ? { wireServer } : {}),
    flushed,
    durationMs: Date.now() - started,
  };
}

/** Rows of an entity range, written in chunks so memory stays flat whatever the size. */
async function writeChunked(
  client: Client,
  total: number,
  generate: (index: number) => { rows: RowWrite[]; counters: CounterWrite[] },
  concurrency: number,
  counts: WriteCounts,
  report: (done: number) => void,
): Promise<void> {
  const chunkRows = 5000;
  let rows: RowWrite[] = [];
  let counters: CounterWrite[] = [];
  const flushChunk = async (done: number): Promise<void> => {
    await writeRows(client, rows, concurrency, counts);
    await writeCounters(client, counters, concurrency, counts);
    rows = [];
    counters = [];
    report(done);
  };
  for (let i = 0; i < total; i++) {
    const generated = generate(i);
    rows.push(...generated.rows);
    counters.push(...generated.counters);
    if (rows.length >= chunkRows) await flushChunk(i + 1);
  }
  await flushChunk(total);
}

async function seedCassandra(
  client: Client,
  data: WireDataGenerator,
  stack: StackInfo,
  reset: boolean,
  concurrency: number,
  progress: ProgressListener,
): Promise<WriteCounts> {
  if (reset) {
    await dropSeededKeyspaces(client);
    progress({ phase: 'reset', message: `dropped keyspaces ${seededKeyspaces.join(', ')}` });
  }
  await createSeededSchema(client, stack.cassandra.nodes.length);
  progress({ phase: 'schema', message: `schema ready in ${seededKeyspaces.join(', ')}` });
  const { plan } = data;
  const counts = emptyCounts();
  const rowsSoFar = (): number => sum(counts.rows);
  await writeChunked(
    client,
    plan.teams,
    (t) => data.teamRows(t),
    concurrency,
    counts,
    () => {},
  );
  await writeChunked(
    client,
    plan.users,
    (i) => data.userRows('seed', i, plan.users),
    concurrency,
    counts,
    (done) =>
      progress({
        phase: 'cassandra',
        message: `users ${done}/${plan.users} (${rowsSoFar()} rows)`,
        done,
        total: plan.users,
      }),
  );
  await writeChunked(
    client,
    plan.conversations,
    (c) => data.seededConversationRows(c),
    concurrency,
    counts,
    (done) =>
      progress({
        phase: 'cassandra',
        message: `conversations ${done}/${plan.conversations} (${rowsSoFar()} rows)`,
        done,
        total: plan.conversations,
      }),
  );
  await seedSchemaHistory(client, stack, counts);
  progress({
    phase: 'schema',
    message: 'schema history: dropped and re-added columns of brig.legacy_profile',
  });
  return counts;
}

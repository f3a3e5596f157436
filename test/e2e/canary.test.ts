import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { progressPrinter } from '../../cli/format.js';
import { backupSummary, drillSummary, restoreSummary } from '../../cli/summary.js';
import { backupManifestSchema } from '../../functions/core/contract/backup.js';
import { restoreReportSchema } from '../../functions/core/contract/restore.js';
import {
  batchPrefixOf,
  bucketManifestKey,
  manifestKey,
  restoreBatchKeyOf,
  restoreReportKey,
  vaultPrefixes,
  wireServerArchiveKey,
} from '../../functions/core/vault-layout.js';
import { type DrillReport, runDrill } from '../../local/drill.js';
import { runLocal } from '../../local/local-run.js';
import type { RunnerEvent } from '../../local/runner/events.js';
import { createCassandraClient, createSourceS3Client } from '../../local/seed/connections.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { listKeys } from '../support/vault.js';

/** A value that exists nowhere but where this test puts it (letters and digits: no escaping hides it). */
const canary = `CNRY${randomBytes(10).toString('hex')}`;
const canaryUserId = randomUUID();
const canaryObjectKey = 'v3/assets/3-2-0a1b2c3d-canary-object';
const canaryFile = 'values/wire-server/secrets.yaml';

/** Where the canary occurs in `text` (line-sized excerpts), case-insensitively. */
function findCanary(text: string): string[] {
  const hits: string[] = [];
  const lower = text.toLowerCase();
  const needle = canary.toLowerCase();
  for (let at = lower.indexOf(needle); at >= 0; at = lower.indexOf(needle, at + needle.length))
    hits.push(text.slice(Math.max(0, at - 80), at + needle.length + 40).replace(/\n/g, '⏎'));
  return hits;
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

async function readBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(
    await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

const gunzipIf = (key: string, bytes: Buffer): Buffer => (key.endsWith('.gz') ? gunzipSync(bytes) : bytes);

/**
 * What the product writes for people and machines to read (logs, events, error causes, SSM output,
 * reports, summaries) must never hold Wire's data. The canary is seeded into a Cassandra row, a file
 * of the wire-server folder, and a MinIO object's body and user metadata; a DR drill (a full backup,
 * the disaster, a restore) and a dry-run and a refused restore then run through the runner, and every
 * log, cause and report they produced is searched for it. The positive controls find the canary in the
 * data itself (the vault's archive and object, the restored row, file and object), with the same search.
 */
describe('canary: no data in logs, causes or reports', () => {
  const sources = new Map<string, string[]>();
  const add = (source: string, text: string) => {
    const texts = sources.get(source) ?? [];
    texts.push(text);
    sources.set(source, texts);
  };
  const restoreConsole: (() => void)[] = [];
  afterAll(() => {
    for (const undo of restoreConsole) undo();
  });

  /**
   * The Lambda workers' logs are not kept by the runner: it prints each line with this process's
   * console (lambda-invoker.ts), and a function's EMF metrics reach this process's stdout. Both are
   * captured here, as CloudWatch Logs would keep them.
   */
  function captureConsole(): void {
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      const original = console[method];
      console[method] = (...args: unknown[]) => {
        add(
          'lambda and runner console',
          args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '),
        );
        original.apply(console, args);
      };
      restoreConsole.push(() => {
        console[method] = original;
      });
    }
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write.bind(stream);
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        add(
          'process stdout/stderr',
          typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString(),
        );
        return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof stream.write;
      restoreConsole.push(() => {
        stream.write = original as typeof stream.write;
      });
    }
  }

  async function seedCanary(stack: StackInfo): Promise<void> {
    const cassandra = createCassandraClient(stack);
    try {
      await cassandra.connect();
      await cassandra.execute('INSERT INTO brig.user (id, name, handle, email) VALUES (?, ?, ?, ?)', [
        canaryUserId,
        `Ada ${canary}`,
        canary.toLowerCase(),
        `${canary}@wire.example.com`,
      ]);
    } finally {
      await cassandra.shutdown();
    }
    appendFileSync(join(stack.deployHost.wireServerPath, canaryFile), `canaryToken: ${canary}\n`);
    const source = createSourceS3Client(stack);
    try {
      await source.send(
        new PutObjectCommand({
          Bucket: 'assets',
          Key: canaryObjectKey,
          Body: `encrypted asset bytes ${canary} end`,
          ContentType: 'application/octet-stream',
          Metadata: { note: canary },
        }),
      );
    } finally {
      source.destroy();
    }
  }

  it('finds the canary in no log, event, cause, SSM output, report or summary of a backup, a restore and a drill', async () => {
    // Arrange: what exists before, so that only this test's output is searched.
    const before = readStackInfo();
    const ssmDir = join(before.stackDir, 'ssm');
    const ssmBefore = new Set(existsSync(ssmDir) ? readdirSync(ssmDir) : []);
    const eventsFile = join(before.stackDir, 'events.jsonl');
    const eventsOffset = existsSync(eventsFile) ? statSync(eventsFile).size : 0;
    const vault0 = createStackS3Client(before.vault);
    const restoresBefore = new Set(await listKeys(vault0, before.vault.bucket, vaultPrefixes.restores));
    vault0.destroy();
    const events: RunnerEvent[] = [];
    const printed: string[] = [];
    const printer = progressPrinter((line) => printed.push(line), true);
    const onEvent = (event: RunnerEvent) => {
      events.push(event);
      printer(event);
    };
    captureConsole();

    // Act: the drill (backup, disaster, restore, comparison), then a dry run and a refused restore.
    let drill: DrillReport;
    try {
      drill = await runDrill({ size: 'smoke', afterSeed: seedCanary, onEvent, log: (l) => printed.push(l) });
    } finally {
      for (const undo of restoreConsole.splice(0)) undo();
    }
    const stack = readStackInfo();
    const dryRun = await runLocal({
      stateMachine: 'wire-restore',
      input: { backupId: drill.backupId, confirm: drill.backupId, overwrite: true, dryRun: true },
      stack,
      onEvent,
    });
    const refused = await runLocal({
      stateMachine: 'wire-restore',
      input: { backupId: drill.backupId, confirm: 'yes' },
      stack,
      onEvent,
    });

    // Collect every log, cause and report.
    const s3 = createStackS3Client(stack.vault);
    const bucket = stack.vault.bucket;
    try {
      for (const e of events) add(`runner events (${e.type})`, JSON.stringify(e));
      for (const r of [dryRun, refused])
        add(
          'run results (output, error, cause)',
          JSON.stringify({ s: r.status, o: r.output, e: r.error, c: r.cause }),
        );
      add('drill report', JSON.stringify(drill));
      add('CLI: progress lines and drill log', printed.join('\n'));
      add('CLI: drill summary', drillSummary(drill));
      const manifest = backupManifestSchema.parse(
        JSON.parse((await readBytes(s3, bucket, manifestKey(drill.backupId))).toString()),
      );
      add('CLI: backup summary', backupSummary(manifest, bucket));
      const report = restoreReportSchema.parse(
        JSON.parse((await readBytes(s3, bucket, restoreReportKey(drill.restoreId))).toString()),
      );
      add('CLI: restore summary', restoreSummary(report, bucket));
      add('CLI: dry-run summary', restoreSummary(restoreReportSchema.parse(dryRun.output), bucket));
      const newCommands = readdirSync(ssmDir).filter((c) => !ssmBefore.has(c));
      for (const file of newCommands.flatMap((c) => filesUnder(join(ssmDir, c))))
        add(
          `SSM ${file.endsWith('.stdout') ? 'stdout' : file.endsWith('.stderr') ? 'stderr' : 'script/env'} files`,
          readFileSync(file).toString('latin1'),
        );
      if (existsSync(eventsFile))
        add('EventBridge events', readFileSync(eventsFile).subarray(eventsOffset).toString());
      // Reports, markers, inventories and work files of this backup and its restores; the data
      // objects (the archive, the bucket manifests that hold objects' metadata) are the positive controls.
      // The copy batches hold the manifest entries being written (an object's user metadata is kept
      // for its restore), so they are data too.
      const batches = batchPrefixOf(drill.backupId, 'assets');
      const isBatch = (key: string) =>
        key.startsWith(batches) ||
        key.startsWith(restoreBatchKeyOf(drill.restoreId, 'assets', 1).replace(/[^/]*$/, ''));
      const dataKeys = new Set([
        wireServerArchiveKey(drill.backupId),
        bucketManifestKey(drill.backupId, 'assets'),
      ]);
      const reportKeys = [
        ...(await listKeys(s3, bucket, `${vaultPrefixes.backups}${drill.backupId}/`)),
        ...(await listKeys(s3, bucket, vaultPrefixes.restores)).filter((k) => !restoresBefore.has(k)),
      ].filter((k) => !dataKeys.has(k) && !isBatch(k));
      for (const key of reportKeys)
        add(
          `vault ${key.split('/')[0]}/…/${key.split('/').slice(2).join('/')}`,
          gunzipIf(key, await readBytes(s3, bucket, key)).toString('latin1'),
        );

      // Assert: the table of what was searched, and no hit.
      const rows = [...sources].map(([source, texts]) => {
        const hits = texts.flatMap(findCanary);
        return { source, items: texts.length, bytes: texts.reduce((n, t) => n + t.length, 0), hits };
      });
      console.info(
        `canary ${canary}\n${rows.map((r) => `${r.source.padEnd(60)} ${String(r.items).padStart(6)} items ${String(r.bytes).padStart(10)} chars  ${r.hits.length} hits`).join('\n')}`,
      );
      expect(refused.error).toBe('RestoreRefusedError');
      expect(dryRun.status, `${dryRun.error}: ${dryRun.cause}`).toBe('SUCCEEDED');
      expect(newCommands.length).toBeGreaterThan(5);
      expect(events.some((e) => e.type === 'CommandOutput')).toBe(true);
      expect(sources.get('lambda and runner console')?.length ?? 0).toBeGreaterThan(0);
      expect(rows.flatMap((r) => r.hits.map((h) => `${r.source}: …${h}…`))).toEqual([]);

      // Positive controls: the same search finds the canary in the data, in the vault and restored.
      expect(drill.differences).toEqual([]);
      const archive = gunzipSync(await readBytes(s3, bucket, wireServerArchiveKey(drill.backupId)));
      expect(findCanary(archive.toString('latin1')).length).toBeGreaterThan(0);
      const bucketManifest = gunzipSync(
        await readBytes(s3, bucket, bucketManifestKey(drill.backupId, 'assets')),
      )
        .toString()
        .split('\n')
        .filter((l) => l.includes(canaryObjectKey));
      expect(findCanary(bucketManifest.join('\n')).length).toBeGreaterThan(0);
      const batchResults = (await listKeys(s3, bucket, batches)).filter((k) => k.endsWith('.result.jsonl'));
      const batchText = await Promise.all(
        batchResults.map(async (k) => (await readBytes(s3, bucket, k)).toString()),
      );
      expect(findCanary(batchText.join('\n')).length).toBeGreaterThan(0);
      const entry = JSON.parse(bucketManifest[0] ?? '{}') as { vaultKey: string };
      expect(findCanary((await readBytes(s3, bucket, entry.vaultKey)).toString()).length).toBe(1);
    } finally {
      s3.destroy();
    }
    const source = createSourceS3Client(stack);
    try {
      const restored = await source.send(new HeadObjectCommand({ Bucket: 'assets', Key: canaryObjectKey }));
      expect(restored.Metadata?.note).toBe(canary);
      expect(findCanary((await readBytes(source, 'assets', canaryObjectKey)).toString())).toHaveLength(1);
    } finally {
      source.destroy();
    }
    expect(findCanary(readFileSync(join(stack.deployHost.wireServerPath, canaryFile), 'utf8'))).toHaveLength(
      1,
    );
    const cassandra = createCassandraClient(stack, { consistency: 'one' });
    try {
      await cassandra.connect();
      const row = await cassandra.execute('SELECT name, handle FROM brig.user WHERE id = ?', [canaryUserId]);
      expect(findCanary(JSON.stringify(row.first()))).toHaveLength(2);
    } finally {
      await cassandra.shutdown();
    }
  });
});

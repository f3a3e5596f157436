import { createHash, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Client } from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sstablePrefix } from '../../functions/core/vault-layout.js';
import { createCassandraClient } from '../../local/seed/connections.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { runHostScript, runWithHostProfile } from '../support/host-script.js';

/**
 * Schema history through the restore host scripts, against the real local Cassandra: a table whose
 * columns (a regular, a static, a frozen UDT, a set) were dropped after rows were written and flushed,
 * one dropped and re-added with another type, a secondary index; its snapshot and `DESCRIBE SCHEMA WITH
 * INTERNALS` (what cassandra-snapshot.sh captures) go to the vault; the keyspace is dropped and brought
 * back by restore-cassandra-schema.sh and restore-cassandra-node.sh (import, then sstableloader), every
 * row equal. And the schema restore's emptiness probe never lets a row value into its output.
 */

const runId = `${Date.now().toString(36)}${randomInt(36 ** 3).toString(36)}`;
const keyspace = `sh_test_${runId}`;
const clusterName = `sh-test-${runId}`;
const vaultPrefix = `sh-test-${runId}/`;
const snapshotTag = `sh-test-${runId}`;
const canary = `canary-${runId}-row-value`;
const failureLine = /^wire-backup: [^:]+: .+ — .+$/;
const slow = { timeout: 600_000 };

let stack: StackInfo;
let nodeId: string;
let nodeAddress: string;
let bucket: string;
let vault: S3Client;
let cassandra: Client;
let workDir: string;
let hostId: string;
let expectedRows: string[];
let expectedDropped: Record<string, string>;
let tableId: string;
const filesKey = `${vaultPrefix}files.tsv`;
const schemaKey = `${vaultPrefix}schema.cql`;

async function cql(statement: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const result = await cassandra.execute(statement, params, { prepare: params.length > 0 });
  return result.rows as unknown as Record<string, unknown>[];
}
async function nodetool(args: string): Promise<string> {
  return (await runWithHostProfile(nodeId, `nodetool ${args}`)).stdout;
}
async function put(key: string, body: Buffer | string): Promise<string> {
  const out = await vault.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return out.VersionId ?? 'null';
}
const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

async function rows(): Promise<string[]> {
  return (await cql(`SELECT JSON * FROM ${keyspace}.profile`)).map((r) => String(r['[json]'])).sort();
}
/** `column → kind type dropped_time(ms)` of the table's dropped columns. */
async function droppedColumns(): Promise<Record<string, string>> {
  const found = await cql(
    'SELECT column_name, kind, type, dropped_time FROM system_schema.dropped_columns WHERE keyspace_name = ? AND table_name = ?',
    [keyspace, 'profile'],
  );
  return Object.fromEntries(
    found.map((r) => [String(r.column_name), `${r.kind} ${r.type} ${(r.dropped_time as Date).getTime()}`]),
  );
}
async function currentTableId(): Promise<string> {
  const found = await cql('SELECT id FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?', [
    keyspace,
    'profile',
  ]);
  return String(found[0]?.id ?? '');
}

async function createHistory(): Promise<void> {
  const ks = keyspace;
  await cql(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
  await cql(`CREATE TYPE ${ks}.asset (typ int, key text)`);
  await cql(
    `CREATE TABLE ${ks}.profile (id int, seq int, team text static, old_static text static, picture text, gone text, gone_asset frozen<asset>, gone_tags set<text>, format text, PRIMARY KEY (id, seq))`,
  );
  await cql(`CREATE INDEX profile_picture ON ${ks}.profile (picture)`);
  for (let id = 0; id < 6; id++) {
    for (let seq = 0; seq < 3; seq++) {
      await cql(
        `INSERT INTO ${ks}.profile (id, seq, team, old_static, picture, gone, gone_asset, gone_tags, format) VALUES (${id}, ${seq}, 'team-${id % 2}', 'static-${id}', 'pic-${id}-${seq}', 'gone-${id}-${seq}', {typ: ${seq}, key: 'k-${id}'}, {'t${seq}', 'u${id}'}, 'f-${id}-${seq}')`,
      );
    }
  }
  await nodetool(`flush -- ${ks}`);
  for (const column of ['gone', 'old_static', 'gone_asset', 'gone_tags', 'format']) {
    await cql(`ALTER TABLE ${ks}.profile DROP ${column}`);
  }
  await cql(`ALTER TABLE ${ks}.profile ADD format blob`);
  for (let id = 0; id < 6; id++) {
    await cql(
      `INSERT INTO ${ks}.profile (id, seq, picture, format) VALUES (${id}, 3, 'pic-${id}-3', 0x0${id})`,
    );
  }
  await cql(`UPDATE ${ks}.profile SET format = 0xff WHERE id = 0 AND seq = 0`);
  await nodetool(`flush -- ${ks}`);
}

/** The snapshot files, uploaded the way a backup stores them; files.tsv lists them. */
async function uploadSnapshot(): Promise<void> {
  const ksDir = join(stack.cassandra.nodes[0]?.dataDir ?? '', keyspace);
  const lines: string[] = [];
  for (const tableDir of await readdir(ksDir)) {
    const snap = join(ksDir, tableDir, 'snapshots', snapshotTag);
    if (!existsSync(snap)) continue;
    for (const entry of await readdir(snap, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const full = join(entry.parentPath, entry.name);
      const relpath = `${keyspace}/${tableDir}/${relative(snap, full)}`;
      const body = await readFile(full);
      const versionId = await put(`cassandra/${clusterName}/${hostId}/${relpath}`, body);
      lines.push(`${relpath}\t${body.length}\t${sha256(body)}\t${versionId}\n`);
    }
  }
  await put(filesKey, lines.sort().join(''));
}

function schemaParams(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    vaultBucket: bucket,
    schemaKey,
    keyspaces: keyspace,
    overwrite: 'false',
    dryRun: 'false',
    ...overrides,
  };
}
function nodeParams(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    vaultBucket: bucket,
    sourceHostId: hostId,
    sstablePrefix: sstablePrefix(clusterName, hostId),
    filesKey,
    keyspaces: keyspace,
    mode: 'import',
    loadTargets: '',
    stagingDir: join(workDir, 'staging'),
    dryRun: 'false',
    ...overrides,
  };
}

beforeAll(async () => {
  stack = readStackInfo();
  const node = stack.cassandra.nodes[0];
  if (!node) throw new Error('stack.json lists no Cassandra node: run wire-stack up');
  nodeId = node.instanceId;
  nodeAddress = node.address;
  bucket = stack.vault.bucket;
  vault = createStackS3Client(stack.vault);
  cassandra = createCassandraClient(stack, { consistency: 'one' });
  await cassandra.connect();
  workDir = await mkdtemp(join(tmpdir(), 'schema-history-'));
  hostId = (/^ID\s*:\s*(\S+)/m.exec(await nodetool('info'))?.[1] ?? '').trim();

  await createHistory();
  expectedRows = await rows();
  expectedDropped = await droppedColumns();
  tableId = await currentTableId();
  await nodetool(`snapshot -t ${snapshotTag} -- ${keyspace}`);
  await uploadSnapshot();
  // What cassandra-snapshot.sh records (with whatever cqlsh prints first).
  await put(
    schemaKey,
    (await runWithHostProfile(nodeId, "cqlsh -e 'DESCRIBE SCHEMA WITH INTERNALS'")).stdout,
  );
}, 600_000);

afterAll(async () => {
  await nodetool(`clearsnapshot -t ${snapshotTag} -- ${keyspace}`).catch(() => undefined);
  await cassandra?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
  await cassandra?.shutdown();
  const ksDir = join(stack?.cassandra.nodes[0]?.dataDir ?? '/nonexistent', keyspace);
  if (existsSync(ksDir)) await rm(ksDir, { recursive: true, force: true });
  vault?.destroy();
  if (workDir) await rm(workDir, { recursive: true, force: true });
}, 300_000);

describe('schema history through the restore host scripts', () => {
  it('holds the history the backup must keep', () => {
    expect(Object.keys(expectedDropped).sort()).toEqual([
      'format',
      'gone',
      'gone_asset',
      'gone_tags',
      'old_static',
    ]);
    expect(expectedDropped.old_static).toMatch(/^static text \d+$/);
    expect(expectedRows).toHaveLength(24);
    // The re-added column shows only values written after its drop.
    expect(expectedRows.filter((r) => r.includes('"format": "0x'))).toHaveLength(7);
  });

  for (const mode of ['import', 'load'] as const) {
    it(
      `recreates dropped columns, drop times and the table id, then loads every row by ${mode}`,
      slow,
      async () => {
        // Arrange
        await cql(`DROP KEYSPACE IF EXISTS ${keyspace}`);

        // Act
        const schema = await runHostScript('restore-cassandra-schema.sh', nodeId, schemaParams());
        const node = await runHostScript(
          'restore-cassandra-node.sh',
          nodeId,
          nodeParams(mode === 'load' ? { mode: 'load', loadTargets: nodeAddress } : {}),
        );

        // Assert
        expect(schema.exitCode, schema.stderr).toBe(0);
        expect(schema.stderr).toContain('schema history: 6 ALTER TABLE statement(s)');
        expect(await droppedColumns()).toEqual(expectedDropped);
        expect(await currentTableId()).toBe(tableId);
        expect(node.exitCode, node.stderr).toBe(0);
        expect(node.result?.mode).toBe(mode);
        expect(await rows()).toEqual(expectedRows);
        const index = await cql(`SELECT id, seq FROM ${keyspace}.profile WHERE picture = 'pic-2-1'`);
        expect(index).toEqual([{ id: 2, seq: 1 }]);
      },
    );
  }

  it(
    "refuses a table the cluster has without the backup's dropped columns, and changes nothing",
    slow,
    async () => {
      // Arrange: the table as a schema without history would make it (the dropped columns unknown).
      await cql(`DROP KEYSPACE IF EXISTS ${keyspace}`);
      await cql(
        `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
      );
      await cql(
        `CREATE TABLE ${keyspace}.profile (id int, seq int, team text static, picture text, format blob, PRIMARY KEY (id, seq))`,
      );

      // Act
      const run = await runHostScript(
        'restore-cassandra-schema.sh',
        nodeId,
        schemaParams({ overwrite: 'true' }),
      );

      // Assert
      expect(run.exitCode).toBe(1);
      expect(run.resultLines).toBe(0);
      expect(run.lastStderrLine).toMatch(failureLine);
      expect(run.lastStderrLine).toContain(`5 dropped column(s) of the backup are not dropped columns`);
      expect(run.lastStderrLine).toContain(`${keyspace}.profile: format (not known as dropped)`);
      expect(run.stderr).toContain(
        `schema history missing: ${keyspace}.profile: old_static (not known as dropped)`,
      );
      expect(await droppedColumns()).toEqual({});
      const types = await cql('SELECT type_name FROM system_schema.types WHERE keyspace_name = ?', [
        keyspace,
      ]);
      expect(types).toEqual([]);
    },
  );
});

describe('the schema restore probe', () => {
  /** Runs the schema restore over a table holding the canary; everything it printed. */
  async function probeOutput(overrides: Record<string, string>, prependPath: string[] = []): Promise<string> {
    const run = await runHostScript('restore-cassandra-schema.sh', nodeId, schemaParams(overrides), {
      prependPath,
    });
    return `${run.stdout}\n${run.stderr}`;
  }

  it('never puts a row value into its output, its log or its failure cause', slow, async () => {
    // Arrange: the table exists with a row holding the canary; a cqlsh that fails the probe after
    // answering it (a read timing out on one table of many), so that the script reports the failure.
    await cql(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    const schema = await runHostScript('restore-cassandra-schema.sh', nodeId, schemaParams());
    expect(schema.exitCode, schema.stderr).toBe(0);
    await cql(`INSERT INTO ${keyspace}.profile (id, seq, team, picture) VALUES (99, 0, ?, ?)`, [
      canary,
      canary,
    ]);
    const stub = join(workDir, 'failing-probe');
    await mkdir(stub, { recursive: true });
    const realCqlsh = (await runWithHostProfile(nodeId, 'command -v cqlsh')).stdout.trim();
    await writeFile(
      join(stub, 'cqlsh'),
      [
        '#!/usr/bin/env bash',
        `"${realCqlsh}" "$@"; rc=$?`,
        'for a in "$@"; do if [[ $a == *probe-rows.cql ]]; then echo "<stdin>:2:ReadTimeout: Error from server: code=1200" >&2; exit 2; fi; done',
        'exit $rc',
      ].join('\n'),
    );
    await chmod(join(stub, 'cqlsh'), 0o755);

    // Act
    const outputs = [
      await probeOutput({}),
      await probeOutput({ dryRun: 'true' }),
      await probeOutput({ overwrite: 'true' }),
      await probeOutput({}, [stub]),
      await probeOutput({ overwrite: 'true' }, [stub]),
    ];

    // Assert: the probes ran (the refusals name the table) and no output holds the value.
    expect(outputs[0]).toContain(`rows in ${keyspace}.profile`);
    expect(outputs[3]).toContain('cannot check the existing tables');
    expect(outputs[3]).toContain('cqlsh: <stdin>:2:ReadTimeout');
    for (const output of outputs) expect(output).not.toContain(canary);
  });
});

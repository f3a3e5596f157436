import { createHash, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Client } from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rules } from '../../functions/core/contract/rules.js';
import { sstablePrefix } from '../../functions/core/vault-layout.js';
import { createCassandraClient } from '../../local/seed/connections.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { runHostScript, runWithHostProfile } from '../support/host-script.js';
import { readVaultText } from '../support/vault.js';

/**
 * The restore host scripts against the real local stack: a keyspace of our own is snapshotted and put
 * into the vault the way a backup lays it out (`cassandra/<cluster>/<hostId>/<relpath>` with a files.tsv
 * of exact versions, and a `DESCRIBE SCHEMA`), then dropped and brought back by
 * restore-cassandra-schema.sh and restore-cassandra-node.sh (import and load); a wire-server folder is
 * archived by wire-server-archive.sh and restored by restore-wire-server.sh.
 */

const runId = `${Date.now().toString(36)}${randomInt(36 ** 3).toString(36)}`;
const keyspace = `rs_test_${runId}`;
const clusterName = `rs-test-${runId}`;
const vaultPrefix = `rs-test-${runId}/`;
const snapshotTag = `rs-test-${runId}`;
const failureLine = /^wire-backup: [^:]+: .+ — .+$/;
const ttlSeconds = 86_400;
const slow = { timeout: 600_000 };

let stack: StackInfo;
let nodeId: string;
let deployHostId: string;
let nodeAddress: string;
let bucket: string;
let vault: S3Client;
let cassandra: Client;
let workDir: string;
let hostId: string;

/** The local stack may still be starting: wait for stack.json and a Cassandra that answers. */
async function waitForStack(deadlineMs: number): Promise<StackInfo> {
  let lastError: unknown;
  while (Date.now() < deadlineMs) {
    try {
      const info = readStackInfo();
      const client = createCassandraClient(info);
      try {
        await client.connect();
        await client.execute('SELECT release_version FROM system.local');
      } finally {
        await client.shutdown();
      }
      return info;
    } catch (error) {
      lastError = error;
      await sleep(5000);
    }
  }
  throw new Error(`local stack not up in time: ${(lastError as Error)?.message}`);
}

async function cql(statement: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const result = await cassandra.execute(statement, params, { prepare: params.length > 0 });
  return result.rows as unknown as Record<string, unknown>[];
}
async function nodetool(args: string): Promise<string> {
  return (await runWithHostProfile(nodeId, `nodetool ${args}`)).stdout;
}

async function listVersions(prefix: string): Promise<{ Key: string; VersionId: string }[]> {
  const versions: { Key: string; VersionId: string }[] = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (;;) {
    const page = await vault.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        Prefix: prefix,
        KeyMarker: keyMarker,
        VersionIdMarker: versionIdMarker,
      }),
    );
    for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
      if (v.Key && v.VersionId) versions.push({ Key: v.Key, VersionId: v.VersionId });
    }
    if (!page.IsTruncated) return versions;
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
  }
}
async function purgeVault(prefix: string): Promise<void> {
  const versions = await listVersions(prefix);
  for (let i = 0; i < versions.length; i += 1000) {
    await vault.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: versions.slice(i, i + 1000), Quiet: true },
      }),
    );
  }
}
async function put(key: string, body: Buffer | string): Promise<string> {
  const out = await vault.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return out.VersionId ?? 'null';
}
const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

// --- Cassandra fixture ---------------------------------------------------------------------------

const tables = ['plain', 'coll', 'indexed', 'ttl_rows', 'counters', 'empty'] as const;
const loadedTables = tables.filter((t) => t !== 'empty');

interface FilesEntry {
  readonly relpath: string;
  readonly size: number;
  readonly sha256: string;
  readonly versionId: string;
}
let files: FilesEntry[] = [];
let expectedRows: Record<string, string[]> = {};
const filesKey = `${vaultPrefix}files.tsv`;
const schemaKey = `${vaultPrefix}schema.cql`;
const renderFiles = (entries: readonly FilesEntry[]): string =>
  entries.map((f) => `${f.relpath}\t${f.size}\t${f.sha256}\t${f.versionId}\n`).join('');

async function createFixtureKeyspace(): Promise<void> {
  const ks = keyspace;
  for (const statement of [
    `CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
    `CREATE TYPE ${ks}.asset (typ int, key text)`,
    `CREATE TABLE ${ks}.plain (id int PRIMARY KEY, name text, score bigint, avatar frozen<asset>) WITH comment = 'plain; with a semicolon'`,
    `CREATE TABLE ${ks}.coll (id int PRIMARY KEY, tags set<text>, attrs map<text, int>, history list<text>)`,
    `CREATE TABLE ${ks}.indexed (id int PRIMARY KEY, email text)`,
    `CREATE INDEX indexed_email_idx ON ${ks}.indexed (email)`,
    `CREATE TABLE ${ks}.ttl_rows (id int PRIMARY KEY, payload text)`,
    `CREATE TABLE ${ks}.counters (id int PRIMARY KEY, hits counter)`,
    `CREATE TABLE ${ks}.empty (id int PRIMARY KEY)`,
  ]) {
    await cql(statement);
  }
  // Literal values (no bind markers): bigint and counter columns then need no Long conversion.
  for (let id = 0; id < 40; id++) {
    await cql(
      `INSERT INTO ${ks}.plain (id, name, score, avatar) VALUES (${id}, 'name-${id}', ${id * 1_000_000_007}, {typ: 1, key: 'asset-${id}'})`,
    );
    await cql(
      `INSERT INTO ${ks}.coll (id, tags, attrs, history) VALUES (${id}, {'t${id % 3}', 'u${id}'}, {'a': ${id}, 'b': ${id * 2}}, ['h${id}', 'h${id + 1}'])`,
    );
    await cql(`INSERT INTO ${ks}.indexed (id, email) VALUES (${id}, 'user${id}@example.com')`);
    await cql(
      `INSERT INTO ${ks}.ttl_rows (id, payload) VALUES (${id}, 'payload-${id}') USING TTL ${ttlSeconds}`,
    );
    await cql(`UPDATE ${ks}.counters SET hits = hits + ${id + 1} WHERE id = ${id % 10}`);
  }
}

/** Every row of every table as sorted JSON strings (collections are ordered by Cassandra). */
async function readAllRows(): Promise<Record<string, string[]>> {
  const rows: Record<string, string[]> = {};
  for (const table of tables) {
    const result = await cql(`SELECT JSON * FROM ${keyspace}.${table}`);
    rows[table] = result.map((r) => String(r['[json]'])).sort();
  }
  return rows;
}
async function rowCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables) {
    counts[table] = (await cql(`SELECT * FROM ${keyspace}.${table}`)).length;
  }
  return counts;
}
const allEmpty = Object.fromEntries(tables.map((t) => [t, 0]));

/** Snapshot files of the keyspace, uploaded the way a backup stores them; returns files.tsv entries. */
async function uploadSnapshot(): Promise<FilesEntry[]> {
  const ksDir = join(stack.cassandra.nodes[0]?.dataDir ?? '', keyspace);
  const entries: FilesEntry[] = [];
  for (const tableDir of await readdir(ksDir)) {
    const snap = join(ksDir, tableDir, 'snapshots', snapshotTag);
    if (!existsSync(snap)) continue;
    for (const entry of await readdir(snap, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const full = join(entry.parentPath, entry.name);
      const relpath = `${keyspace}/${tableDir}/${relative(snap, full)}`;
      const body = await readFile(full);
      const versionId = await put(`cassandra/${clusterName}/${hostId}/${relpath}`, body);
      entries.push({ relpath, size: body.length, sha256: sha256(body), versionId });
    }
  }
  return entries.sort((a, b) => (a.relpath < b.relpath ? -1 : 1));
}

async function dropKeyspace(): Promise<void> {
  await cql(`DROP KEYSPACE IF EXISTS ${keyspace}`);
}
async function keyspaceExists(): Promise<boolean> {
  return (
    (await cql('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace]))
      .length > 0
  );
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

/** The keyspace as restore-cassandra-schema.sh leaves it: every table there, none with a row. */
async function freshSchema(): Promise<void> {
  await dropKeyspace();
  const run = await runHostScript('restore-cassandra-schema.sh', nodeId, schemaParams());
  expect(run.exitCode, run.stderr).toBe(0);
  expect(await rowCounts()).toEqual(allEmpty);
}

async function stagingLeftovers(): Promise<string[]> {
  const dir = join(workDir, 'staging');
  return existsSync(dir) ? readdir(dir) : [];
}

// --- wire-server fixture -------------------------------------------------------------------------

interface TreeEntry {
  readonly path: string;
  readonly type: 'dir' | 'file' | 'link';
  readonly mode: number;
  readonly content: string;
}
/** A folder as a sorted list of entries (type, permission bits, content or link target). */
async function tree(root: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    const full = join(entry.parentPath, entry.name);
    const path = relative(root, full);
    const info = await stat(full).catch(() => undefined);
    if (entry.isSymbolicLink()) out.push({ path, type: 'link', mode: 0, content: await readlink(full) });
    else if (entry.isDirectory())
      out.push({ path, type: 'dir', mode: (info?.mode ?? 0) & 0o7777, content: '' });
    else
      out.push({
        path,
        type: 'file',
        mode: (info?.mode ?? 0) & 0o7777,
        content: sha256(await readFile(full)),
      });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

async function makeWireServerFolder(folder: string): Promise<void> {
  await mkdir(join(folder, 'values', 'wire-server'), { recursive: true });
  await mkdir(join(folder, 'ansible', 'inventory', 'prod'), { recursive: true });
  await mkdir(join(folder, 'empty-dir'), { recursive: true });
  await writeFile(join(folder, 'values', 'wire-server', 'values.yaml'), 'brig:\n  replicaCount: 3\n');
  await writeFile(join(folder, 'values', 'wire-server', 'secrets.yaml'), 'secret: s3cr3t\n');
  await chmod(join(folder, 'values', 'wire-server', 'secrets.yaml'), 0o600);
  await writeFile(join(folder, 'ansible', 'inventory', 'prod', 'hosts.ini'), '[cassandra]\nnode1\n');
  await writeFile(join(folder, 'big.bin'), Buffer.alloc(300_000, 7));
  await symlink('values/wire-server/values.yaml', join(folder, 'values.yaml'));
}

// --- setup ---------------------------------------------------------------------------------------

beforeAll(async () => {
  stack = await waitForStack(Date.now() + 240_000);
  const node = stack.cassandra.nodes[0];
  if (!node) throw new Error('stack.json lists no Cassandra node: run wire-stack up');
  nodeId = node.instanceId;
  nodeAddress = node.address;
  deployHostId = stack.deployHost.instanceId;
  bucket = stack.vault.bucket;
  vault = createStackS3Client(stack.vault);
  cassandra = createCassandraClient(stack, { consistency: 'one' });
  await cassandra.connect();
  workDir = await mkdtemp(join(tmpdir(), 'restore-scripts-'));
  hostId = (/^ID\s*:\s*(\S+)/m.exec(await nodetool('info'))?.[1] ?? '').trim();
  expect(hostId).toMatch(/^[0-9a-f-]{36}$/);

  await createFixtureKeyspace();
  expectedRows = await readAllRows();
  await nodetool(`flush -- ${keyspace}`);
  await nodetool(`snapshot -t ${snapshotTag} -- ${keyspace}`);
  files = await uploadSnapshot();
  // A newer version at one key: the restore must still take the version files.tsv names.
  const moved = files.find((f) => f.relpath.includes('/plain-') && f.relpath.endsWith('-Statistics.db'));
  if (!moved) throw new Error('fixture: no Statistics.db in the plain table snapshot');
  await put(`cassandra/${clusterName}/${hostId}/${moved.relpath}`, 'a later backup overwrote this key');
  await put(filesKey, renderFiles(files));
  // What the backup records: `cqlsh -e 'DESCRIBE SCHEMA'` (with whatever cqlsh prints first).
  await put(schemaKey, (await runWithHostProfile(nodeId, "cqlsh -e 'DESCRIBE SCHEMA'")).stdout);
}, 600_000);

afterAll(async () => {
  await nodetool(`clearsnapshot -t ${snapshotTag} -- ${keyspace}`).catch(() => undefined);
  await cassandra?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
  await cassandra?.shutdown();
  const ksDir = join(stack?.cassandra.nodes[0]?.dataDir ?? '/nonexistent', keyspace);
  if (existsSync(ksDir)) await rm(ksDir, { recursive: true, force: true });
  if (vault) {
    await purgeVault(`cassandra/${clusterName}/`);
    await purgeVault(vaultPrefix);
  }
  if (workDir) await rm(workDir, { recursive: true, force: true });
}, 300_000);

// --- Cassandra -----------------------------------------------------------------------------------

describe('restore-cassandra-schema.sh', () => {
  it('checks everything on a dry run and creates nothing', slow, async () => {
    // Arrange
    await dropKeyspace();

    // Act
    const run = await runHostScript('restore-cassandra-schema.sh', nodeId, schemaParams({ dryRun: 'true' }));

    // Assert
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.result).toEqual({
      keyspaces: [keyspace],
      tables: 6,
      statements: 9,
      skipped: 0,
      replicationWarnings: [],
      dryRun: true,
    });
    expect(await keyspaceExists()).toBe(false);
  });

  it(
    'warns, with the fix, when the schema replicates more times than the cluster has nodes',
    slow,
    async () => {
      // Arrange: the same schema as a three-node cluster's (replication factor 3), for this one node.
      await dropKeyspace();
      const schema = await readVaultText(vault, bucket, schemaKey);
      const rf3 = schema.replace(
        new RegExp(`(CREATE KEYSPACE ${keyspace} WITH replication = \\{[^}]*'replication_factor': )'1'`),
        "$1'3'",
      );
      expect(rf3).not.toBe(schema);
      const rf3Key = `${vaultPrefix}schema-rf3.cql`;
      await put(rf3Key, rf3);

      // Act
      const run = await runHostScript(
        'restore-cassandra-schema.sh',
        nodeId,
        schemaParams({ schemaKey: rf3Key, dryRun: 'true' }),
      );

      // Assert
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.result?.replicationWarnings).toEqual([
        expect.stringMatching(
          new RegExp(
            `^keyspace ${keyspace} has replication factor 3 but the cluster has 1 node\\(s\\): .*ALTER KEYSPACE "${keyspace}" WITH replication = \\{'class': 'SimpleStrategy', 'replication_factor': 1\\}`,
          ),
        ),
      ]);
      expect(run.stderr).toContain(`WARNING: keyspace ${keyspace} has replication factor 3`);
      expect(await keyspaceExists()).toBe(false);
    },
  );

  it('recreates the keyspace, its type, tables and index, and waits for schema agreement', slow, async () => {
    // Arrange
    await dropKeyspace();

    // Act
    const run = await runHostScript('restore-cassandra-schema.sh', nodeId, schemaParams());

    // Assert
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.resultLines).toBe(1);
    expect(run.result).toEqual({
      keyspaces: [keyspace],
      tables: 6,
      statements: 9,
      skipped: 0,
      replicationWarnings: [],
      dryRun: false,
    });
    const restored = await cql('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [
      keyspace,
    ]);
    expect(restored.map((r) => r.table_name).sort()).toEqual([...tables].sort());
    const indexes = await cql('SELECT index_name FROM system_schema.indexes WHERE keyspace_name = ?', [
      keyspace,
    ]);
    expect(indexes.map((r) => r.index_name)).toEqual(['indexed_email_idx']);
    const types = await cql('SELECT type_name FROM system_schema.types WHERE keyspace_name = ?', [keyspace]);
    expect(types.map((r) => r.type_name)).toEqual(['asset']);
    const plain = await cql(
      'SELECT comment FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?',
      [keyspace, 'plain'],
    );
    expect(plain[0]?.comment).toBe('plain; with a semicolon');
    expect(await nodetool('describecluster')).toMatch(
      /Schema versions:\n\s+[0-9a-f-]{36}: \[[^\]]+\]\n\s*\n/,
    );
  });

  it('refuses a keyspace that already holds rows unless overwrite is true', slow, async () => {
    // Arrange
    await freshSchema();
    await cql(`INSERT INTO ${keyspace}.plain (id, name) VALUES (1000, 'already here')`);

    // Act
    const refused = await runHostScript('restore-cassandra-schema.sh', nodeId, schemaParams());
    const allowed = await runHostScript(
      'restore-cassandra-schema.sh',
      nodeId,
      schemaParams({ overwrite: 'true' }),
    );

    // Assert
    // 3: a refusal (nothing written), which the state machine reports as RestoreRefusedError.
    expect(refused.exitCode).toBe(3);
    expect(refused.resultLines).toBe(0);
    expect(refused.lastStderrLine).toMatch(failureLine);
    expect(refused.lastStderrLine).toContain(`rows in ${keyspace}.plain`);
    expect(refused.lastStderrLine).toContain('refusing without overwrite');
    expect(allowed.exitCode, allowed.stderr).toBe(0);
    expect(await cql(`SELECT name FROM ${keyspace}.plain WHERE id = 1000`)).toEqual([
      { name: 'already here' },
    ]);
  });

  it('refuses a keyspace the schema file does not hold', slow, async () => {
    // Act
    const run = await runHostScript(
      'restore-cassandra-schema.sh',
      nodeId,
      schemaParams({ keyspaces: `${keyspace},rs_test_absent_${runId}`, dryRun: 'true' }),
    );

    // Assert
    expect(run.exitCode).toBe(1);
    expect(run.lastStderrLine).toMatch(failureLine);
    expect(run.lastStderrLine).toContain(`rs_test_absent_${runId} are not in the backup's schema`);
  });
});

describe('restore-cassandra-node.sh', () => {
  it('downloads and verifies every file on a dry run and loads nothing', slow, async () => {
    // Arrange
    await freshSchema();

    // Act
    const run = await runHostScript('restore-cassandra-node.sh', nodeId, nodeParams({ dryRun: 'true' }));

    // Assert
    expect(run.exitCode, run.stderr).toBe(0);
    const loaded = files.filter((f) => !/\/(manifest\.json|schema\.cql)$/.test(f.relpath));
    expect(run.result).toEqual({
      tables: loadedTables.length,
      files: loaded.length,
      bytes: loaded.reduce((n, f) => n + f.size, 0),
      mode: 'import',
      keyspaces: [keyspace],
      emptyTables: 1,
      dryRun: true,
      // The version the node reports, which chose import (≥ 4.0) over refresh.
      cassandraVersion: expect.stringMatching(/^[45]\.[0-9]+\.[0-9]+$/),
    });
    expect(run.stderr).toContain('1 file(s) differ from the latest object at their key');
    expect(await rowCounts()).toEqual(allEmpty);
    expect(await stagingLeftovers()).toEqual([]);
  });

  it('fails naming a file whose SHA-256 differs from files.tsv, and loads nothing', slow, async () => {
    // Arrange
    await freshSchema();
    const victim = files.find((f) => f.relpath.includes('/indexed-') && f.relpath.endsWith('-Data.db'));
    if (!victim) throw new Error('fixture: no Data.db in the indexed table snapshot');
    const corruptKey = `${vaultPrefix}files-corrupt.tsv`;
    await put(
      corruptKey,
      renderFiles(files.map((f) => (f === victim ? { ...f, sha256: sha256('something else') } : f))),
    );

    // Act
    const run = await runHostScript(
      'restore-cassandra-node.sh',
      nodeId,
      nodeParams({ filesKey: corruptKey }),
    );

    // Assert
    expect(run.exitCode).toBe(1);
    expect(run.resultLines).toBe(0);
    expect(run.lastStderrLine).toMatch(failureLine);
    expect(run.lastStderrLine).toContain(victim.relpath);
    expect(run.lastStderrLine).toContain('nothing was loaded');
    expect(await rowCounts()).toEqual(allEmpty);
    expect(await stagingLeftovers()).toEqual([]);
  });

  it('refuses to import into tables that do not exist', slow, async () => {
    // Arrange
    await dropKeyspace();

    // Act
    const run = await runHostScript('restore-cassandra-node.sh', nodeId, nodeParams());

    // Assert
    expect(run.exitCode).toBe(1);
    expect(run.lastStderrLine).toMatch(failureLine);
    expect(run.lastStderrLine).toContain('restore the schema first');
    expect(existsSync(join(workDir, 'staging'))).toBe(false);
  });

  it(
    'imports every row back with nodetool import: collections, UDTs, TTLs, counters, index',
    slow,
    async () => {
      // Arrange
      await freshSchema();
      const started = Date.now();

      // Act
      const run = await runHostScript('restore-cassandra-node.sh', nodeId, nodeParams({ mode: 'import' }));

      // Assert
      const seconds = (Date.now() - started) / 1000;
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.result).toMatchObject({
        tables: loadedTables.length,
        mode: 'import',
        emptyTables: 1,
        dryRun: false,
      });
      for (const table of loadedTables) expect(run.stderr).toContain(`${keyspace}.${table}: done in`);
      expect(await readAllRows()).toEqual(expectedRows);
      const ttls = await cql(`SELECT id, TTL(payload) AS ttl FROM ${keyspace}.ttl_rows`);
      expect(ttls).toHaveLength(40);
      for (const row of ttls) {
        expect(Number(row.ttl)).toBeGreaterThan(0);
        expect(Number(row.ttl)).toBeLessThanOrEqual(ttlSeconds);
      }
      const byEmail = await cql(`SELECT id FROM ${keyspace}.indexed WHERE email = ?`, ['user7@example.com']);
      expect(byEmail.map((r) => r.id)).toEqual([7]);
      expect(await stagingLeftovers()).toEqual([]);
      console.info(
        `restore-cassandra-node import: ${run.result?.files} files, ${run.result?.bytes} bytes in ${seconds} s`,
      );
    },
  );

  it('loads every row back with sstableloader into a freshly recreated schema', slow, async () => {
    // Arrange
    await freshSchema();
    const started = Date.now();

    // Act
    const run = await runHostScript(
      'restore-cassandra-node.sh',
      nodeId,
      nodeParams({ mode: 'load', loadTargets: nodeAddress }),
    );

    // Assert
    const seconds = (Date.now() - started) / 1000;
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.result).toMatchObject({ tables: loadedTables.length, mode: 'load', emptyTables: 1 });
    expect(await readAllRows()).toEqual(expectedRows);
    const ttls = await cql(`SELECT TTL(payload) AS ttl FROM ${keyspace}.ttl_rows`);
    expect(ttls.every((row) => Number(row.ttl) > 0 && Number(row.ttl) <= ttlSeconds)).toBe(true);
    const byEmail = await cql(`SELECT id FROM ${keyspace}.indexed WHERE email = ?`, ['user3@example.com']);
    expect(byEmail.map((r) => r.id)).toEqual([3]);
    expect(await stagingLeftovers()).toEqual([]);
    console.info(
      `restore-cassandra-node load: ${run.result?.files} files, ${run.result?.bytes} bytes in ${seconds} s`,
    );
  });

  it('loads the same SSTables a second time without changing counters or rows', slow, async () => {
    // Arrange: the previous test loaded them once.
    expect(await readAllRows()).toEqual(expectedRows);

    // Act
    const run = await runHostScript(
      'restore-cassandra-node.sh',
      nodeId,
      nodeParams({ mode: 'load', loadTargets: nodeAddress, keyspaces: '' }),
    );

    // Assert
    expect(run.exitCode, run.stderr).toBe(0);
    expect(await readAllRows()).toEqual(expectedRows);
  });
});

// --- wire-server ---------------------------------------------------------------------------------

describe('restore-wire-server.sh', () => {
  let source: string;
  let archive: { key: string; versionId: string; sha256: string; bytes: number };

  beforeAll(async () => {
    source = join(workDir, 'source', 'wire-server');
    await makeWireServerFolder(source);
    const key = `${vaultPrefix}wire-server.tar.gz`;
    const run = await runHostScript('wire-server-archive.sh', deployHostId, {
      wireServerPath: source,
      vaultBucket: bucket,
      archiveKey: key,
      // The archive's own key (the local vault has no KMS: the host's aws drops the SSE options there).
      kmsKeyArn: rules.kmsKeyArn.example,
      compressionLevel: '6',
    });
    expect(run.exitCode, run.stderr).toBe(0);
    const head = await vault.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    archive = {
      key,
      versionId: head.VersionId ?? 'null',
      sha256: String(run.result?.sha256),
      bytes: Number(run.result?.bytes),
    };
  }, 300_000);

  function params(targetPath: string, overrides: Record<string, string> = {}): Record<string, string> {
    return {
      vaultBucket: bucket,
      archiveKey: archive.key,
      versionId: archive.versionId,
      sha256: archive.sha256,
      targetPath,
      overwrite: 'false',
      dryRun: 'false',
      ...overrides,
    };
  }

  it('restores the folder under another name with the same files, modes and links', slow, async () => {
    // Arrange
    const target = join(workDir, 'restored', 'deploy', 'wire-server-new');

    // Act
    const run = await runHostScript('restore-wire-server.sh', deployHostId, params(target));

    // Assert
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.resultLines).toBe(1);
    expect(run.result).toEqual({
      targetPath: target,
      previousMovedTo: null,
      files: 4,
      bytes: archive.bytes,
      sha256: archive.sha256,
      rootEntry: 'wire-server',
      dryRun: false,
    });
    expect(await tree(target)).toEqual(await tree(source));
    expect(await readdir(join(workDir, 'restored', 'deploy'))).toEqual(['wire-server-new']);
  });

  it('refuses a non-empty target without overwrite and leaves it as it was', slow, async () => {
    // Arrange
    const target = join(workDir, 'occupied', 'wire-server');
    await mkdir(target, { recursive: true });
    await writeFile(join(target, 'local-change.yaml'), 'keep me\n');
    const before = await tree(target);

    // Act
    const run = await runHostScript('restore-wire-server.sh', deployHostId, params(target));

    // Assert
    expect(run.exitCode).toBe(3);
    expect(run.resultLines).toBe(0);
    expect(run.lastStderrLine).toMatch(failureLine);
    expect(run.lastStderrLine).toContain('exists and is not empty; refusing to replace it without overwrite');
    expect(await tree(target)).toEqual(before);
    expect(await readdir(join(workDir, 'occupied'))).toEqual(['wire-server']);
  });

  it('moves an existing folder aside with overwrite and puts the archive in its place', slow, async () => {
    // Arrange
    const target = join(workDir, 'replace', 'wire-server');
    await mkdir(target, { recursive: true });
    await writeFile(join(target, 'local-change.yaml'), 'old\n');
    const before = await tree(target);

    // Act
    const run = await runHostScript(
      'restore-wire-server.sh',
      deployHostId,
      params(target, { overwrite: 'true' }),
    );

    // Assert
    expect(run.exitCode, run.stderr).toBe(0);
    const movedTo = String(run.result?.previousMovedTo);
    expect(movedTo).toMatch(/\/replace\/wire-server\.before-restore-\d{8}T\d{6}Z$/);
    expect(await tree(movedTo)).toEqual(before);
    expect(await tree(target)).toEqual(await tree(source));
    expect((await readdir(join(workDir, 'replace'))).sort()).toEqual(
      ['wire-server', movedTo.split('/').at(-1)].sort(),
    );
  });

  it('refuses an archive whose SHA-256 differs and changes nothing', slow, async () => {
    // Arrange
    const target = join(workDir, 'wrong-sha', 'wire-server');
    await mkdir(target, { recursive: true });
    await writeFile(join(target, 'current.yaml'), 'current\n');
    const before = await tree(join(workDir, 'wrong-sha'));

    // Act
    const run = await runHostScript(
      'restore-wire-server.sh',
      deployHostId,
      params(target, { overwrite: 'true', sha256: sha256('not the archive') }),
    );

    // Assert
    expect(run.exitCode).toBe(1);
    expect(run.lastStderrLine).toMatch(failureLine);
    expect(run.lastStderrLine).toContain(`has SHA-256 ${archive.sha256}, the backup recorded`);
    expect(run.lastStderrLine).toContain('nothing was changed');
    expect(await tree(join(workDir, 'wrong-sha'))).toEqual(before);
  });

  it('checks the archive on a dry run and changes nothing', slow, async () => {
    // Arrange
    const target = join(workDir, 'dry', 'wire-server');
    await mkdir(target, { recursive: true });
    await writeFile(join(target, 'current.yaml'), 'current\n');
    const before = await tree(join(workDir, 'dry'));

    // Act
    const run = await runHostScript(
      'restore-wire-server.sh',
      deployHostId,
      params(target, { overwrite: 'true', dryRun: 'true' }),
    );

    // Assert
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.result).toMatchObject({ previousMovedTo: null, sha256: archive.sha256, dryRun: true });
    expect(await tree(join(workDir, 'dry'))).toEqual(before);
  });
});

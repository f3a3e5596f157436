import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rules } from '../../functions/core/contract/rules.js';
import { parseNodetoolInfo, parseNodetoolStatus } from '../../functions/core/nodetool.js';
import {
  clusterSstablePrefix,
  nodeInfoKey,
  nodeInventoryKey,
  rowCountsKey,
  schemaKey,
} from '../../functions/core/vault-layout.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo } from '../../local/stack-info.js';
import { runHostScript, runWithHostProfile } from '../support/host-script.js';

const stack = readStackInfo();
const cassandraNode = stack.cassandra.nodes[0];
if (!cassandraNode) throw new Error('stack.json lists no Cassandra node: run wire-stack up');
const nodeId = cassandraNode.instanceId;
const deployHostId = stack.deployHost.instanceId;
const bucket = stack.vault.bucket;
const vault = createStackS3Client(stack.vault);

// Unique per run: keyspace, vault prefixes and snapshot tags never collide with other tests or seed data.
// Backup ids are in 1999 so that they cannot meet the real-time ids other tests allocate.
const runId = `${Date.now().toString(36)}${randomInt(36 ** 3).toString(36)}`;
const keyspace = `hs_test_${runId}`;
const droppedKeyspace = `hs_test_dropped_${runId}`;
const clusterPrefix = `hs-test-${runId}`;
const idBase = Date.UTC(1999, 0, 1) + randomInt(300) * 86_400_000 + randomInt(80_000) * 1000;
const usedBackupIds: string[] = [];
function newBackupId(): string {
  const id = new Date(idBase + usedBackupIds.length * 1000)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  usedBackupIds.push(id);
  return id;
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}
async function cql(statements: string): Promise<void> {
  await runWithHostProfile(nodeId, `cqlsh -e ${shellQuote(statements)}`);
}
async function nodetool(args: string): Promise<string> {
  return (await runWithHostProfile(nodeId, `nodetool ${args}`)).stdout;
}
async function getObject(key: string, versionId?: string): Promise<Buffer> {
  const response = await vault.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  if (!response.Body) throw new Error(`s3://${bucket}/${key} has no body`);
  return Buffer.from(await response.Body.transformToByteArray());
}
async function getText(key: string): Promise<string> {
  return (await getObject(key)).toString('utf8');
}
async function listVersions(prefix: string): Promise<{ key: string; versionId: string }[]> {
  const versions: { key: string; versionId: string }[] = [];
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
      if (v.Key && v.VersionId) versions.push({ key: v.Key, versionId: v.VersionId });
    }
    if (!page.IsTruncated) return versions;
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
  }
}
async function purgeVault(prefix: string): Promise<void> {
  const versions = await listVersions(prefix);
  for (let i = 0; i < versions.length; i += 1000) {
    const batch = versions.slice(i, i + 1000).map((v) => ({ Key: v.key, VersionId: v.versionId }));
    await vault.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch, Quiet: true } }));
  }
}
async function snapshotTags(): Promise<string> {
  return nodetool('listsnapshots');
}

interface InventoryEntry {
  readonly relpath: string;
  readonly size: number;
  readonly sha256: string;
  readonly status: string;
  readonly versionId: string;
}
function parseInventory(text: string): InventoryEntry[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [relpath = '', size = '', sha256 = '', status = '', versionId = ''] = line.split('\t');
      return { relpath, size: Number(size), sha256, status, versionId };
    });
}

/** The snapshot document's parameters, every vault key from the layout module as the plan gives them. */
function snapshotParams(backupId: string, overrides: Record<string, string> = {}): Record<string, string> {
  const clusterName = overrides.clusterName ?? clusterPrefix;
  return {
    backupId,
    keyspaces: keyspace,
    dataDir: cassandraNode?.dataDir ?? '',
    vaultBucket: bucket,
    clusterName,
    instanceId: nodeId,
    previousFilesKey: '',
    sstablePrefix: clusterSstablePrefix(clusterName),
    inventoryKey: nodeInventoryKey(backupId, nodeId),
    nodeInfoKey: nodeInfoKey(backupId, nodeId),
    schemaKey: schemaKey(backupId),
    rowCountsKey: rowCountsKey(backupId),
    captureSchema: 'false',
    ...overrides,
  };
}

const failureLine = /^wire-backup: [^:]+: .+ — .+$/;
const snapshotTimeout = { timeout: 240_000 };

/** DROP KEYSPACE leaves the keyspace directory (without files) behind: remove it once it holds none. */
async function removeDroppedKeyspaceDir(name: string): Promise<void> {
  const dir = join(cassandraNode?.dataDir ?? '', name);
  if (!existsSync(dir)) return;
  const files = await readdir(dir, { recursive: true, withFileTypes: true });
  if (files.every((entry) => entry.isDirectory())) await rm(dir, { recursive: true, force: true });
}

describe('host scripts', () => {
  beforeAll(async () => {
    await cql(
      `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};
       CREATE TABLE ${keyspace}.users (id int PRIMARY KEY, handle text, name text);
       CREATE INDEX users_handle_idx ON ${keyspace}.users (handle);
       INSERT INTO ${keyspace}.users (id, handle, name) VALUES (1, 'alice', 'Alice');
       INSERT INTO ${keyspace}.users (id, handle, name) VALUES (2, 'bob', 'Bob');
       INSERT INTO ${keyspace}.users (id, handle, name) VALUES (3, 'carol', 'Carol');`,
    );
    // Deterministic SSTable sets: no compaction may merge the generations the differential test compares.
    await nodetool(`disableautocompaction ${keyspace}`);
    await nodetool(`flush ${keyspace}`);
  });

  afterAll(async () => {
    for (const id of usedBackupIds) await nodetool(`clearsnapshot -t ${id}`).catch(() => undefined);
    for (const name of [keyspace, droppedKeyspace]) {
      await cql(`DROP KEYSPACE IF EXISTS ${name}`).catch(() => undefined);
      await removeDroppedKeyspaceDir(name);
    }
    await purgeVault(`cassandra/${clusterPrefix}`);
    for (const id of usedBackupIds) await purgeVault(`backups/${id}/`);
  });

  it('passes preflight on the Cassandra node and returns its version and nodetool status', async () => {
    // Arrange
    const params = { role: 'cassandra', dataDir: cassandraNode.dataDir, vaultBucket: bucket };

    // Act
    const run = await runHostScript('preflight.sh', nodeId, params);

    // Assert
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.resultLines).toBe(1);
    expect(run.result).toMatchObject({
      role: 'cassandra',
      cassandraVersion: stack.cassandra.version,
      tools: { nodetool: join(stack.hosts[nodeId]?.binDir ?? '', 'nodetool') },
    });
    const status = Buffer.from(String(run.result?.nodetoolStatusB64), 'base64').toString('utf8');
    expect(parseNodetoolStatus(status)).toContainEqual(
      expect.objectContaining({ address: cassandraNode.address, status: 'U', state: 'N' }),
    );
  });

  it('passes preflight on the deploy host', async () => {
    // Arrange
    const params = {
      role: 'wireServer',
      wireServerPath: stack.deployHost.wireServerPath,
      vaultBucket: bucket,
    };

    // Act
    const run = await runHostScript('preflight.sh', deployHostId, params);

    // Assert
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.result).toMatchObject({ role: 'wireServer', cassandraVersion: null, nodetoolStatusB64: null });
    expect(Object.keys(run.result?.tools as object)).toEqual(['tar', 'gzip', 'aws', 'sha256sum']);
  });

  it('fails preflight naming a missing tool and its package', async () => {
    // Arrange
    const params = { role: 'cassandra', dataDir: cassandraNode.dataDir, vaultBucket: bucket };

    // Act
    const run = await runHostScript('preflight.sh', nodeId, params, { withoutTools: ['aws'] });

    // Assert
    expect(run.exitCode).not.toBe(0);
    expect(run.resultLines).toBe(0);
    expect(run.lastStderrLine).toMatch(failureLine);
    expect(run.lastStderrLine).toContain(
      "required tool 'aws' is not installed or not on PATH — install the AWS CLI",
    );
  });

  it('fails preflight naming a vault bucket that does not exist', async () => {
    // Arrange
    const missing = `hs-test-missing-${runId}`;
    const params = {
      role: 'wireServer',
      wireServerPath: stack.deployHost.wireServerPath,
      vaultBucket: missing,
    };

    // Act
    const run = await runHostScript('preflight.sh', deployHostId, params);

    // Assert
    expect(run.exitCode).not.toBe(0);
    expect(run.lastStderrLine).toMatch(failureLine);
    expect(run.lastStderrLine).toContain(`vault bucket '${missing}' does not exist`);
  });

  it(
    'uploads every file of a first snapshot, its inventory, node facts, the schema and the row counts',
    snapshotTimeout,
    async () => {
      // Arrange
      const backupId = newBackupId();
      const info = parseNodetoolInfo(await nodetool('info -T'));

      // Act
      const run = await runHostScript(
        'cassandra-snapshot.sh',
        nodeId,
        snapshotParams(backupId, { captureSchema: 'true', countRows: 'true' }),
      );

      // Assert
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.resultLines).toBe(1);
      const result = run.result ?? {};
      const inventoryKey = `backups/${backupId}/cassandra/${nodeId}/inventory.tsv`;
      expect(result).toMatchObject({
        instanceId: nodeId,
        hostId: info.hostId,
        address: cassandraNode.address,
        reusedFiles: 0,
        reusedBytes: 0,
        inventoryKey,
        nodeKey: `backups/${backupId}/cassandra/${nodeId}/node.json`,
        schemaKey: `backups/${backupId}/cassandra/schema.cql`,
        schemaSource: 'cqlsh',
        rowCountsKey: `backups/${backupId}/cassandra/row-counts.tsv`,
      });
      expect(await getText(String(result.rowCountsKey))).toBe(
        `# keyspace\ttable\trows\tdefault_time_to_live\n${keyspace}\tusers\t3\t0\n`,
      );
      const inventory = parseInventory(await getText(inventoryKey));
      expect(result.files).toBe(inventory.length);
      expect(result.newFiles).toBe(inventory.length);
      expect(result.bytes).toBe(inventory.reduce((sum, e) => sum + e.size, 0));
      expect(inventory.every((e) => e.status === 'new' && e.versionId === '')).toBe(true);
      const relpaths = inventory.map((e) => e.relpath);
      expect(relpaths).toContainEqual(
        expect.stringMatching(new RegExp(`^${keyspace}/users-[0-9a-f]{32}/[a-z]{2}-\\d+-big-Data\\.db$`)),
      );
      expect(relpaths).toContainEqual(expect.stringMatching(/\/\.users_handle_idx\/[^/]+-Data\.db$/));
      expect(relpaths).toContainEqual(expect.stringMatching(/\/users-[0-9a-f]{32}\/manifest\.json$/));
      expect(relpaths).toContainEqual(expect.stringMatching(/\/users-[0-9a-f]{32}\/schema\.cql$/));
      for (const entry of inventory) {
        const head = await vault.send(
          new HeadObjectCommand({
            Bucket: bucket,
            Key: `cassandra/${clusterPrefix}/${info.hostId}/${entry.relpath}`,
          }),
        );
        expect(head.ContentLength, entry.relpath).toBe(entry.size);
      }
      const data = inventory.find((e) => e.relpath.endsWith('-Data.db'));
      const body = await getObject(`cassandra/${clusterPrefix}/${info.hostId}/${data?.relpath}`);
      expect(createHash('sha256').update(body).digest('hex')).toBe(data?.sha256);
      const nodeFacts = JSON.parse(await getText(String(result.nodeKey)));
      expect(nodeFacts).toEqual({
        instanceId: nodeId,
        hostname: expect.any(String),
        hostId: info.hostId,
        address: cassandraNode.address,
        datacenter: info.datacenter,
        rack: info.rack,
        clusterName: clusterPrefix,
        cassandraVersion: stack.cassandra.version,
        tokens: info.tokens,
      });
      const schema = await getText(String(result.schemaKey));
      expect(schema.startsWith('CREATE ')).toBe(true);
      expect(schema).toContain(`CREATE KEYSPACE ${keyspace} WITH`);
      expect(schema).toContain(`CREATE TABLE ${keyspace}.users`);
      expect(await snapshotTags()).toContain(backupId);
    },
  );

  it(
    'uploads only the new SSTable files of a second snapshot and marks the rest reused',
    snapshotTimeout,
    async () => {
      // Arrange
      const clusterName = `${clusterPrefix}-diff`;
      const first = newBackupId();
      const firstRun = await runHostScript(
        'cassandra-snapshot.sh',
        nodeId,
        snapshotParams(first, { clusterName }),
      );
      expect(firstRun.exitCode, firstRun.stderr).toBe(0);
      const hostId = String(firstRun.result?.hostId);
      const firstInventory = parseInventory(await getText(String(firstRun.result?.inventoryKey)));
      const filesTsv: string[] = [];
      for (const entry of firstInventory) {
        const head = await vault.send(
          new HeadObjectCommand({
            Bucket: bucket,
            Key: `cassandra/${clusterName}/${hostId}/${entry.relpath}`,
          }),
        );
        filesTsv.push(`${entry.relpath}\t${entry.size}\t${entry.sha256}\t${head.VersionId ?? ''}\n`);
      }
      const previousFilesKey = `backups/${first}/cassandra/${nodeId}/files.tsv`;
      await vault.send(
        new PutObjectCommand({ Bucket: bucket, Key: previousFilesKey, Body: filesTsv.join('') }),
      );
      await cql(
        `INSERT INTO ${keyspace}.users (id, handle, name) VALUES (4, 'dave', 'Dave');
       INSERT INTO ${keyspace}.users (id, handle, name) VALUES (5, 'erin', 'Erin');`,
      );
      await nodetool(`flush ${keyspace}`);
      const second = newBackupId();

      // Act
      const run = await runHostScript(
        'cassandra-snapshot.sh',
        nodeId,
        snapshotParams(second, { clusterName, previousFilesKey }),
      );

      // Assert
      expect(run.exitCode, run.stderr).toBe(0);
      const inventory = parseInventory(await getText(String(run.result?.inventoryKey)));
      const previous = new Map(filesTsv.map((line) => [line.split('\t')[0], line.trimEnd().split('\t')]));
      const reused = inventory.filter((e) => e.status === 'reused');
      const uploaded = inventory.filter((e) => e.status === 'new');
      expect(run.result).toMatchObject({
        files: inventory.length,
        newFiles: uploaded.length,
        reusedFiles: reused.length,
        newBytes: uploaded.reduce((sum, e) => sum + e.size, 0),
        reusedBytes: reused.reduce((sum, e) => sum + e.size, 0),
      });
      // Every SSTable component of the first snapshot is still there and reused with its version id.
      const firstSstables = firstInventory.filter((e) => !/\/(manifest\.json|schema\.cql)$/.test(e.relpath));
      expect(firstSstables.length).toBeGreaterThan(0);
      for (const entry of firstSstables) {
        expect(reused, entry.relpath).toContainEqual({
          ...entry,
          status: 'reused',
          versionId: previous.get(entry.relpath)?.[3],
        });
      }
      // New: the flushed generation (table and index), and the rewritten snapshot manifest.
      expect(uploaded.some((e) => e.relpath.endsWith('-Data.db') && !previous.has(e.relpath))).toBe(true);
      expect(
        uploaded.some((e) => e.relpath.includes('/.users_handle_idx/') && !previous.has(e.relpath)),
      ).toBe(true);
      for (const entry of uploaded.filter((e) => previous.has(e.relpath))) {
        expect(entry.relpath).toMatch(/\/(manifest\.json|schema\.cql)$/);
      }
      // The vault holds one version of each reused file: it was not uploaded again.
      const versions = await listVersions(`cassandra/${clusterName}/${hostId}/`);
      for (const entry of reused) {
        const key = `cassandra/${clusterName}/${hostId}/${entry.relpath}`;
        expect(
          versions.filter((v) => v.key === key),
          key,
        ).toHaveLength(1);
      }
      for (const entry of uploaded) {
        const key = `cassandra/${clusterName}/${hostId}/${entry.relpath}`;
        expect(
          versions.some((v) => v.key === key),
          key,
        ).toBe(true);
      }
    },
  );

  it('reads only the files a differential has not hashed before: cached hashes need the same file identity, and a full backup reads every file', {
    timeout: 360_000,
  }, async () => {
    // Arrange: the live SSTables of the keyspace (a snapshot hardlinks them: same inode and mtime), their
    // true sha256 read here, and a cache that gives each of them a bogus hash under its identity.
    const dataDir = cassandraNode?.dataDir ?? '';
    const cacheFile = join(dirname(dataDir), 'wire-backup-staging', 'hash-cache.tsv');
    const live = execFileSync(
      'find',
      [
        join(dataDir, keyspace),
        '-type',
        'f',
        '-not',
        '-path',
        '*/snapshots/*',
        '-not',
        '-path',
        '*/backups/*',
        '-printf',
        '%P\t%s\t%D:%i:%T@\n',
      ],
      { encoding: 'utf8' },
    )
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const [path = '', size = '', ident = ''] = line.split('\t');
        return { relpath: `${keyspace}/${path}`, size, ident, abs: join(dataDir, keyspace, path) };
      });
    expect(live.length).toBeGreaterThan(0);
    const truth = new Map<string, string>();
    for (const f of live) {
      truth.set(
        f.relpath,
        createHash('sha256')
          .update(await readFile(f.abs))
          .digest('hex'),
      );
    }
    const bogus = 'f'.repeat(64);
    const cacheOf = (shiftMtime: boolean) =>
      live.map((f) => {
        const ident = shiftMtime
          ? f.ident.replace(/:([0-9.]+)$/, (_, t: string) => `:${Number(t) + 1}`)
          : f.ident;
        return `${f.relpath}\t${f.size}\t${ident}\t${bogus}\n`;
      });
    const hashedCount = (stderr: string): [number, number] => {
      const partial = /hashing (\d+) of (\d+) file\(s\)/.exec(stderr);
      if (partial) return [Number(partial[1]), Number(partial[2])];
      const all = /hashing (\d+) file\(s\)/.exec(stderr);
      return [Number(all?.[1]), Number(all?.[1])];
    };
    const clusterName = `${clusterPrefix}-cache`;
    const runWithCache = async (backupId: string, cacheLines: string[], previousFilesKey: string) => {
      await writeFile(cacheFile, cacheLines.join(''));
      const run = await runHostScript(
        'cassandra-snapshot.sh',
        nodeId,
        snapshotParams(backupId, { clusterName, previousFilesKey }),
      );
      expect(run.exitCode, run.stderr).toBe(0);
      return { run, inventory: parseInventory(await getText(String(run.result?.inventoryKey))) };
    };
    const isSstable = (e: InventoryEntry) => truth.has(e.relpath);

    // Act + Assert: a full backup reads every file, even with a cache whose identities all match.
    const first = newBackupId();
    const full = await runWithCache(first, cacheOf(false), '');
    expect(hashedCount(full.run.stderr)).toEqual([full.inventory.length, full.inventory.length]);
    expect(full.inventory.filter(isSstable)).toHaveLength(truth.size);
    for (const e of full.inventory.filter(isSstable)) expect(e.sha256, e.relpath).toBe(truth.get(e.relpath));

    // A differential reads a file again when its identity (here its mtime) is not the cache's.
    const previousFilesKey = `backups/${first}/cassandra/${nodeId}/files.tsv`;
    const filesTsv = full.inventory.map((e) => `${e.relpath}\t${e.size}\t${e.sha256}\t\n`).join('');
    await vault.send(new PutObjectCommand({ Bucket: bucket, Key: previousFilesKey, Body: filesTsv }));
    const stale = await runWithCache(newBackupId(), cacheOf(true), previousFilesKey);
    expect(hashedCount(stale.run.stderr)).toEqual([stale.inventory.length, stale.inventory.length]);
    for (const e of stale.inventory.filter(isSstable)) expect(e.sha256, e.relpath).toBe(truth.get(e.relpath));

    // With the cache as that run left it, a differential reads only the snapshot's own new files
    // (each table's manifest.json and schema.cql); every SSTable is reused with its true hash.
    const left = (await readFile(cacheFile, 'utf8'))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => `${l}\n`);
    const warm = await runWithCache(newBackupId(), left, previousFilesKey);
    const [hashed, total] = hashedCount(warm.run.stderr);
    expect(total).toBe(warm.inventory.length);
    expect(hashed).toBe(warm.inventory.filter((e) => !isSstable(e)).length);
    expect(hashed).toBeLessThan(total);
    for (const e of warm.inventory.filter(isSstable)) {
      expect(e.sha256, e.relpath).toBe(truth.get(e.relpath));
      expect(e.status, e.relpath).toBe('reused');
    }
  });

  it(
    'snapshots every non-system keyspace when none is named, past the directory of a dropped one',
    snapshotTimeout,
    async () => {
      // Arrange
      await cql(
        `CREATE KEYSPACE ${droppedKeyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};
       CREATE TABLE ${droppedKeyspace}.t (id int PRIMARY KEY);
       INSERT INTO ${droppedKeyspace}.t (id) VALUES (1);`,
      );
      await nodetool(`flush ${droppedKeyspace}`);
      await cql(`DROP KEYSPACE ${droppedKeyspace}`);
      expect(existsSync(join(cassandraNode.dataDir, droppedKeyspace))).toBe(true);
      const backupId = newBackupId();

      // Act
      const run = await runHostScript(
        'cassandra-snapshot.sh',
        nodeId,
        snapshotParams(backupId, { keyspaces: '', clusterName: `${clusterPrefix}-all` }),
      );

      // Assert
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stderr).toContain(`keyspace ${droppedKeyspace}: nothing in the snapshot`);
      const inventory = parseInventory(await getText(String(run.result?.inventoryKey)));
      const keyspaces = new Set(inventory.map((e) => e.relpath.split('/')[0]));
      expect(keyspaces).toContain(keyspace);
      expect(keyspaces).not.toContain(droppedKeyspace);
      expect([...keyspaces].filter((name) => /^system(_|$)/.test(name ?? ''))).toEqual([]);
    },
  );

  it(
    'retakes a snapshot left by a killed attempt and takes the schema from it without cqlsh',
    snapshotTimeout,
    async () => {
      // Arrange
      const backupId = newBackupId();
      await nodetool(`snapshot -t ${backupId} -- ${keyspace}`);

      // Act
      const run = await runHostScript(
        'cassandra-snapshot.sh',
        nodeId,
        snapshotParams(backupId, { clusterName: `${clusterPrefix}-retry`, captureSchema: 'true' }),
        { withoutTools: ['cqlsh'] },
      );

      // Assert
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stderr).toContain(
        `a snapshot tagged ${backupId} is left from an earlier attempt: clearing it first`,
      );
      expect(run.result).toMatchObject({
        schemaSource: 'snapshot',
        schemaKey: `backups/${backupId}/cassandra/schema.cql`,
      });
      const schema = await getText(`backups/${backupId}/cassandra/schema.cql`);
      expect(schema).toMatch(new RegExp(`^-- ${keyspace}/users-[0-9a-f]{32}\n`));
      expect(schema).toContain(`CREATE TABLE IF NOT EXISTS ${keyspace}.users`);
    },
  );

  it('fails on a keyspace that does not exist, naming it, and leaves no snapshot behind', async () => {
    // Arrange
    const backupId = newBackupId();
    const missing = `hs_test_missing_${runId}`;

    // Act
    const run = await runHostScript(
      'cassandra-snapshot.sh',
      nodeId,
      snapshotParams(backupId, { keyspaces: `${keyspace},${missing}` }),
    );

    // Assert
    expect(run.exitCode).not.toBe(0);
    expect(run.resultLines).toBe(0);
    expect(run.lastStderrLine).toMatch(failureLine);
    expect(run.lastStderrLine).toContain(`keyspace '${missing}' does not exist on `);
    expect(run.lastStderrLine).toContain(
      `(no ${cassandraNode.dataDir}/${missing}) — remove it from the keyspaces list or create it`,
    );
    expect(await snapshotTags()).not.toContain(backupId);
    const listed = await vault.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: `backups/${backupId}/` }),
    );
    expect(listed.KeyCount ?? 0).toBe(0);
  });

  it('rejects hostile parameters before running any tool', async () => {
    // Arrange: stubs that record any call of nodetool or aws.
    const stubs = await mkdtemp(join(tmpdir(), 'hs-test-stubs-'));
    const calls = join(stubs, 'calls.log');
    for (const tool of ['nodetool', 'aws', 'cqlsh']) {
      await writeFile(join(stubs, tool), `#!/usr/bin/env bash\necho "${tool} $*" >>'${calls}'\n`);
      await chmod(join(stubs, tool), 0o755);
    }
    const cases: [string, Record<string, string>, RegExp][] = [
      [
        'cassandra-snapshot.sh',
        { keyspaces: 'brig;rm -rf /' },
        /parameter keyspaces is invalid: 'brig;rm -rf \/'/,
      ],
      ['cassandra-snapshot.sh', { keyspaces: '../x' }, /parameter keyspaces is invalid: '\.\.\/x'/],
      [
        'cassandra-snapshot.sh',
        { keyspaces: 'brig\n$(touch /tmp/x)' },
        /parameter keyspaces is invalid: 'brig\?\$\(touch/,
      ],
      [
        'cassandra-snapshot.sh',
        { dataDir: `${cassandraNode.dataDir}/../..` },
        /parameter dataDir is invalid: .* has a '\.\.' segment/,
      ],
      [
        'cassandra-snapshot.sh',
        { previousFilesKey: 'backups/../../etc/passwd' },
        /parameter previousFilesKey is invalid/,
      ],
      ['cassandra-snapshot.sh', { backupId: '20261126T061500Z; reboot' }, /parameter backupId is invalid/],
      ['cassandra-clearsnapshot.sh', { backupId: '*' }, /parameter backupId is invalid: '\*'/],
    ];

    try {
      for (const [script, overrides, message] of cases) {
        // Act
        const run = await runHostScript(script, nodeId, snapshotParams(newBackupId(), overrides), {
          prependPath: [stubs],
        });

        // Assert
        expect(run.exitCode, `${script} ${JSON.stringify(overrides)}`).toBe(1);
        expect(run.lastStderrLine).toMatch(failureLine);
        expect(run.lastStderrLine).toMatch(message);
      }
      const archive = await runHostScript(
        'wire-server-archive.sh',
        deployHostId,
        {
          wireServerPath: '/etc',
          vaultBucket: bucket,
          archiveKey: 'backups/../x.tar.gz',
          compressionLevel: '9',
        },
        { prependPath: [stubs] },
      );
      expect(archive.lastStderrLine).toMatch(
        /parameter archiveKey is invalid: 'backups\/\.\.\/x\.tar\.gz' has a '\.\.' segment/,
      );
      expect(existsSync(calls)).toBe(false);
    } finally {
      await rm(stubs, { recursive: true, force: true });
    }
  });

  it('holds the upload of new files to uploadMaxBandwidthMBps, and says so', snapshotTimeout, async () => {
    // Arrange: 8 MiB of incompressible rows in a keyspace of their own (the differential tests
    // compare this file's main keyspace's SSTable generations).
    const backupId = newBackupId();
    const bulk = `${keyspace}_bw`;
    await cql(
      `CREATE KEYSPACE ${bulk} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};
         CREATE TABLE ${bulk}.assets (id int PRIMARY KEY, body blob) WITH compression = {'enabled': false};`,
    );
    try {
      for (let row = 0; row < 8; row++) {
        const body = randomBytes(2 * 1024 * 1024).toString('hex');
        const file = join(await mkdtemp(join(tmpdir(), 'wire-backup-bw-')), 'row.cql');
        await writeFile(file, `INSERT INTO ${bulk}.assets (id, body) VALUES (${row}, 0x${body});\n`);
        await runWithHostProfile(nodeId, `cqlsh -f ${shellQuote(file)}`);
        await rm(dirname(file), { recursive: true, force: true });
      }
      await nodetool(`flush ${bulk}`);

      // Act
      const run = await runHostScript(
        'cassandra-snapshot.sh',
        nodeId,
        snapshotParams(backupId, { keyspaces: bulk, uploadMaxBandwidthMBps: '1' }),
      );

      // Assert: the upload of ≥ 16 MiB at 1 MB/s takes ≥ 16 s (≥ 12 s allowing the log's whole seconds
      // and the CLI's first burst); without the limit it took 4–5 s here on a loaded machine.
      expect(run.exitCode, run.stderr).toBe(0);
      const newBytes = Number(run.result?.newBytes);
      expect(newBytes).toBeGreaterThan(16 * 1024 * 1024);
      const at = (pattern: RegExp): number => {
        const line = run.stderr.split('\n').find((l) => pattern.test(l));
        expect(line, `no log line ${pattern} in:\n${run.stderr}`).toBeDefined();
        return Date.parse((line ?? '').split(' ')[0] ?? '');
      };
      const started = at(
        / uploading \d+ new file\(s\) .* at most 1 MB\/s \(cassandra\.uploadMaxBandwidthMBps\)$/,
      );
      const ended = at(/ uploaded \d+ file\(s\)$/);
      expect((ended - started) / 1000).toBeGreaterThanOrEqual(Math.floor((0.75 * newBytes) / (1024 * 1024)));
    } finally {
      await cql(`DROP KEYSPACE IF EXISTS ${bulk}`).catch(() => undefined);
      await removeDroppedKeyspaceDir(bulk);
    }
  });

  it('clears a snapshot and its staging directory, and clears again without error', async () => {
    // Arrange
    const backupId = newBackupId();
    await nodetool(`snapshot -t ${backupId} -- ${keyspace}`);
    const staging = join(dirname(cassandraNode.dataDir), 'wire-backup-staging', backupId);
    await mkdir(join(staging, keyspace), { recursive: true });
    await writeFile(join(staging, keyspace, 'leftover.db'), 'x');
    expect(await snapshotTags()).toContain(backupId);
    const params = { backupId, dataDir: cassandraNode.dataDir };

    // Act
    const run = await runHostScript('cassandra-clearsnapshot.sh', nodeId, params);
    const again = await runHostScript('cassandra-clearsnapshot.sh', nodeId, params);

    // Assert
    // This file's backup ids lie in 1999, so the clean-up also sweeps (as stale) snapshots earlier
    // tests of the file left; the one it was asked to clear is never among them.
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.result).toMatchObject({ cleared: true, backupId });
    expect(run.result?.staleCleared).not.toContain(backupId);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.result).toEqual({ cleared: true, backupId, staleCleared: [] });
    expect(await snapshotTags()).not.toContain(backupId);
    expect(existsSync(staging)).toBe(false);
  });

  it(
    'makes a clearsnapshot that arrives mid-snapshot wait until the snapshot script has stopped and cleared its snapshot',
    snapshotTimeout,
    async () => {
      // Arrange: a nodetool whose `snapshot` announces itself, then takes 3 s before taking the snapshot.
      const backupId = newBackupId();
      const realNodetool = (await runWithHostProfile(nodeId, 'command -v nodetool')).stdout.trim();
      const stubs = await mkdtemp(join(tmpdir(), 'hs-test-slow-nodetool-'));
      const started = join(stubs, 'snapshot-started');
      await writeFile(
        join(stubs, 'nodetool'),
        `#!/usr/bin/env bash
if [[ $1 == snapshot ]]; then : >${shellQuote(started)}; sleep 3; fi
exec ${shellQuote(realNodetool)} "$@"
`,
      );
      await chmod(join(stubs, 'nodetool'), 0o755);
      try {
        let snapshotEnded = false;
        const snapshotRun = runHostScript('cassandra-snapshot.sh', nodeId, snapshotParams(backupId), {
          prependPath: [stubs],
        }).finally(() => {
          snapshotEnded = true;
        });
        while (!existsSync(started) && !snapshotEnded) await new Promise((r) => setTimeout(r, 100));

        // Act
        const clear = await runHostScript('cassandra-clearsnapshot.sh', nodeId, {
          backupId,
          dataDir: cassandraNode.dataDir,
        });

        // Assert: when clearsnapshot returns, the snapshot script has stopped and left no snapshot.
        expect(clear.exitCode, clear.stderr).toBe(0);
        expect(clear.stderr).toContain(`a snapshot script of ${backupId} is still running`);
        expect(snapshotEnded).toBe(true);
        expect(await snapshotTags()).not.toContain(backupId);
        const snapshot = await snapshotRun;
        expect(snapshot.exitCode).not.toBe(0);
        expect(snapshot.resultLines).toBe(0);
        expect(snapshot.lastStderrLine).toContain(`backup ${backupId} was ended while this script ran`);
        const listed = await vault.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: `backups/${backupId}/` }),
        );
        expect(listed.KeyCount ?? 0).toBe(0);
      } finally {
        await rm(stubs, { recursive: true, force: true });
      }
    },
  );

  it('counts the rows of the tables a counts file names, and fails naming a table the cluster lacks', async () => {
    // Arrange
    const backupId = newBackupId();
    const countsKey = `backups/${backupId}/cassandra/row-counts.tsv`;
    const outputKey = `backups/${backupId}/restore-row-counts.tsv`;
    const header = '# keyspace\ttable\trows\tdefault_time_to_live\n';
    // A table of its own: other tests of this file add rows to users.
    await cql(
      `CREATE TABLE IF NOT EXISTS ${keyspace}.counted (id int PRIMARY KEY);
       INSERT INTO ${keyspace}.counted (id) VALUES (1);
       INSERT INTO ${keyspace}.counted (id) VALUES (2);
       INSERT INTO ${keyspace}.counted (id) VALUES (3);`,
    );
    await vault.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: countsKey,
        Body: `${header}${keyspace}\tcounted\t99\t0\n`,
      }),
    );
    const params = { vaultBucket: bucket, countsKey, keyspaces: '', outputKey, consistency: 'QUORUM' };

    // Act
    const run = await runHostScript('cassandra-count-rows.sh', nodeId, params);
    await vault.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: countsKey,
        Body: `${header}${keyspace}\tcounted\t3\t0\n${keyspace}\tno_such_table\t1\t0\n`,
      }),
    );
    const missing = await runHostScript('cassandra-count-rows.sh', nodeId, {
      ...params,
      outputKey: `${outputKey}.2`,
    });
    const filtered = await runHostScript('cassandra-count-rows.sh', nodeId, {
      ...params,
      keyspaces: 'brig_not_here',
      outputKey: `${outputKey}.3`,
    });

    // Assert
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.result).toEqual({ tables: 1, rows: 3, countsKey: outputKey });
    expect(await getText(outputKey)).toBe(`${header}${keyspace}\tcounted\t3\t0\n`);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.lastStderrLine).toMatch(failureLine);
    expect(missing.lastStderrLine).toContain(
      `cannot count the rows of ${keyspace}.no_such_table at consistency QUORUM`,
    );
    expect(filtered.exitCode, filtered.stderr).toBe(0);
    expect(filtered.result).toEqual({ tables: 0, rows: 0, countsKey: `${outputKey}.3` });
  });

  it('streams the wire-server folder as a gzip’d tar whose sha256 and size match the result', async () => {
    // Arrange
    const parent = await mkdtemp(join(tmpdir(), 'hs-test-deploy-'));
    const folder = join(parent, 'wire-server');
    await mkdir(join(folder, 'values', 'wire-server'), { recursive: true });
    await writeFile(join(folder, 'values', 'wire-server', 'values.yaml'), 'brig:\n  replicaCount: 3\n');
    await writeFile(join(folder, 'values', 'wire-server', 'secrets.yaml'), 'brig:\n  secrets: {}\n');
    await writeFile(
      join(folder, 'binary.bin'),
      Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256)),
    );
    const backupId = newBackupId();
    const archiveKey = `backups/${backupId}/wire-server.tar.gz`;

    try {
      // Act
      const run = await runHostScript('wire-server-archive.sh', deployHostId, {
        wireServerPath: folder,
        vaultBucket: bucket,
        archiveKey,
        // The archive's own key (the local vault has no KMS: the host's aws drops the SSE options there).
        kmsKeyArn: rules.kmsKeyArn.example,
        compressionLevel: '6',
      });

      // Assert
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.resultLines).toBe(1);
      const body = await getObject(archiveKey);
      expect(run.result).toEqual({
        key: archiveKey,
        bytes: body.length,
        sha256: createHash('sha256').update(body).digest('hex'),
        rootEntry: basename(folder),
      });
      const names: string[] = [];
      const tar = extract();
      tar.on('entry', (header, stream, next) => {
        names.push(header.name);
        stream.on('end', next);
        stream.resume();
      });
      await new Promise<void>((resolve, reject) => {
        tar.on('finish', resolve);
        tar.on('error', reject);
        tar.end(gunzipSync(body));
      });
      expect(names).toEqual(
        expect.arrayContaining([
          'wire-server/',
          'wire-server/values/wire-server/values.yaml',
          'wire-server/values/wire-server/secrets.yaml',
          'wire-server/binary.bin',
        ]),
      );
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});

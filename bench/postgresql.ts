/**
 * `npm run bench -- postgresql`: PostgreSQL base backups side by side, every tool in the same run on
 * the same data (issue 14). `BENCH_PG_SIZE` (default `1GiB`) of Wire-shaped galley tables
 * (conversations, members, remote members, codes, subconversations, team features), generated with
 * `generate_series` in chunks of 50,000 conversations, the same chunks on every server.
 *
 * a. PostgreSQL 17, the local stack's streaming standby: wire-backup's `postgresql-backup.sh`, run alone
 *    under bash as synth inlines it into its SSM document, with the host profile (not through the state
 *    machine), vs `pg_basebackup -Ft -z` + `aws s3 cp`; Debian's pg_basebackup is 15, which refuses a 17
 *    server: the run says so instead of a row. The data goes to a database `wire-server-bench`, dropped
 *    afterwards (`BENCH_PG_KEEP=1` keeps it), so the stack's own tests do not back up a GiB more.
 * b. PostgreSQL 15 from Debian (`bench:setup` installs it), started here as the postgres OS user on
 *    `BENCH_PG15_PORT` (default: the stack's PostgreSQL port + 10; + 2 and + 3 for the restored servers), data under the stack dir: wire-backup's script
 *    (the same one: it works on 15) vs `pg_basebackup -Ft -z` + `aws s3 cp` vs pgBackRest 2.45 full;
 *    then a small change and the second run of each: wire-backup takes a full base backup every run (the
 *    archived WAL is its increment, listed apart), pgBackRest a differential.
 *
 * pgBackRest's repository is type s3 on a second MinIO (same binary) serving TLS on
 * `BENCH_PGBACKREST_S3_PORT` (default: the vault's port + 3): pgBackRest 2.45 speaks S3 only over
 * HTTPS and the local vault serves HTTP. Each tool archives WAL with its own archive_command
 * (switched with ALTER SYSTEM before its runs). Per row: wall seconds, peak RSS of the tool's largest
 * process, CPU seconds of the tool (user + system, children included) plus the server's (postmaster and
 * its processes: walsender, archiver and its archive_command), MiB written to the vault/repository.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { createSourceS3Client } from '../functions/core/clients.js';
import {
  postgresqlBackupPrefix,
  postgresqlBaseKey,
  postgresqlLabelKey,
  postgresqlRowCountsKey,
  postgresqlWalPrefix,
} from '../functions/core/vault-layout.js';
import { writeLocalSecrets } from '../local/local-config.js';
import { postgresSchemaSql } from '../local/seed/postgres.js';
import { readStackInfo, repoRoot, type StackInfo } from '../local/stack-info.js';
import { runHostScript } from '../test/support/host-script.js';
import { startTlsMinio, type TlsMinio } from '../test/support/tls-minio.js';
import { type BenchRow, parseTimeReport, timedCommand } from './table.js';

const MiB = 2 ** 20;
const chunkConversations = 50_000;
const pg15Bin = '/usr/lib/postgresql/15/bin';
const benchDatabase17 = 'wire-server-bench';
const say = (message: string) => console.error(`bench postgresql: ${message}`);

/** A PostgreSQL server the benchmark talks to as superuser over its socket (peer auth, postgres OS user). */
interface Server {
  readonly label: string;
  readonly port: number;
  readonly socketDir: string;
  readonly dataDir: string;
  readonly database: string;
}

function sizeBytes(size: string): number {
  const match = /^(\d+(?:\.\d+)?)(MiB|GiB)$/.exec(size);
  if (!match) throw new Error(`BENCH_PG_SIZE '${size}': use <N>MiB or <N>GiB (for example 512MiB)`);
  return Number(match[1]) * (match[2] === 'GiB' ? 1024 : 1) * MiB;
}

/** psql as the postgres OS user over the server's socket; returns stdout (unaligned, tuples only). */
function superPsql(server: Server, sql: string, database = server.database): string {
  const out = spawnSync(
    'runuser',
    ['-u', 'postgres', '--', join(pg15Bin, 'psql'), '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'].concat([
      '-h',
      server.socketDir,
      '-p',
      String(server.port),
      '-d',
      database,
    ]),
    { input: sql, encoding: 'utf8', maxBuffer: 64 * MiB },
  );
  if (out.status !== 0) {
    throw new Error(
      `psql on ${server.label} (port ${server.port}, ${database}) failed: ${out.stderr.trim()}`,
    );
  }
  return out.stdout.trim();
}

const asPostgres = (args: readonly string[]) =>
  execFileSync('runuser', ['-u', 'postgres', '--', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });

/** uid and gid of the postgres OS user. */
const postgresIds = (): [number, number] => [
  Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
  Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
];

/** CPU seconds the server spent so far: postmaster and its processes, those it reaped included. */
function serverCpuSeconds(dataDirs: readonly string[]): number {
  const tick = 100; // CLK_TCK on Linux
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after "(comm)": state ppid … utime(14) stime(15) cutime(16) cstime(17), counted from 1.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
    stats.set(Number(entry), { ppid: Number(fields[1]), ticks });
  }
  let total = 0;
  for (const dir of dataDirs) {
    const pid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    for (const [p, s] of stats) if (p === pid || s.ppid === pid) total += s.ticks;
  }
  return total / tick;
}

/** Every object under `prefix`, key → size. */
async function listSizes(client: S3Client, bucket: string, prefix: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) if (o.Key) sizes.set(o.Key, o.Size ?? 0);
    token = page.NextContinuationToken;
  } while (token);
  return sizes;
}

/** Bytes of the objects in `after` that `before` did not have (or had with another size). */
function newBytes(before: Map<string, number>, after: Map<string, number>): number {
  let total = 0;
  for (const [key, size] of after) if (before.get(key) !== size) total += size;
  return total;
}

// --- data -------------------------------------------------------------------------------------------

/**
 * One transaction: conversations [lo, hi] with their members, remote members, codes, subconversations
 * and teams, then `tail` (the bookkeeping of who wrote it).
 */
function chunkSql(lo: number, hi: number, tail: string): string {
  const range = `generate_series(${lo}, ${hi}) i`;
  const conv = `md5('conv' || i)::uuid`;
  return `BEGIN;
INSERT INTO conversation SELECT ${conv}, i % 4, 'Conversation ' || i || ' ✓', md5('user' || (i % 100003))::uuid,
  md5('team' || (i / 50))::uuid, '{1,2}', '{0,1,2}', CASE WHEN i % 3 = 0 THEN 2 ELSE 0 END, i % 2,
  CASE WHEN i % 5 = 0 THEN 86400000 END, CASE WHEN i % 3 = 0 THEN 1 END, CASE WHEN i % 3 = 0 THEN i END,
  CASE WHEN i % 3 = 0 THEN timestamptz '2026-11-01 00:00Z' + i * interval '1 second' END,
  CASE WHEN i % 3 = 0 THEN decode(md5('group' || i) || md5('g2' || i), 'hex') END, NULL FROM ${range};
INSERT INTO conversation_member SELECT ${conv}, md5('user' || ((i + m) % 100003))::uuid,
  CASE WHEN m = 0 THEN 'wire_admin' ELSE 'wire_member' END, m = 3, false, m % 2, NULL
  FROM ${range}, generate_series(0, 4) m WHERE m < 2 + i % 4;
INSERT INTO local_conversation_remote_member SELECT ${conv}, 'remote.example.com', md5('remote' || i)::uuid,
  'wire_member' FROM ${range} WHERE i % 7 = 0;
INSERT INTO conversation_codes SELECT 'code-' || i, ${conv}, left(md5('key' || i), 20), NULL,
  timestamptz '2027-01-01 00:00Z' FROM ${range} WHERE i % 5 = 0;
INSERT INTO subconversation SELECT ${conv}, 'conference', 1, i, timestamptz '2026-11-20 12:00Z',
  decode(md5('sub' || i), 'hex') FROM ${range} WHERE i % 6 = 0;
INSERT INTO team_features SELECT md5('team' || t)::uuid, f, t % 2, 0,
  jsonb_build_object('enforced', t % 2 = 0, 'feature', f)
  FROM generate_series(${Math.floor(lo / 50)}, ${Math.floor(hi / 50)}) t,
  unnest(ARRAY['legalhold', 'sso', 'fileSharing', 'mls', 'conversationGuestLinks']) f ON CONFLICT DO NOTHING;
${tail}
COMMIT;`;
}

/**
 * Fills `server.database` with chunks until it holds `chunks` of them, or (chunks undefined) until it
 * is `targetBytes` large. Chunks already there are kept (a second run reuses PostgreSQL 15's data).
 * Returns the number of chunks and the database size.
 */
function fillDatabase(
  server: Server,
  want: { chunks?: number; targetBytes: number },
): { chunks: number; bytes: number } {
  superPsql(
    server,
    `${postgresSchemaSql}\nCREATE TABLE IF NOT EXISTS bench_chunks (lo integer PRIMARY KEY);\nCREATE TABLE IF NOT EXISTS bench_changes (lo integer PRIMARY KEY);`,
  );
  const size = () => Number(superPsql(server, 'SELECT pg_database_size(current_database())'));
  let chunks = Number(superPsql(server, 'SELECT count(*) FROM bench_chunks'));
  for (;;) {
    const done = want.chunks !== undefined ? chunks >= want.chunks : size() >= want.targetBytes;
    if (done) break;
    const lo = chunks * chunkConversations + 1;
    superPsql(server, chunkSql(lo, lo + chunkConversations - 1, `INSERT INTO bench_chunks VALUES (${lo});`));
    chunks += 1;
    say(`${server.label}: chunk ${chunks} written, database ${(size() / MiB).toFixed(0)} MiB`);
  }
  superPsql(server, 'CHECKPOINT; VACUUM ANALYZE;');
  return { chunks, bytes: size() };
}

/**
 * The small change between the first and second runs: 5,000 new conversations (a new range each run,
 * so that a second bench run on the kept PostgreSQL 15 data changes as much), 1/4,096 of the rest renamed.
 */
function changeData(server: Server): void {
  const lo = 100_000_000 + 5_000 * Number(superPsql(server, 'SELECT count(*) FROM bench_changes'));
  superPsql(
    server,
    chunkSql(
      lo,
      lo + 4_999,
      `INSERT INTO bench_changes VALUES (${lo});\nUPDATE conversation SET name = name || ' (renamed)' WHERE id::text LIKE '000%';`,
    ),
  );
}

/** Waits until the server has no WAL segment left to archive (and, for a primary with a standby, replayed). */
async function waitArchived(server: Server, standby?: Server): Promise<void> {
  const deadline = Date.now() + 45 * 60_000;
  // One switch: the segment being written is closed and queued; then wait for the queue to empty.
  superPsql(server, 'SELECT pg_switch_wal()');
  for (;;) {
    const ready = Number(
      superPsql(server, `SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'`),
    );
    const lag = standby
      ? Number(
          superPsql(
            server,
            'SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0) FROM pg_stat_replication',
          ),
        )
      : 0;
    if (ready === 0 && lag < MiB) return;
    if (Date.now() > deadline)
      throw new Error(`${server.label}: ${ready} WAL segments still not archived after 45 min`);
    say(
      `${server.label}: waiting for the archiver (${ready} segments to go)${standby ? `, standby ${(lag / MiB).toFixed(0)} MiB behind` : ''}`,
    );
    await new Promise((r) => setTimeout(r, 10_000));
  }
}

// --- PostgreSQL 15 --------------------------------------------------------------------------------

/** Starts (initialising the first time) the PostgreSQL 15 server, with Wire's database and roles. */
function startPostgres15(stack: StackInfo, dir: string, port: number): Server {
  const server: Server = {
    label: 'postgresql-15',
    port,
    socketDir: join(dir, 'run'),
    dataDir: join(dir, 'data'),
    database: stack.postgresql.database,
  };
  if (!existsSync(join(pg15Bin, 'postgres'))) {
    throw new Error(
      `${pg15Bin}/postgres not found: run 'npm run bench:setup -- postgresql' (apt-get install postgresql-15)`,
    );
  }
  mkdirSync(server.socketDir, { recursive: true });
  chmodSync(dir, 0o755);
  const [uid, gid] = postgresIds();
  for (const path of [dir, server.socketDir]) chownSync(path, uid, gid);
  const fresh = !existsSync(join(server.dataDir, 'PG_VERSION'));
  if (fresh) {
    say(`initdb ${server.dataDir} (PostgreSQL 15, data checksums)`);
    asPostgres([
      join(pg15Bin, 'initdb'),
      '-D',
      server.dataDir,
      '-U',
      'postgres',
      '-E',
      'UTF8',
      '--locale=C',
      '--data-checksums',
      '--auth-local=peer',
      '--auth-host=scram-sha-256',
    ]);
    const hba = join(server.dataDir, 'pg_hba.conf');
    writeFileSync(hba, `${readFileSync(hba, 'utf8')}\nhost replication all 127.0.0.1/32 scram-sha-256\n`);
    writeFileSync(
      join(server.dataDir, 'postgresql.conf'),
      `${readFileSync(join(server.dataDir, 'postgresql.conf'), 'utf8')}
# wire-backup bench (bench/postgresql.ts): settings as the local stack's PostgreSQL 17 has them
listen_addresses = '127.0.0.1'
port = ${port}
unix_socket_directories = '${server.socketDir}'
shared_buffers = 64MB
max_connections = 40
wal_level = replica
max_wal_senders = 6
archive_mode = on
archive_command = '/bin/true'
archive_timeout = 60
`,
    );
  }
  const running = spawnSync(
    'runuser',
    ['-u', 'postgres', '--', join(pg15Bin, 'pg_ctl'), '-D', server.dataDir, 'status'],
    { stdio: 'ignore' },
  );
  if (running.status !== 0) {
    asPostgres([
      join(pg15Bin, 'pg_ctl'),
      '-D',
      server.dataDir,
      '-l',
      join(dir, 'postgres.log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);
    say(`postgresql-15 up on 127.0.0.1:${port} (log ${join(dir, 'postgres.log')})`);
  }
  if (fresh) {
    const pg = stack.postgresql;
    superPsql(
      server,
      `CREATE ROLE "${pg.owner}" LOGIN PASSWORD '${pg.ownerPassword}';
CREATE DATABASE "${pg.database}" OWNER "${pg.owner}";
CREATE ROLE "${pg.backupUser}" LOGIN REPLICATION PASSWORD '${pg.backupPassword}' IN ROLE pg_read_all_data, pg_monitor, pg_checkpoint;`,
      'postgres',
    );
    grantBackupRole(stack, server);
  }
  return server;
}

/** The grants README "PostgreSQL" lists for wire-backup's role, in `server.database`. */
function grantBackupRole(stack: StackInfo, server: Server): void {
  const user = stack.postgresql.backupUser;
  superPsql(
    server,
    `ALTER SCHEMA public OWNER TO "${stack.postgresql.owner}";
GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean) TO "${user}";
GRANT EXECUTE ON FUNCTION pg_backup_stop(boolean) TO "${user}";
GRANT EXECUTE ON FUNCTION pg_switch_wal() TO "${user}";`,
  );
}

/** Back to the archive_command of the server's configuration files (the stack's: wire-backup's). */
function resetArchiveCommand(server: Server): void {
  superPsql(server, 'ALTER SYSTEM RESET archive_command; SELECT pg_reload_conf();', 'postgres');
}

function setArchiveCommand(server: Server, command: string): void {
  superPsql(
    server,
    `ALTER SYSTEM SET archive_command = '${command.replace(/'/g, "''")}'; SELECT pg_reload_conf();`,
    'postgres',
  );
}

// --- the tools ------------------------------------------------------------------------------------

interface Vault {
  readonly client: S3Client;
  readonly bucket: string;
}

/** Where the host scripts' stderr (their timestamped log lines) is kept: `<stack>/bench-postgresql/logs`. */
let logDir = tmpdir();
function keepLog(name: string, text: string): void {
  writeFileSync(join(logDir, `${name}.log`), text);
}

let lastBackupSecond = 0;
/** A backup id (UTC second), one second after the previous one at least. */
async function nextBackupId(): Promise<string> {
  while (Math.floor(Date.now() / 1000) <= lastBackupSecond) await new Promise((r) => setTimeout(r, 200));
  lastBackupSecond = Math.floor(Date.now() / 1000);
  return new Date(lastBackupSecond * 1000)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** wire-backup's base backup script on `server`, as the SSM document runs it on `instanceId`. */
async function wireBackupRun(
  stack: StackInfo,
  vault: Vault,
  target: {
    instanceId: string;
    server: Server;
    primary: Server;
    walPrefix: string;
    serverDirs: readonly string[];
  },
  work: string,
  note: string,
): Promise<{ row: BenchRow; result: Record<string, unknown> }> {
  const backupId = await nextBackupId();
  const walBefore = await listSizes(vault.client, vault.bucket, target.walPrefix);
  const cpuBefore = serverCpuSeconds(target.serverDirs);
  const report = join(logDir, `bench-pg-${backupId}.time`);
  const run = await runHostScript(
    'postgresql-backup.sh',
    target.instanceId,
    {
      backupId,
      vaultBucket: vault.bucket,
      baseKey: postgresqlBaseKey(backupId),
      labelKey: postgresqlLabelKey(backupId),
      rowCountsKey: postgresqlRowCountsKey(backupId),
      walPrefix: target.walPrefix,
      secretName: stack.postgresql.secretName,
      database: target.server.database,
      host: '127.0.0.1',
      port: String(target.server.port),
      dataDir: target.server.dataDir,
      primaryHost: '127.0.0.1',
      primaryPort: String(target.primary.port),
      walWaitSeconds: '600',
    },
    { timeoutMs: 3_600_000, timeReportFile: report },
  );
  if (run.exitCode !== 0 || !run.result) {
    throw new Error(
      `wire-backup's postgresql-backup.sh on ${target.server.label} failed: ${run.lastStderrLine}`,
    );
  }
  keepLog(`backup-${backupId}`, run.stderr);
  const serverCpu = serverCpuSeconds(target.serverDirs) - cpuBefore;
  const time = parseTimeReport(readFileSync(report, 'utf8'));
  const base = newBytes(
    new Map(),
    await listSizes(vault.client, vault.bucket, postgresqlBackupPrefix(backupId)),
  );
  const wal = newBytes(walBefore, await listSizes(vault.client, vault.bucket, target.walPrefix));
  const row: BenchRow = {
    work,
    tool: 'wire-backup postgresql-backup.sh',
    seconds: time.seconds,
    peakRssMiB: time.peakRssMiB,
    cpuSeconds: time.cpuSeconds + serverCpu,
    sentMiB: (base + wal) / MiB,
    rate: `${(base / MiB / time.seconds).toFixed(1)} MiB/s`,
    reference: true,
    note: `${note}; base ${(base / MiB).toFixed(1)} MiB + WAL ${(wal / MiB).toFixed(1)} MiB; server CPU ${serverCpu.toFixed(1)} s incl.`,
  };
  return { row, result: run.result };
}

/**
 * wire-backup's restore script (to the end of the backup `backup`, into a fresh data directory, row
 * counts verified against the backup's), as the SSM document runs it; the server is stopped afterwards.
 */
async function wireRestoreRun(
  stack: StackInfo,
  vault: Vault,
  backup: Record<string, unknown>,
  walPrefix: string,
  target: { dir: string; port: number },
  work: string,
): Promise<BenchRow> {
  const dataDir = join(target.dir, 'data');
  const report = join(logDir, `bench-pg-restore-${Date.now()}.time`);
  try {
    const run = await runHostScript(
      'postgresql-restore.sh',
      stack.postgresql.primary.instanceId,
      {
        restoreId: `bench-${Date.now()}`,
        vaultBucket: vault.bucket,
        baseKey: String(backup.baseKey),
        baseSha256: String(backup.sha256),
        labelKey: String(backup.labelKey),
        rowCountsKey: String(backup.rowCountsKey),
        walPrefix,
        timeline: String(backup.timeline),
        startWalFile: String(backup.startWalFile),
        countsLsn: String(backup.countsLsn),
        stopTime: String(backup.stopTime),
        targetTime: '',
        dataDir,
        port: String(target.port),
        socketDir: join(target.dir, 'run'),
        osUser: 'postgres',
        binDir: pg15Bin,
        overwrite: 'false',
        archive: 'false',
        checkOnly: 'false',
        verifyRowCounts: 'fail',
      },
      { timeoutMs: 3_600_000, timeReportFile: report },
    );
    if (run.exitCode !== 0)
      throw new Error(`wire-backup's postgresql-restore.sh failed: ${run.lastStderrLine}`);
    keepLog(`restore-${Date.now()}`, run.stderr);
    const time = parseTimeReport(readFileSync(report, 'utf8'));
    const serverCpu = serverCpuSeconds([dataDir]);
    return {
      work,
      tool: 'wire-backup postgresql-restore.sh',
      seconds: time.seconds,
      peakRssMiB: time.peakRssMiB,
      cpuSeconds: time.cpuSeconds + serverCpu,
      reference: true,
      note: `download + gunzip + untar, WAL replay to the end of the backup, promote, every row counted and compared; server CPU ${serverCpu.toFixed(1)} s incl.`,
    };
  } finally {
    stopServer(dataDir);
  }
}

/** Stops the server of `dataDir` if one runs (immediate), and removes the folder above it. */
function stopServer(dataDir: string): void {
  if (existsSync(join(dataDir, 'postmaster.pid'))) {
    spawnSync(
      'runuser',
      ['-u', 'postgres', '--', join(pg15Bin, 'pg_ctl'), '-D', dataDir, '-m', 'immediate', '-w', 'stop'],
      {
        stdio: 'ignore',
      },
    );
  }
  rmSync(dirname(dataDir), { recursive: true, force: true });
}

/** What an operator scripts: `pg_basebackup -Ft -z` (WAL streamed in) to local disk, then `aws s3 cp`. */
async function pgBasebackupRun(
  stack: StackInfo,
  vault: Vault,
  server: Server,
  instanceId: string,
  work: string,
): Promise<BenchRow> {
  const id = await nextBackupId();
  const prefix = `bench/pg_basebackup/${id}/`;
  const envFile = stack.hosts[instanceId]?.envFile ?? '';
  const cpuBefore = serverCpuSeconds([server.dataDir]);
  const script = `set -euo pipefail; . "$1"; out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$2/pg_basebackup" -h 127.0.0.1 -p "$3" -U "$4" -D "$out" -Ft -z -c fast
aws s3 cp --recursive "$out" "s3://$5/$6" --only-show-errors`;
  const time = timedCommand(
    'bash',
    [
      '-c',
      script,
      'bench',
      envFile,
      pg15Bin,
      String(server.port),
      stack.postgresql.backupUser,
      vault.bucket,
      prefix,
    ],
    {
      env: { ...process.env, PGPASSWORD: stack.postgresql.backupPassword },
      reportFile: join(logDir, `bench-pgbb-${id}.time`),
    },
  );
  const serverCpu = serverCpuSeconds([server.dataDir]) - cpuBefore;
  const sent = newBytes(new Map(), await listSizes(vault.client, vault.bucket, prefix));
  return {
    work,
    tool: 'pg_basebackup -Ft -z + aws s3 cp',
    seconds: time.seconds,
    peakRssMiB: time.peakRssMiB,
    cpuSeconds: time.cpuSeconds + serverCpu,
    sentMiB: sent / MiB,
    rate: `${(sent / MiB / time.seconds).toFixed(1)} MiB/s`,
    note: `gzip -6 (pg_basebackup's -z), WAL streamed into pg_wal.tar.gz; server CPU ${serverCpu.toFixed(1)} s incl. (walsender reads the files)`,
  };
}

/** pgBackRest 2.45: configuration file, stanza and its archive_command on `server`. */
interface PgBackRest {
  readonly config: string;
  readonly repo: Vault;
  stop(): Promise<void>;
}

async function setUpPgBackRest(
  stack: StackInfo,
  dir: string,
  server: Server,
  s3Port: number,
): Promise<PgBackRest> {
  const minio = await startTlsMinio(join(stack.cacheDir, 'bin', 'minio'), { port: s3Port });
  try {
    return await configurePgBackRest(dir, server, minio);
  } catch (error) {
    await minio.stop();
    throw error;
  }
}

async function configurePgBackRest(dir: string, server: Server, minio: TlsMinio): Promise<PgBackRest> {
  const s3Port = Number(new URL(minio.endpoint).port);
  const client = createSourceS3Client({
    endpoint: minio.endpoint,
    region: 'us-east-1',
    accessKeyId: minio.accessKey,
    secretAccessKey: minio.secretKey,
    forcePathStyle: true,
    legacyChecksums: false,
    caBundle: minio.caPem,
  });
  const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
  await client.send(new CreateBucketCommand({ Bucket: 'pgbackrest' }));
  const home = join(dir, 'pgbackrest');
  mkdirSync(home, { recursive: true });
  const config = join(home, 'pgbackrest.conf');
  // The repository's keys are in this file (mode 600, owner postgres), never on a command line.
  // TLS unverified: pgBackRest 2.45 matches the certificate against DNS names only, and this MinIO's
  // certificate names 127.0.0.1 (an IP SAN): "unable to find hostname '127.0.0.1' in certificate".
  writeFileSync(
    config,
    `[global]
repo1-type=s3
repo1-s3-endpoint=127.0.0.1
repo1-storage-port=${s3Port}
repo1-storage-verify-tls=n
repo1-s3-bucket=pgbackrest
repo1-s3-region=us-east-1
repo1-s3-uri-style=path
repo1-s3-key=${minio.accessKey}
repo1-s3-key-secret=${minio.secretKey}
repo1-path=/repo
repo1-retention-full=2
start-fast=y
log-level-console=warn
log-level-file=off
lock-path=${home}/lock
spool-path=${home}/spool

[bench]
pg1-path=${server.dataDir}
pg1-port=${server.port}
pg1-socket-path=${server.socketDir}
`,
    { mode: 0o600 },
  );
  const [uid, gid] = postgresIds();
  for (const path of [home, config]) chownSync(path, uid, gid);
  setArchiveCommand(server, `pgbackrest --config=${config} --stanza=bench archive-push %p`);
  asPostgres(['pgbackrest', `--config=${config}`, '--stanza=bench', 'stanza-create']);
  asPostgres(['pgbackrest', `--config=${config}`, '--stanza=bench', 'check']);
  return { config, repo: { client, bucket: 'pgbackrest' }, stop: () => minio.stop() };
}

async function pgBackRestRun(
  pgbr: PgBackRest,
  server: Server,
  type: 'full' | 'diff',
  work: string,
): Promise<BenchRow> {
  const before = await listSizes(pgbr.repo.client, pgbr.repo.bucket, '');
  const cpuBefore = serverCpuSeconds([server.dataDir]);
  const time = timedCommand(
    'runuser',
    [
      '-u',
      'postgres',
      '--',
      'pgbackrest',
      `--config=${pgbr.config}`,
      '--stanza=bench',
      `--type=${type}`,
      'backup',
    ],
    { reportFile: join(logDir, `bench-pgbackrest-${Date.now()}.time`) },
  );
  const serverCpu = serverCpuSeconds([server.dataDir]) - cpuBefore;
  const sent = newBytes(before, await listSizes(pgbr.repo.client, pgbr.repo.bucket, ''));
  return {
    work,
    tool: `pgBackRest 2.45 backup --type=${type}`,
    seconds: time.seconds,
    peakRssMiB: time.peakRssMiB,
    cpuSeconds: time.cpuSeconds + serverCpu,
    sentMiB: sent / MiB,
    rate: `${(sent / MiB / time.seconds).toFixed(1)} MiB/s`,
    note: `repo s3 over TLS (unverified), gz level 6 (default), process-max 1; WAL by archive-push; server CPU ${serverCpu.toFixed(1)} s incl.`,
  };
}

/**
 * pgBackRest's restore of the latest backup into a fresh data directory, then the server started and
 * promoted at the backup's end (`--type=immediate`), as wire-backup's restore does; the server is
 * stopped afterwards. Archiving is off in the restored server (it is not the cluster's primary).
 */
function pgBackRestRestoreRun(
  pgbr: PgBackRest,
  target: { dir: string; port: number },
  work: string,
): BenchRow {
  const dataDir = join(target.dir, 'data');
  mkdirSync(join(target.dir, 'run'), { recursive: true });
  const [uid, gid] = postgresIds();
  for (const path of [target.dir, join(target.dir, 'run')]) chownSync(path, uid, gid);
  const script = `set -euo pipefail
pgbackrest --config="$1" --stanza=bench --pg1-path="$2" --type=immediate --target-action=promote restore
"$3/pg_ctl" -D "$2" -l "$4/postgres.log" -w -t 600 -o "-p $5 -k $4/run -c archive_mode=off" start >/dev/null
until [[ $("$3/psql" -X -A -t -h "$4/run" -p "$5" -d postgres -c 'SELECT pg_is_in_recovery()') == f ]]; do sleep 0.2; done`;
  try {
    const time = timedCommand(
      'runuser',
      [
        '-u',
        'postgres',
        '--',
        'bash',
        '-c',
        script,
        'bench',
        pgbr.config,
        dataDir,
        pg15Bin,
        target.dir,
        String(target.port),
      ],
      { reportFile: join(logDir, `bench-pgbackrest-restore-${Date.now()}.time`) },
    );
    const serverCpu = serverCpuSeconds([dataDir]);
    return {
      work,
      tool: 'pgBackRest 2.45 restore --type=immediate',
      seconds: time.seconds,
      peakRssMiB: time.peakRssMiB,
      cpuSeconds: time.cpuSeconds + serverCpu,
      note: `restore of the latest (diff) backup + WAL replay to its end + promote; nothing verified; server CPU ${serverCpu.toFixed(1)} s incl.`,
    };
  } finally {
    stopServer(dataDir);
  }
}

// --- the run --------------------------------------------------------------------------------------

export async function main(): Promise<{ rows: BenchRow[]; notes: string[] }> {
  const stack = readStackInfo();
  writeLocalSecrets(stack);
  const size = process.env.BENCH_PG_SIZE ?? '1GiB';
  const targetBytes = sizeBytes(size);
  const pg = stack.postgresql;
  const vault: Vault = {
    bucket: stack.vault.bucket,
    client: createSourceS3Client({
      endpoint: stack.vault.endpoint,
      region: stack.vault.region,
      accessKeyId: stack.vault.accessKey,
      secretAccessKey: stack.vault.secretKey,
      forcePathStyle: true,
      legacyChecksums: false,
    }),
  };
  const rows: BenchRow[] = [];
  // Each row is also logged when measured: a later failure does not lose the figures taken before it.
  const add = (row: BenchRow) => {
    rows.push(row);
    say(`measured: ${JSON.stringify(row)}`);
  };
  const notes: string[] = [];
  const dir = join(stack.stackDir, 'bench-postgresql');
  logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });

  // b. PostgreSQL 15: wire-backup vs pg_basebackup vs pgBackRest.
  const pg15 = startPostgres15(
    stack,
    join(dir, 'pg15'),
    Number(process.env.BENCH_PG15_PORT ?? pg.primary.port + 10),
  );
  const filled = fillDatabase(pg15, { targetBytes });
  notes.push(
    `data: ${filled.chunks} chunks of ${chunkConversations.toLocaleString('en')} conversations (BENCH_PG_SIZE=${size}); PostgreSQL 15 database ${(filled.bytes / MiB).toFixed(0)} MiB`,
  );
  // WAL of the load is archived nowhere ('/bin/true'): a base backup needs only the WAL from its start.
  setArchiveCommand(pg15, '/bin/true');
  await waitArchived(pg15);
  // One prefix per cluster (its system identifier): a PostgreSQL 15 made anew by a later run reuses the
  // segment names, and wire-backup's archive_command rightly refuses to overwrite them.
  const systemId = superPsql(pg15, 'SELECT system_identifier FROM pg_control_system()');
  const walPrefix15 = postgresqlWalPrefix(`${stack.clusterName}-bench15-${systemId}`);
  const archiveEnv = join(dir, 'pg15-archive.env');
  const hostEnv = stack.hosts[pg.primary.instanceId]?.envFile ?? '';
  writeFileSync(
    archiveEnv,
    `WIRE_BACKUP_VAULT_BUCKET=${vault.bucket}\nWIRE_BACKUP_WAL_PREFIX=${walPrefix15}\n`,
    { mode: 0o644 },
  );
  const archiver = join(dir, 'pg15-archive-wal');
  writeFileSync(
    archiver,
    `#!/usr/bin/env bash\n# archive_command of the bench's PostgreSQL 15: wire-backup's script with the primary's host profile.\n. ${hostEnv}\nexport WIRE_BACKUP_ARCHIVE_ENV=${archiveEnv}\nexec bash ${join(repoRoot, 'host-scripts', 'postgresql-archive-wal.sh')} "$@"\n`,
    { mode: 0o755 },
  );
  const wireTarget15 = {
    instanceId: pg.primary.instanceId,
    server: pg15,
    primary: pg15,
    walPrefix: walPrefix15,
    serverDirs: [pg15.dataDir],
  };
  const work15 = `PG 15, ${(filled.bytes / MiB).toFixed(0)} MiB: first (full) backup`;
  const work15b = 'PG 15: second run after a small change';
  let pgbr: PgBackRest | undefined;
  try {
    setArchiveCommand(pg15, `${archiver} %p %f`);
    say('PostgreSQL 15: wire-backup base backup…');
    add(
      (await wireBackupRun(stack, vault, wireTarget15, work15, 'run alone under bash with the host profile'))
        .row,
    );
    say('PostgreSQL 15: pg_basebackup -Ft -z + aws s3 cp…');
    add(await pgBasebackupRun(stack, vault, pg15, pg.primary.instanceId, work15));
    say('PostgreSQL 15: pgBackRest full backup…');
    pgbr = await setUpPgBackRest(
      stack,
      dir,
      pg15,
      Number(process.env.BENCH_PGBACKREST_S3_PORT ?? Number(new URL(stack.vault.endpoint).port) + 3),
    );
    add(await pgBackRestRun(pgbr, pg15, 'full', work15));

    say('PostgreSQL 15: a small change, then the second run of each…');
    setArchiveCommand(pg15, `${archiver} %p %f`);
    const walBefore = await listSizes(vault.client, vault.bucket, walPrefix15);
    changeData(pg15);
    await waitArchived(pg15);
    const walOfChange = newBytes(walBefore, await listSizes(vault.client, vault.bucket, walPrefix15));
    notes.push(
      `the change (5,000 conversations added, 1/4,096 renamed): its WAL, archived by wire-backup's archive_command, is ${(walOfChange / MiB).toFixed(1)} MiB in the vault — wire-backup's increment between base backups`,
    );
    const second = await wireBackupRun(
      stack,
      vault,
      wireTarget15,
      work15b,
      'a full base backup every run (WAL is the increment)',
    );
    add(second.row);
    setArchiveCommand(pg15, `pgbackrest --config=${pgbr.config} --stanza=bench archive-push %p`);
    add(await pgBackRestRun(pgbr, pg15, 'diff', work15b));

    if (process.env.BENCH_PG_RESTORE !== '0') {
      const workRestore = 'PG 15: restore of the second backup into a fresh directory';
      say('PostgreSQL 15: wire-backup restore…');
      add(
        await wireRestoreRun(
          stack,
          vault,
          second.result,
          walPrefix15,
          { dir: join(dir, 'restore-wire-backup'), port: pg15.port + 2 },
          workRestore,
        ),
      );
      say('PostgreSQL 15: pgBackRest restore…');
      add(
        pgBackRestRestoreRun(
          pgbr,
          { dir: join(dir, 'restore-pgbackrest'), port: pg15.port + 3 },
          workRestore,
        ),
      );
    }
  } finally {
    setArchiveCommand(pg15, '/bin/true');
    await pgbr?.stop();
    asPostgres([join(pg15Bin, 'pg_ctl'), '-D', pg15.dataDir, '-m', 'fast', '-w', 'stop']);
  }

  // a. PostgreSQL 17 (the stack's standby): wire-backup, and pg_basebackup if the client can.
  const primary17: Server = {
    label: 'postgresql-17 primary',
    port: pg.primary.port,
    socketDir: pg.primary.socketDir,
    dataDir: pg.primary.dataDir,
    database: benchDatabase17,
  };
  const standby17: Server = {
    ...primary17,
    label: 'postgresql-17 standby',
    port: pg.standby.port,
    socketDir: pg.standby.socketDir,
    dataDir: pg.standby.dataDir,
  };
  superPsql(
    primary17,
    `DROP DATABASE IF EXISTS "${benchDatabase17}"; CREATE DATABASE "${benchDatabase17}" OWNER "${pg.owner}";`,
    'postgres',
  );
  try {
    grantBackupRole(stack, primary17);
    // As on 15, the load's WAL is archived nowhere (archiving 1 GiB of it one aws CLI call at a time
    // takes longer than the whole comparison on 2 shared cores); the stack's archive_command is back
    // before the backup. A restore from a base backup older than the bench cannot roll forward across
    // that gap (refused as a WAL gap): take a new backup after the bench.
    setArchiveCommand(primary17, '/bin/true');
    const filled17 = fillDatabase(primary17, { chunks: filled.chunks, targetBytes });
    await waitArchived(primary17, standby17);
    resetArchiveCommand(primary17);
    const work17 = `PG 17 standby, ${(filled17.bytes / MiB).toFixed(0)} MiB: full`;
    say('PostgreSQL 17: wire-backup base backup on the standby…');
    add(
      (
        await wireBackupRun(
          stack,
          vault,
          {
            instanceId: pg.standby.instanceId,
            server: standby17,
            primary: primary17,
            walPrefix: pg.walPrefix,
            serverDirs: [pg.primary.dataDir, pg.standby.dataDir],
          },
          work17,
          'on the streaming standby, run alone under bash with the host profile',
        )
      ).row,
    );
    const probe = spawnSync(
      join(pg15Bin, 'pg_basebackup'),
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(pg.standby.port),
        '-U',
        pg.backupUser,
        '-D',
        join(dir, 'pgbb17'),
        '-Ft',
        '-z',
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, PGPASSWORD: pg.backupPassword },
      },
    );
    notes.push(
      probe.status === 0
        ? 'PostgreSQL 17: pg_basebackup 15 ran (unexpected): measure it'
        : `PostgreSQL 17: no pg_basebackup row — Debian's pg_basebackup ${/\d+\.\d+/.exec(execFileSync(join(pg15Bin, 'pg_basebackup'), ['--version'], { encoding: 'utf8' }))?.[0]} refuses the server: "${probe.stderr.split('\n')[0]?.trim()}" (it must be at least the server's major version; no client 17 is installable here)`,
    );
  } finally {
    resetArchiveCommand(primary17);
    if (process.env.BENCH_PG_KEEP !== '1')
      superPsql(primary17, `DROP DATABASE IF EXISTS "${benchDatabase17}";`, 'postgres');
  }
  return { rows, notes };
}

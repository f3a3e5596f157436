import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  postgresqlBaseKey,
  postgresqlLabelKey,
  postgresqlRowCountsKey,
  postgresqlWalPrefix,
} from '../../functions/core/vault-layout.js';
import { writeLocalSecrets } from '../../local/local-config.js';
import { runPsql } from '../../local/seed/postgres.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { runHostScript, runWithHostProfile } from '../support/host-script.js';

/**
 * What the PostgreSQL host scripts refuse, on real servers: a preflight against a server whose WAL
 * archiving is off, and a restore to a time beyond a gap in the archived WAL (refused before anything
 * is written: the target directory is never created).
 */

/** Runs `argv` as the PostgreSQL OS user; throws with its output on failure. */
function asPostgres(stack: StackInfo, argv: string[]): void {
  const out = spawnSync('runuser', ['-u', stack.postgresql.osUser, '--', ...argv], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`${argv.join(' ')} failed: ${out.stderr}${out.stdout}`);
}

/** The WAL file `n` segments after `name` (16 MiB segments: 256 per log file). */
function walFileAfter(name: string, n: number): string {
  const seg = Number.parseInt(name.slice(8, 16), 16) * 256 + Number.parseInt(name.slice(16, 24), 16) + n;
  const hex = (v: number) => v.toString(16).toUpperCase().padStart(8, '0');
  return `${name.slice(0, 8)}${hex(Math.floor(seg / 256))}${hex(seg % 256)}`;
}

/** Waits until `key` is in the vault (the archiver's upload), up to 90 s. */
async function waitForObject(stack: StackInfo, key: string): Promise<void> {
  await runWithHostProfile(
    stack.postgresql.primary.instanceId,
    `for _ in $(seq 90); do aws s3api head-object --bucket "${stack.vault.bucket}" --key "${key}" >/dev/null 2>&1 && exit 0; sleep 1; done; echo "${key} not archived" >&2; exit 1`,
    { timeoutMs: 120_000 },
  );
}

describe('postgresql refusals', () => {
  let stack: StackInfo;
  const pg = () => stack.postgresql;
  // A port beside the stack's two servers (the PITR test's restored server uses it too, one at a time).
  const scratchPort = () => pg().standby.port + 1;
  let scratch = '';

  beforeAll(() => {
    stack = readStackInfo();
    writeLocalSecrets(stack);
    scratch = mkdtempSync(join(tmpdir(), 'wire-backup-pg-refusals-'));
    spawnSync('chmod', ['755', scratch]);
  });
  afterAll(() => {
    spawnSync('runuser', [
      '-u',
      pg().osUser,
      '--',
      join(pg().binDir, 'pg_ctl'),
      '-D',
      join(scratch, 'data'),
      '-m',
      'immediate',
      'stop',
    ]);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('refuses a backup of a server whose WAL archiving is off, naming the server and the fix', async () => {
    // A real PostgreSQL 17 with archive_mode off (its default), the backup role and Wire's database.
    const data = join(scratch, 'data');
    const run = join(scratch, 'run');
    mkdirSync(run);
    mkdirSync(data, { mode: 0o700 });
    spawnSync('chown', [`${pg().osUser}:`, run, data]);
    asPostgres(stack, [
      join(pg().binDir, 'initdb'),
      '-D',
      data,
      '-U',
      'postgres',
      '--auth-local=peer',
      '--auth-host=scram-sha-256',
    ]);
    writeFileSync(
      join(scratch, 'extra.conf'),
      `port = ${scratchPort()}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${run}'\n`,
    );
    spawnSync('sh', ['-c', `cat "${join(scratch, 'extra.conf')}" >> "${join(data, 'postgresql.conf')}"`]);
    asPostgres(stack, [
      join(pg().binDir, 'pg_ctl'),
      '-D',
      data,
      '-l',
      join(data, 'server.log'),
      '-w',
      'start',
    ]);
    asPostgres(stack, [
      join(pg().clientBinDir, 'psql'),
      '-X',
      '-q',
      '-h',
      run,
      '-p',
      String(scratchPort()),
      '-d',
      'postgres',
      '-c',
      `CREATE ROLE "${pg().backupUser}" LOGIN PASSWORD '${pg().backupPassword}' IN ROLE pg_monitor`,
      '-c',
      `CREATE DATABASE "${pg().database}"`,
    ]);

    const preflight = await runHostScript('postgresql-preflight.sh', pg().primary.instanceId, {
      secretName: pg().secretName,
      database: pg().database,
      primary: `scratch=${pg().primary.instanceId}@127.0.0.1:${scratchPort()}:${data}`,
      standbys: '',
      maxLagBytes: '16777216',
    });

    expect(preflight.exitCode).not.toBe(0);
    expect(preflight.resultLines).toBe(0);
    expect(preflight.lastStderrLine).toMatch(
      /WAL archiving is off on scratch \(archive_mode = off\).*set archive_mode = on/,
    );
    // The password never reaches the output.
    expect(preflight.stderr).not.toContain(pg().backupPassword);
  });

  it('refuses a restore to a time beyond a gap in the archived WAL, naming the missing segment, writing nothing', async () => {
    const backupId = new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    const walPrefix = postgresqlWalPrefix(stack.clusterName);
    const backup = await runHostScript('postgresql-backup.sh', pg().standby.instanceId, {
      backupId,
      vaultBucket: stack.vault.bucket,
      baseKey: postgresqlBaseKey(backupId),
      labelKey: postgresqlLabelKey(backupId),
      rowCountsKey: postgresqlRowCountsKey(backupId),
      walPrefix,
      secretName: pg().secretName,
      database: pg().database,
      host: pg().standby.host,
      port: String(pg().standby.port),
      dataDir: pg().standby.dataDir,
      primaryHost: pg().primary.host,
      primaryPort: String(pg().primary.port),
      walWaitSeconds: '120',
    });
    expect(backup.exitCode, backup.stderr).toBe(0);
    const b = backup.result as Record<string, string | number>;
    // Three more segments written and archived after the backup.
    for (let i = 0; i < 3; i++) {
      runPsql(stack, `CREATE TABLE IF NOT EXISTS gap_marker (n int); INSERT INTO gap_marker VALUES (${i});`);
      runPsql(stack, 'SELECT pg_switch_wal();', { user: pg().backupUser, password: pg().backupPassword });
    }
    const lastWal = walFileAfter(String(b.stopWalFile), 3);
    await waitForObject(stack, `${walPrefix}${lastWal}.gz`);
    // The segment after the backup's start disappears from the vault (kept aside, put back after).
    const missing = walFileAfter(String(b.startWalFile), 1);
    const gapKey = `${walPrefix}${missing}.gz`;
    const vault = `s3://${stack.vault.bucket}`;
    // S3 to S3: its sha256 metadata (the archive command's idempotency check) moves with it.
    const aside = `${vault}/test-aside/${backupId}/${missing}.gz`;
    await runWithHostProfile(
      pg().primary.instanceId,
      `aws s3 mv --only-show-errors "${vault}/${gapKey}" "${aside}"`,
    );
    const target = join(scratch, 'restored', 'data');
    try {
      const restore = await runHostScript('postgresql-restore.sh', pg().primary.instanceId, {
        restoreId: `gap-${Date.now()}`,
        vaultBucket: stack.vault.bucket,
        baseKey: String(b.baseKey),
        baseSha256: String(b.sha256),
        labelKey: String(b.labelKey),
        rowCountsKey: String(b.rowCountsKey),
        walPrefix,
        timeline: String(b.timeline),
        startWalFile: String(b.startWalFile),
        countsLsn: String(b.countsLsn),
        stopTime: String(b.stopTime),
        targetTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        dataDir: target,
        port: String(scratchPort() + 1),
        socketDir: join(scratch, 'restored', 'run'),
        osUser: pg().osUser,
        binDir: pg().binDir,
        overwrite: 'false',
        archive: 'false',
        checkOnly: 'false',
        verifyRowCounts: 'fail',
      });
      // Exit 3: a refusal (RestoreRefusedError in the state machine), not a failed host.
      expect(restore.exitCode, restore.lastStderrLine).toBe(3);
      expect(restore.lastStderrLine).toMatch(
        new RegExp(
          `is past the last archived WAL \\(${String(b.startWalFile)}, archived [^)]*\\) \\(missing ${missing}: a gap in the archive`,
        ),
      );
      expect(existsSync(join(scratch, 'restored'))).toBe(false);
    } finally {
      await runWithHostProfile(
        pg().primary.instanceId,
        `aws s3 mv --only-show-errors "${aside}" "${vault}/${gapKey}"`,
      );
    }
  });
});

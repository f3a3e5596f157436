import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
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
import { runHostScript } from '../support/host-script.js';

/**
 * Point-in-time recovery end to end on the local PostgreSQL 17 cluster, through the real host
 * scripts: base backup on the standby, rows written at t1, t2 and t3 with their WAL archived, a
 * restore into a fresh server to a time between t2 and t3, and a restore refused for a target time
 * past the last archived WAL.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a host script as synth inlines it into its SSM document; returns ok, stderr and the result. */
async function hostScript(instanceId: string, script: string, params: Record<string, string>) {
  const run = await runHostScript(script, instanceId, params, { timeoutMs: 300_000 });
  return { ok: run.exitCode === 0, stderr: run.stderr, result: run.result };
}

describe('postgresql point-in-time recovery', () => {
  let stack: StackInfo;
  const pg = () => stack.postgresql;
  const restoreDir = () => join(stack.stackDir, 'postgresql', 'pitr-restore');
  const stamp = `${Date.now()}`;

  beforeAll(() => {
    stack = readStackInfo();
    writeLocalSecrets(stack);
    runPsql(
      stack,
      'CREATE TABLE IF NOT EXISTS pitr_marker (label text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());',
    );
    rmSync(restoreDir(), { recursive: true, force: true });
  });
  afterAll(() => {
    spawnSync('runuser', [
      '-u',
      pg().osUser,
      '--',
      join(pg().binDir, 'pg_ctl'),
      '-D',
      join(restoreDir(), 'data'),
      '-m',
      'immediate',
      'stop',
    ]);
  });

  it('restores to a time between t2 and t3: rows of t1 and t2, not t3; refuses a time past the archived WAL', async () => {
    const backupId = new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    const walPrefix = postgresqlWalPrefix(stack.clusterName);
    const backup = await hostScript(pg().standby.instanceId, 'postgresql-backup.sh', {
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
    expect(backup.ok, backup.stderr).toBe(true);
    const b = backup.result as Record<string, string | number>;
    expect(b.fromStandby).toBe(true);

    // t1, t2, t3: one committed row each, a second apart; each commit's time is recorded.
    const insert = (label: string) =>
      runPsql(
        stack,
        `INSERT INTO pitr_marker (label) VALUES ('${stamp}-${label}') RETURNING to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');`,
      ).trim();
    insert('t1');
    await sleep(1500);
    const t2 = insert('t2');
    await sleep(2500);
    const t3 = insert('t3');
    // Archive the segment holding t3 (and wait until the vault has it).
    runPsql(stack, 'SELECT pg_switch_wal();', { user: pg().backupUser, password: pg().backupPassword });
    await sleep(6000);
    const between = new Date((Date.parse(t2) + Date.parse(t3)) / 2).toISOString();

    const params = {
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
      dataDir: join(restoreDir(), 'data'),
      port: String(pg().standby.port + 1),
      socketDir: join(restoreDir(), 'run'),
      osUser: pg().osUser,
      binDir: pg().binDir,
      overwrite: 'false',
      checkOnly: 'false',
      verifyRowCounts: 'fail',
    };
    const future = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const refused = await hostScript(pg().primary.instanceId, 'postgresql-restore.sh', {
      ...params,
      restoreId: `pitr-refused-${stamp}`,
      targetTime: future,
    });
    expect(refused.ok).toBe(false);
    expect(refused.stderr).toMatch(/target time .* is past the last archived WAL/);

    const restored = await hostScript(pg().primary.instanceId, 'postgresql-restore.sh', {
      ...params,
      restoreId: `pitr-${stamp}`,
      targetTime: between,
    });
    expect(restored.ok, restored.stderr).toBe(true);
    const labels = runPsql(stack, `SELECT label FROM pitr_marker WHERE label LIKE '${stamp}-%' ORDER BY 1;`, {
      server: { ...pg().primary, name: 'restored', port: pg().standby.port + 1 },
    })
      .split('\n')
      .filter(Boolean);
    expect(labels).toEqual([`${stamp}-t1`, `${stamp}-t2`]);
    process.stderr.write(
      `PITR: t2=${t2} target=${between} t3=${t3} → restored ${labels.join(', ')}; ${JSON.stringify(restored.result)}\n`,
    );
  }, 600_000);
});

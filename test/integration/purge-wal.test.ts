import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgePlanSchema } from '../../functions/core/contract/purge.js';
import { readJson } from '../../functions/core/manifest-io.js';
import { planPurge } from '../../functions/core/purge-plan.js';
import { deleteExpired } from '../../functions/core/purge-run.js';
import { allocateBackupId, postgresqlWalPrefix } from '../../functions/core/vault-layout.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo } from '../../local/stack-info.js';
import { type PutVersion, SyntheticVault } from '../support/synthetic-vault.js';

/**
 * The purge and archived PostgreSQL WAL, against the real vault MinIO: WAL is kept from the start of
 * the oldest kept base backup of its cluster; what lies before it on that timeline or an earlier one
 * goes, history files and later timelines stay, and a WAL folder no kept backup uses is left alone.
 * What must go is decided here from the WAL names, not from the purge's answer.
 */
const HOUR = 3_600_000;
const seg = (timeline: number, n: number) =>
  `${timeline.toString(16).toUpperCase().padStart(8, '0')}00000000${n.toString(16).toUpperCase().padStart(8, '0')}`;

describe('purge of archived PostgreSQL WAL (real vault MinIO)', () => {
  const stack = readStackInfo();
  const s3 = createStackS3Client(stack.vault);
  const bucket = `purge-wal-test-${Date.now().toString(36)}`;
  const vault = new SyntheticVault(s3, bucket);
  const wal = postgresqlWalPrefix('wire');
  const otherWal = postgresqlWalPrefix('retired');
  const deps = { s3, vaultBucket: bucket, now: () => new Date() };
  const settings = {
    retention: { hourly: 1, daily: 0, weekly: 0, monthly: 0, failedDays: 7, graceHours: 0 },
    clockSkewSeconds: 0,
  };
  let mustGo: PutVersion[];
  let mustStay: PutVersion[];
  let expired: string;
  let keptId: string;

  beforeAll(async () => {
    await vault.create();
    const put = (prefix: string, name: string) => vault.put(`${prefix}${name}.gz`, `wal ${name}`);
    // Timeline 1, segments 1..9; timeline 2 from segment 6 (a promotion); history files.
    mustGo = [];
    mustStay = [];
    for (let n = 1; n <= 9; n++) (n < 7 ? mustGo : mustStay).push(await put(wal, seg(1, n)));
    for (let n = 6; n <= 9; n++) mustStay.push(await put(wal, seg(2, n)));
    mustGo.push(await put(wal, `${seg(1, 3)}.00000028.backup`));
    mustStay.push(await put(wal, '00000002.history'));
    // The WAL of a cluster no kept backup uses: never touched.
    for (let n = 1; n <= 3; n++) mustStay.push(await put(otherWal, seg(1, n)));
    // An expired backup (started at segment 3, an hour before) and the kept one (started at segment 7).
    const now = Date.now();
    expired = allocateBackupId(new Date(now - 2 * HOUR));
    keptId = allocateBackupId(new Date(now - 60_000));
    const times = (t: number) => ({
      startedAt: new Date(t).toISOString(),
      completedAt: new Date(t + 30_000).toISOString(),
    });
    await vault.commit(expired, [], {}, times(now - 2 * HOUR), { startWalFile: seg(1, 3), walPrefix: wal });
    await vault.commit(keptId, [], {}, times(now - 60_000), { startWalFile: seg(1, 7), walPrefix: wal });
    // A backup of the retired cluster, expired: its WAL folder has no kept backup.
    const retired = allocateBackupId(new Date(now - 3 * HOUR));
    await vault.commit(retired, [], {}, times(now - 3 * HOUR), {
      startWalFile: seg(1, 2),
      walPrefix: otherWal,
    });
    // LastModified has 1 s resolution: the purge's grace fence (now) must lie after every upload.
    await new Promise((r) => setTimeout(r, 1500));
  }, 120_000);

  afterAll(async () => {
    await vault.destroy();
    s3.destroy();
  }, 120_000);

  it('plans the WAL before the oldest kept backup, with reasons, and deletes exactly that', async () => {
    const dry = await planPurge({ dryRun: true }, settings, deps);
    const plan = await readJson(s3, bucket, dry.planKey, (v) => purgePlanSchema.parse(v));
    expect(plan.backups.find((b) => b.backupId === keptId)?.action).toBe('keep');
    expect(plan.backups.find((b) => b.backupId === expired)?.action).toBe('delete');
    expect(plan.wal).toEqual([{ walPrefix: wal, startWalFile: seg(1, 7), backupId: keptId }]);
    expect(plan.planned.byCategory['postgresql-wal']).toBe(mustGo.length);
    const walLines = plan.sample.filter((l) => l.category === 'postgresql-wal');
    expect(walLines.length).toBeGreaterThan(0);
    for (const l of walLines) expect(l.reason).toContain(`WAL before ${seg(1, 7)}`);

    const run = await planPurge({ dryRun: false }, settings, deps);
    const deleted = await deleteExpired(run.planKey, deps);
    expect(deleted.deleted.byCategory['postgresql-wal']).toBe(mustGo.length);
    const left = new Set((await vault.versions('postgresql/')).map((v) => `${v.key} ${v.versionId}`));
    for (const v of mustGo) expect(left.has(`${v.key} ${v.versionId}`), v.key).toBe(false);
    for (const v of mustStay) expect(left.has(`${v.key} ${v.versionId}`), v.key).toBe(true);
  }, 120_000);
});

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectRetentionCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DeletionLine,
  deletionLineSchema,
  purgePlanSchema,
} from '../../functions/core/contract/purge.js';
import { PurgeConflictError, PurgeRefusedError } from '../../functions/core/errors.js';
import { readJson, readJsonLines } from '../../functions/core/manifest-io.js';
import type { ManifestEntry } from '../../functions/core/minio-layout.js';
import { type PurgeSettings, planPurge } from '../../functions/core/purge-plan.js';
import { deleteExpired, markRestoreRunning, writePurgeReport } from '../../functions/core/purge-run.js';
import {
  allocateBackupId,
  backupPrefix,
  legacyMinioObjectKey,
  manifestKey,
  minioObjectKey,
  vaultPrefixes,
} from '../../functions/core/vault-layout.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo } from '../../local/stack-info.js';
import { type PutVersion, type SyntheticFile, SyntheticVault } from '../support/synthetic-vault.js';

/**
 * The purge against the real vault MinIO (Object Lock on, versioned), over 32 hourly backups that share
 * SSTables (each file reused by three backups, one file by all) and MinIO objects (one carried by all,
 * one changed every hour, one per backup living three backups), two nodes whose host ids are prefixes
 * of each other (`h1`, `h10`: medusa #485), a restore running on an expired backup, an expired backup
 * whose manifest Object Lock holds, failed and abandoned backups, and a backup running during the purge.
 * What must survive is computed here from the model, not from the purge's own answer.
 */

const HOUR = 3_600_000;
const settings: PurgeSettings = {
  // Grace 0 and skew 0: the fence is the running backup's start, a second after the history was written.
  retention: { hourly: 4, daily: 2, weekly: 1, monthly: 1, failedDays: 7, graceHours: 0 },
  clockSkewSeconds: 0,
};
const ref = (v: { key: string; versionId: string }) => `${v.key}\u0000${v.versionId}`;

interface Model {
  /** Complete backups, oldest first, with every version each references. */
  readonly complete: { id: string; refs: PutVersion[] }[];
  readonly restorePinned: string;
  readonly lockedBackup: string;
  readonly oldFailed: string;
  readonly youngFailed: string;
  readonly abandoned: string;
  readonly running: string;
  readonly runningUploads: PutVersion[];
  readonly lockedOrphan: PutVersion;
}

async function buildHistory(
  vault: SyntheticVault,
  now: number,
): Promise<Omit<Model, 'running' | 'runningUploads'>> {
  const count = 32;
  const first = now - (count + 1) * HOUR;
  const ids = Array.from({ length: count }, (_, i) => allocateBackupId(new Date(first + i * HOUR)));
  const shared = await vault.putSstable('h1', 'brig/user-1/nb-1-big-Data.db', 'shared by every backup');
  const carried = await vault.putMinio('assets', 'a', 'carried by every backup');
  const perBackupFile: SyntheticFile[] = [];
  const h10Files: SyntheticFile[] = [];
  const perBackupObject: ManifestEntry[] = [];
  const complete: Model['complete'] = [];
  for (let i = 0; i < count; i++) {
    const id = ids[i] ?? '';
    perBackupFile.push(
      await vault.putSstable('h1', `brig/user-1/nb-${i + 10}-big-Data.db`, `h1 sstable ${i}`),
    );
    // Host h10 (replaced after backup 15) has files with the same names as h1's.
    if (i < 16)
      h10Files.push(await vault.putSstable('h10', `brig/user-1/nb-${i + 10}-big-Data.db`, `h10 ${i}`));
    perBackupObject.push(await vault.putMinio('assets', `c-${i}`, `object of backup ${i}`));
    const changed = await vault.putMinio('assets', 'b', `b as of backup ${i}`);
    const h1 = [shared, ...perBackupFile.slice(Math.max(0, i - 2), i + 1)];
    const h10 = i < 16 ? h10Files.slice(Math.max(0, i - 2), i + 1) : [];
    const objects = [carried, changed, ...perBackupObject.slice(Math.max(0, i - 2), i + 1)];
    const nodes = [{ instanceId: 'mi-00000000000000c01', hostId: 'h1', files: h1 }];
    if (h10.length > 0) nodes.push({ instanceId: 'mi-00000000000000c02', hostId: 'h10', files: h10 });
    const startedAt = new Date(first + i * HOUR).toISOString();
    await vault.commit(
      id,
      nodes,
      { assets: objects },
      {
        startedAt,
        completedAt: new Date(first + i * HOUR + 600_000).toISOString(),
      },
    );
    complete.push({
      id,
      refs: [...h1, ...h10, ...objects.map((o) => ({ ...o, key: minioObjectKey('assets', o.key) }))],
    });
  }
  // Failed 10 days ago (its folder goes), failed 90 minutes ago (kept to diagnose), abandoned 20 h ago.
  const oldFailed = allocateBackupId(new Date(now - 10 * 24 * HOUR));
  await vault.started(oldFailed, new Date(now - 10 * 24 * HOUR).toISOString());
  await vault.putSstable('h1', 'brig/user-1/nb-900-big-Data.db', 'orphan of a failed backup');
  await vault.failed(oldFailed);
  const youngFailed = allocateBackupId(new Date(now - 1.5 * HOUR));
  await vault.started(youngFailed, new Date(now - 1.5 * HOUR).toISOString());
  await vault.failed(youngFailed);
  const abandoned = allocateBackupId(new Date(now - 20 * HOUR - 1000));
  await vault.started(abandoned, new Date(now - 20 * HOUR - 1000).toISOString());
  // An orphan Object Lock holds (reported, never deleted).
  const lockedOrphan = await vault.putSstable('h1', 'brig/user-1/nb-901-big-Data.db', 'locked orphan');
  const lockedBackup = ids[5] ?? '';
  return {
    complete,
    restorePinned: ids[3] ?? '',
    lockedBackup,
    oldFailed,
    youngFailed,
    abandoned,
    lockedOrphan,
  };
}

/** Which complete backups GFS {hourly 4, daily 2, weekly 1, monthly 1} keeps, worked out by hand. */
function keptByRetention(ids: readonly string[]): Set<string> {
  const newestFirst = [...ids].sort().reverse();
  const kept = new Set(newestFirst.slice(0, 4)); // four distinct hours
  const days = [...new Set(newestFirst.map((id) => id.slice(0, 8)))].slice(0, 2);
  for (const day of days) kept.add(newestFirst.find((id) => id.startsWith(day)) ?? '');
  kept.add(newestFirst[0] ?? ''); // weekly #1, monthly #1 and newest are the newest backup
  return kept;
}

async function sha256Of(s3: S3Client, bucket: string, key: string, versionId: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  const hash = createHash('sha256');
  for await (const chunk of out.Body as Readable) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

describe('purge (real vault MinIO)', () => {
  const stack = readStackInfo();
  const s3 = createStackS3Client(stack.vault);
  const bucket = `purge-test-${Date.now().toString(36)}`;
  const vault = new SyntheticVault(s3, bucket);
  let model: Model;
  let before: Set<string>;
  const deps = { s3, vaultBucket: bucket, now: () => new Date() };

  beforeAll(async () => {
    await vault.create();
    const history = await buildHistory(vault, Date.now());
    // Object Lock on one expired backup's manifest and on one orphan (governance, one day).
    const until = new Date(Date.now() + 24 * HOUR);
    const manifestVersions = await vault.versions(manifestKey(history.lockedBackup));
    for (const v of [...manifestVersions, history.lockedOrphan])
      await s3.send(
        new PutObjectRetentionCommand({
          Bucket: bucket,
          Key: v.key,
          VersionId: v.versionId,
          Retention: { Mode: 'GOVERNANCE', RetainUntilDate: until },
        }),
      );
    // A restore of an expired backup is running.
    await markRestoreRunning(s3, bucket, {
      restoreId: allocateBackupId(new Date(Date.now() - 60_000)),
      backupId: history.restorePinned,
      startedAt: new Date(Date.now() - 60_000).toISOString(),
    });
    // A backup starts after the history (LastModified has 1 s resolution) and uploads before its manifest.
    await new Promise((r) => setTimeout(r, 1500));
    const runningStart = new Date();
    const running = allocateBackupId(runningStart);
    await vault.started(running, runningStart.toISOString());
    const runningUploads = [
      await vault.putSstable('h1', 'brig/user-1/nb-999-big-Data.db', 'uploaded by the running backup'),
      await vault.put(minioObjectKey('assets', 'b'), 'b as the running backup copied it'),
    ];
    model = { ...history, running, runningUploads };
    before = new Set((await vault.versions('')).map(ref));
  }, 120_000);

  afterAll(async () => {
    await vault.destroy();
    s3.destroy();
  }, 120_000);

  const kept = () => {
    const ids = keptByRetention(model.complete.map((c) => c.id));
    ids.add(model.restorePinned);
    ids.add(model.lockedBackup);
    return ids;
  };
  const mustSurvive = () => {
    const keep = kept();
    const refs = new Set(model.complete.filter((c) => keep.has(c.id)).flatMap((c) => c.refs.map(ref)));
    for (const v of [...model.runningUploads, model.lockedOrphan]) refs.add(ref(v));
    return refs;
  };

  it('dry run: lists what would go and why, and deletes nothing', async () => {
    const summary = await planPurge({ dryRun: true }, settings, deps);
    const plan = await readJson(s3, bucket, summary.planKey, (v) => purgePlanSchema.parse(v));
    const lines: DeletionLine[] = [];
    for await (const l of readJsonLines(s3, bucket, plan.deletionsKey, {
      parse: (v) => deletionLineSchema.parse(v),
    }))
      lines.push(l);
    expect(plan.dryRun).toBe(true);
    expect(lines).toHaveLength(summary.deletions);
    // Exactly the shared-store versions no kept backup references, plus the expired folders.
    const survive = mustSurvive();
    const stores = [...before].filter(
      (x) => x.startsWith(vaultPrefixes.cassandra) || x.startsWith(vaultPrefixes.minio),
    );
    const expectedObjects = stores.filter((x) => !survive.has(x)).sort();
    const plannedObjects = lines
      .filter((l) => l.category === 'sstable' || l.category === 'minio-object')
      .map(ref)
      .sort();
    expect(plannedObjects).toEqual(expectedObjects);
    expect(plannedObjects.length).toBeGreaterThan(40);
    // Each line says why; a version only expired backups referenced names one of them.
    expect(lines.every((l) => l.reason.length > 10)).toBe(true);
    expect(lines.some((l) => /referenced only by expired backup/.test(l.reason))).toBe(true);
    // Decisions: kept ones say which rule, the locked and pinned ones say so.
    const byId = new Map(plan.backups.map((b) => [b.backupId, b]));
    expect(byId.get(model.lockedBackup)?.action).toBe('locked');
    expect(byId.get(model.restorePinned)?.reason).toMatch(/pinned: restore .* is running/);
    expect(byId.get(model.running)?.status).toBe('running');
    expect(byId.get(model.oldFailed)?.action).toBe('delete');
    expect(byId.get(model.youngFailed)?.action).toBe('keep');
    expect(byId.get(model.abandoned)).toMatchObject({ status: 'abandoned', action: 'keep' });
    expect(plan.locked.examples.map((l) => l.key)).toContain(model.lockedOrphan.key);
    expect(plan.runningBackups).toEqual([
      expect.objectContaining({ backupId: model.running, pins: [model.complete.at(-1)?.id] }),
    ]);
    // Nothing changed but the purge's own files.
    const after = new Set((await vault.versions('')).map(ref));
    expect([...before].filter((x) => !after.has(x))).toEqual([]);
    await expect(deleteExpired(summary.planKey, deps)).rejects.toThrow(PurgeRefusedError);
    const report = await writePurgeReport({ purgeId: summary.purgeId, planKey: summary.planKey }, deps);
    expect(report.status).toBe('dry-run');
  }, 120_000);

  it('refuses to delete when a restore of a doomed backup started after the plan', async () => {
    const summary = await planPurge({}, settings, deps);
    const plan = await readJson(s3, bucket, summary.planKey, (v) => purgePlanSchema.parse(v));
    const doomed = plan.backups.find((b) => b.action === 'delete' && b.status === 'complete');
    expect(doomed).toBeDefined();
    const restoreId = allocateBackupId(new Date(Date.now() + 1000));
    await markRestoreRunning(s3, bucket, {
      restoreId,
      backupId: doomed?.backupId ?? '',
      startedAt: new Date().toISOString(),
    });
    await expect(deleteExpired(summary.planKey, deps)).rejects.toThrow(PurgeConflictError);
    const after = new Set((await vault.versions('')).map(ref));
    expect([...before].filter((x) => !after.has(x))).toEqual([]);
    // The restore ends: its report exists, so it pins nothing any more.
    await vault.put(`${vaultPrefixes.restores}${restoreId}/report.json`, '{}');
  }, 120_000);

  it('deletes exactly what no kept, running or restoring backup references, manifests first', async () => {
    const summary = await planPurge({}, settings, deps);
    const result = await deleteExpired(summary.planKey, deps);
    const report = await writePurgeReport(
      { purgeId: summary.purgeId, planKey: summary.planKey, deleted: result },
      deps,
    );
    expect(report.status).toBe('succeeded');
    expect(result.refusedLocked).toEqual([]);
    expect(result.deleted.versions).toBe(summary.deletions);

    const after = await vault.versions('');
    const stores = after.filter(
      (v) => v.key.startsWith(vaultPrefixes.cassandra) || v.key.startsWith(vaultPrefixes.minio),
    );
    expect(stores.map(ref).sort()).toEqual([...mustSurvive()].sort());

    // Kept backups: manifest there, every referenced version there with the checksum the backup recorded.
    const keep = kept();
    for (const c of model.complete.filter((x) => keep.has(x.id))) {
      expect(after.some((v) => v.key === manifestKey(c.id))).toBe(true);
      for (const r of c.refs) expect(await sha256Of(s3, bucket, r.key, r.versionId)).toBe(r.sha256);
    }
    // Expired backups: nothing of their folder is left; the running and young failed ones are untouched.
    for (const c of model.complete.filter((x) => !keep.has(x.id)))
      expect(after.filter((v) => v.key.startsWith(backupPrefix(c.id)))).toEqual([]);
    expect(after.filter((v) => v.key.startsWith(backupPrefix(model.oldFailed)))).toEqual([]);
    expect(after.some((v) => v.key.startsWith(backupPrefix(model.running)))).toBe(true);
    expect(after.some((v) => v.key.startsWith(backupPrefix(model.youngFailed)))).toBe(true);
    // h10's files that only expired backups used are gone, though h1 (a prefix of h10) is kept.
    expect(stores.filter((v) => v.key.startsWith('cassandra/wire/h10/')).length).toBeLessThan(16);
    expect(stores.filter((v) => v.key.startsWith('cassandra/wire/h10/')).length).toBeGreaterThan(0);
  }, 300_000);

  it('a second purge finds nothing more to delete', async () => {
    const summary = await planPurge({}, settings, deps);
    expect(summary.deletions).toBe(0);
  }, 120_000);
});

describe('purge of a vault with layout-1 MinIO objects (manifest format 1)', () => {
  it('keeps the objects a kept backup references at minio/<bucket>/<key>, deleting only unreferenced ones', async () => {
    const s3 = createStackS3Client(readStackInfo().vault);
    const vault = new SyntheticVault(s3, `purge-layout1-${Date.now().toString(36)}`);
    await vault.create();
    try {
      // A backup written by layout 1: its entry has no vaultKey, its bytes are at the layout-1 key.
      const kept = await vault.put(legacyMinioObjectKey('assets', 'old/1'), 'layout-1 object');
      const orphan = await vault.put(legacyMinioObjectKey('assets', 'old/2'), 'referenced by no backup');
      const entry: ManifestEntry = {
        key: 'old/1',
        size: kept.size,
        sha256: kept.sha256,
        etag: kept.sha256.slice(0, 32),
        versionId: kept.versionId,
        metadata: {},
        lastModified: new Date().toISOString(),
      };
      const at = new Date(Date.now() - 2 * HOUR);
      await vault.commit(
        allocateBackupId(at),
        [],
        { assets: [entry] },
        {
          startedAt: at.toISOString(),
          completedAt: new Date(at.getTime() + 60_000).toISOString(),
        },
      );
      await new Promise((r) => setTimeout(r, 1500));
      const summary = await planPurge({ dryRun: true }, settings, {
        s3,
        vaultBucket: vault.bucket,
        now: () => new Date(),
      });
      const plan = await readJson(s3, vault.bucket, summary.planKey, (v) => purgePlanSchema.parse(v));
      const planned: string[] = [];
      for await (const l of readJsonLines(s3, vault.bucket, plan.deletionsKey, {
        parse: (v) => deletionLineSchema.parse(v),
      }))
        planned.push(ref(l));
      expect(planned).not.toContain(ref(kept));
      expect(planned).toContain(ref(orphan));
    } finally {
      await vault.destroy();
      s3.destroy();
    }
  }, 120_000);
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../cli/list.js';
import { backupTime } from '../../functions/core/retention.js';
import { forEachConcurrent } from '../../functions/core/streams.js';
import { allocateBackupId } from '../../functions/core/vault-layout.js';
import { type LocalSfnApi, startLocalSfnApi } from '../../local/sfn-api.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { runWireBackup } from '../support/cli.js';
import { SyntheticVault } from '../support/synthetic-vault.js';

/**
 * `wire-backup` without --local, run as the operator runs it (bin/wire-backup in its own process),
 * against the deployed-stack path: the real @aws-sdk/client-sfn and client-s3 with their endpoints
 * overridden the standard way (AWS_ENDPOINT_URL_SFN, AWS_ENDPOINT_URL_S3). The Step Functions API is
 * the local one in front of the runner (`local/sfn-api.ts`, the mocked control plane); the vault is
 * the local vault MinIO; executions run the synthesized state machines for real.
 */
describe('wire-backup against a deployed stack', () => {
  let stack: StackInfo;
  let api: LocalSfnApi;
  let outputs: string;
  let s3: S3Client;

  const cli = (args: string[], extraEnv: Record<string, string> = {}) =>
    runWireBackup(stack, args, { AWS_ENDPOINT_URL_SFN: api.endpoint, ...extraEnv });

  beforeAll(async () => {
    stack = readStackInfo();
    s3 = createStackS3Client(stack.vault);
    api = await startLocalSfnApi({ stack });
    const dir = mkdtempSync(join(tmpdir(), 'wire-backup-cli-'));
    outputs = join(dir, 'cdk-outputs.json');
    writeFileSync(
      outputs,
      JSON.stringify({
        WireBackup: {
          VaultBucketName: stack.vault.bucket,
          BackupStateMachineArn: api.stateMachineArn('wire-backup'),
          RestoreStateMachineArn: api.stateMachineArn('wire-restore'),
          PurgeStateMachineArn: api.stateMachineArn('wire-purge'),
        },
      }),
    );
  });
  afterAll(async () => {
    await api?.close();
    s3?.destroy();
  });

  it('refuses to guess where the stack is, naming the fix', async () => {
    const { code, stderr } = await cli(['list']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/VaultBucketName is unknown: pass --outputs cdk-outputs\.json/);
  });

  it('backup: starts the execution, shows progress from its history, prints the summary', async () => {
    const { code, stdout, stderr } = await cli(['backup', '--outputs', outputs, '--poll', '1']);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/started arn:aws:states:.*:execution:wire-backup:/);
    expect(stderr).toMatch(/Prepare/);
    expect(stderr).toMatch(/Commit/);
    expect(stdout).toMatch(/wire-backup: backup \d{8}T\d{6}Z complete/);
  }, 600_000);

  it('list: the newest backup first, from the vault', async () => {
    const { code, stdout } = await cli(['list', '--outputs', outputs]);
    expect(code).toBe(0);
    const ids = [...stdout.matchAll(/^ {2}(\d{8}T\d{6}Z) /gm)].map((m) => m[1]);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids).toEqual([...ids].sort().reverse());
    expect(stdout).toMatch(/complete/);
  });

  it('restore: a dry run of latest with the console input, followed to its report', async () => {
    const { code, stdout, stderr } = await cli([
      'restore',
      '--outputs',
      outputs,
      '--backup-id',
      'latest',
      '--confirm',
      (await cli(['list', '--outputs', outputs, '--limit', '1'])).stdout.match(/(\d{8}T\d{6}Z)/)?.[1] ?? '',
      '--dry-run',
      '--components',
      'minio',
      '--bucket',
      `assets=cli-dry-run-${Date.now().toString(36)}`,
      '--poll',
      '1',
    ]);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/Plan Restore/);
    expect(stdout).toMatch(/dry run/i);
  }, 600_000);

  it('purge: a dry run through the purge state machine, then its report from the vault', async () => {
    const run = await cli(['purge', '--outputs', outputs, '--dry-run', '--poll', '1']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/Plan Purge/);
    expect(run.stdout).toMatch(/Purge DRY RUN — nothing was deleted/);
    const report = await cli(['purge', '--outputs', outputs, '--report', '--json']);
    expect(report.code).toBe(0);
    expect(JSON.parse(report.stdout)).toMatchObject({ status: 'dry-run' });
  }, 600_000);

  it('a failed execution exits 1 with its error and cause', async () => {
    const { code, stderr } = await cli([
      'restore',
      '--outputs',
      outputs,
      '--backup-id',
      '20000101T000000Z',
      '--confirm',
      'x',
      '--poll',
      '1',
    ]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/restore FAILED \(BackupNotFoundError\)/);
  }, 600_000);
});

describe('listBackups', () => {
  it('reads every page of backups/ (a vault with more backups than one page)', async () => {
    const stack = readStackInfo();
    const s3 = createStackS3Client(stack.vault);
    const vault = new SyntheticVault(s3, `list-test-${Date.now().toString(36)}`);
    await vault.create();
    try {
      const ids = Array.from({ length: 7 }, (_, i) => allocateBackupId(new Date(Date.UTC(2026, 10, 1, i))));
      for (const id of ids) await vault.started(id, new Date().toISOString());
      const text = await listBackups(s3, vault.bucket, { pageSize: 2 });
      const listed = [...text.matchAll(/^ {2}(\d{8}T\d{6}Z) /gm)].map((m) => m[1]);
      expect(listed).toEqual([...ids].reverse());
      expect(text).toMatch(/^7 backup\(s\)/);
    } finally {
      await vault.destroy();
      s3.destroy();
    }
  });
});

describe('listBackups over 1,001 complete backups', () => {
  it('shows the newest first, past S3’s 1,000-key page', async () => {
    const stack = readStackInfo();
    const s3 = createStackS3Client(stack.vault);
    const vault = new SyntheticVault(s3, `list-1001-${Date.now().toString(36)}`);
    await vault.create();
    try {
      // 1,001 hourly backups, each with its manifest (the store's default page is 1,000 keys).
      const start = Date.UTC(2026, 0, 1);
      const ids = Array.from({ length: 1001 }, (_, i) => allocateBackupId(new Date(start + i * 3_600_000)));
      await forEachConcurrent(ids, 16, async (id) => {
        const at = backupTime(id).toISOString();
        await vault.commit(id, [], {}, { startedAt: at, completedAt: at });
      });
      const text = await listBackups(s3, vault.bucket, { limit: 3 });
      expect(text).toMatch(/^1001 backup\(s\) in .* \(newest first, 3 shown\):/);
      const listed = [...text.matchAll(/^ {2}(\d{8}T\d{6}Z) {2}complete /gm)].map((m) => m[1]);
      expect(listed).toEqual(ids.slice(-3).reverse());
    } finally {
      await vault.destroy();
      s3.destroy();
    }
  }, 600_000);
});

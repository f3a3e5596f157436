import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runDrill } from '../../local/drill.js';
import { repoRoot } from '../../local/stack-info.js';

const wireStack = (...args: string[]) =>
  execFileSync(join(repoRoot, 'local-stack', 'bin', 'wire-stack'), args, {
    stdio: ['ignore', 'inherit', 'inherit'],
  });

/**
 * The DR drill on Cassandra 4.1 (what k8ssandra installs run) and across versions. Slow (a fresh cluster
 * per drill): opt-in with `npm run test:cassandra-4.1`, on a stack of its own
 * (vitest.cassandra-4.1.config.ts), wiped at the end.
 */
describe('Cassandra 4.1', () => {
  afterAll(() => {
    wireStack('wipe');
  });

  it('restores a 4.1 backup into a fresh 4.1 cluster with nodetool import, every row and object equal', async () => {
    const report = await runDrill({ fromVersion: '4.1' });

    expect(report.fromVersion).toMatch(/^4\.1\./);
    expect(report.loaders).toEqual(['import']);
    expect(report.differences).toEqual([]);
  });

  it('restores with the Cassandra 3.11 path forced (files into the live table folder, nodetool refresh)', async () => {
    const report = await runDrill({ fromVersion: '4.1', mode: 'refresh' });

    expect(report.loaders).toEqual(['refresh']);
    expect(report.rowCounts?.missingRows).toEqual([]);
    expect(report.differences).toEqual([]);
  });

  it('restores a 4.1 backup into a fresh 5.0 cluster (the upgrade path)', async () => {
    const report = await runDrill({ fromVersion: '4.1', toVersion: '5.0' });

    expect(report.fromVersion).toMatch(/^4\.1\./);
    expect(report.toVersion).toMatch(/^5\.0\./);
    expect(report.differences).toEqual([]);
  });

  it('refuses to restore a 5.0 backup into 4.1 before anything is written', async () => {
    const drill = runDrill({ fromVersion: '5.0', toVersion: '4.1' });

    await expect(drill).rejects.toThrow(
      /RestoreRefusedError.*taken on Cassandra 5\.0\.\d+ .*runs Cassandra 4\.1\.\d+/,
    );
  });
});

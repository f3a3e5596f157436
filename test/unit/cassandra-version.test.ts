import { describe, expect, it } from 'vitest';
import {
  downgradeRefusal,
  oldestCassandraVersion,
  parseCassandraVersion,
  sameTopologyLoader,
} from '../../functions/core/cassandra-version.js';
import type { RestorePlan, TargetNodeCheck } from '../../functions/core/contract/restore.js';
import { RestoreRefusedError } from '../../functions/core/errors.js';
import { requireCompatibleVersions } from '../../functions/core/restore-checks.js';

const version = (text: string) => {
  const parsed = parseCassandraVersion(text);
  if (!parsed) throw new Error(`not a version: ${text}`);
  return parsed;
};

function cassandraPlan(
  overrides: Partial<NonNullable<RestorePlan['cassandra']>>,
): NonNullable<RestorePlan['cassandra']> {
  return {
    schemaKey: 'backups/20261202T031102Z/cassandra/schema.cql',
    keyspaces: '',
    mode: 'import',
    backupVersion: '4.1.10',
    loadTargets: '127.0.0.1',
    schemaInstanceId: 'mi-00000000000000c01',
    targets: [{ instanceId: 'mi-00000000000000c01', name: 'node1', dataDir: '/data' }],
    nodes: [],
    bytes: 0,
    rowCounts: null,
    ...overrides,
  };
}

const check = (cassandraVersion: string | null, name = 'node1'): TargetNodeCheck => ({
  target: { instanceId: `mi-00000000000000c0${name.slice(-1)}`, name },
  result: { nodetoolStatusB64: '', cassandraVersion },
});

describe('parseCassandraVersion', () => {
  it('reads the releases Wire installations run and pre-releases', () => {
    // Arrange
    const texts = ['3.11.19', '4.1.10', '5.0.9', '5.0-rc1', '4.0.13-SNAPSHOT'];

    // Act
    const parsed = texts.map((t) => parseCassandraVersion(t));

    // Assert
    expect(parsed.map((p) => p && [p.major, p.minor, p.patch])).toEqual([
      [3, 11, 19],
      [4, 1, 10],
      [5, 0, 9],
      [5, 0, 0],
      [4, 0, 13],
    ]);
  });

  it('gives null for what is not a version', () => {
    // Arrange
    const texts = ['', null, undefined, 'ReleaseVersion', 'nodetool: Failed to connect'];

    // Act
    const parsed = texts.map((t) => parseCassandraVersion(t));

    // Assert
    expect(parsed).toEqual([null, null, null, null, null]);
  });
});

describe('oldestCassandraVersion', () => {
  it('records a cluster in the middle of an upgrade by its oldest node', () => {
    // Arrange
    const reported = ['5.0.9', '4.1.10', undefined, '5.0.9'];

    // Act
    const oldest = oldestCassandraVersion(reported);

    // Assert
    expect(oldest?.text).toBe('4.1.10');
  });
});

describe('sameTopologyLoader', () => {
  it('imports from Cassandra 4.0 on and refreshes on 3.x', () => {
    // Arrange
    const versions = ['3.11.19', '4.0.0', '4.1.10', '5.0.9'].map(version);

    // Act
    const loaders = versions.map(sameTopologyLoader);

    // Assert
    expect(loaders).toEqual(['refresh', 'import', 'import', 'import']);
  });
});

describe('downgradeRefusal', () => {
  it('allows the same major version and every upgrade', () => {
    // Arrange
    const pairs = [
      ['4.1.10', '4.1.10'],
      ['4.1.10', '4.0.13'],
      ['3.11.19', '4.1.10'],
      ['4.1.10', '5.0.9'],
      ['3.11.16', '5.0.9'],
    ] as const;

    // Act
    const refusals = pairs.map(([backup, target]) => downgradeRefusal(version(backup), version(target)));

    // Assert
    expect(refusals).toEqual([null, null, null, null, null]);
  });

  it('refuses an older major version, naming both versions and what to do', () => {
    // Arrange
    const backup = version('5.0.9');
    const target = version('4.1.10');

    // Act
    const refusal = downgradeRefusal(backup, target);

    // Assert
    expect(refusal).toMatch(/taken on Cassandra 5\.0\.9 .* target runs Cassandra 4\.1\.10/);
    expect(refusal).toMatch(/Restore into a cluster running Cassandra 5\.x or newer/);
  });
});

describe('requireCompatibleVersions', () => {
  it('reports every target version and loads with import on 4.1 into 5.0', () => {
    // Arrange
    const plan = cassandraPlan({ backupVersion: '4.1.10' });

    // Act
    const result = requireCompatibleVersions(plan, [check('5.0.9')], '20261202T031102Z');

    // Assert
    expect(result).toEqual({
      backupVersion: '4.1.10',
      targetVersions: { 'mi-00000000000000c01': '5.0.9' },
      loader: 'import',
    });
  });

  it('chooses refresh for a same-topology restore when a node reports Cassandra 3.11', () => {
    // Arrange
    const plan = cassandraPlan({ backupVersion: '3.11.19' });

    // Act
    const result = requireCompatibleVersions(plan, [check('3.11.19')], '20261202T031102Z');

    // Assert
    expect(result.loader).toBe('refresh');
  });

  it('keeps a forced refresh and sstableloader as the plan says', () => {
    // Arrange
    const forced = cassandraPlan({ mode: 'refresh' });
    const load = cassandraPlan({ mode: 'load' });

    // Act
    const loaders = [forced, load].map((p) => requireCompatibleVersions(p, [check('4.1.10')], 'x').loader);

    // Assert
    expect(loaders).toEqual(['refresh', 'load']);
  });

  it('refuses a restore of a 5.0 backup into 4.1 before anything is written', () => {
    // Arrange
    const plan = cassandraPlan({ backupVersion: '5.0.9' });

    // Act
    const evaluate = () => requireCompatibleVersions(plan, [check('4.1.10')], '20261202T031102Z');

    // Assert
    expect(evaluate).toThrow(RestoreRefusedError);
    expect(evaluate).toThrow(/backup 20261202T031102Z cannot be restored into node1 .*Nothing was written/);
  });

  it('refuses a target node that reported no version', () => {
    // Arrange
    const plan = cassandraPlan({});

    // Act
    const evaluate = () => requireCompatibleVersions(plan, [check(null)], 'x');

    // Assert
    expect(evaluate).toThrow(/reported no Cassandra version/);
  });

  it('allows a backup whose manifest predates recorded versions', () => {
    // Arrange
    const plan = cassandraPlan({ backupVersion: null });

    // Act
    const result = requireCompatibleVersions(plan, [check('4.1.10')], 'x');

    // Assert
    expect(result).toMatchObject({ backupVersion: null, loader: 'import' });
  });
});

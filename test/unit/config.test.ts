import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../../lib/config.js';
import { projectRoot } from '../../lib/paths.js';

const example = () => loadConfigFile(join(projectRoot, 'config', 'example.json'));

describe('config', () => {
  it('accepts the example three-node installation and applies defaults', () => {
    const config = example();
    expect(config.cassandra.nodes).toHaveLength(3);
    expect(config.minio.multipartThresholdBytes).toBe(16 * 1024 * 1024);
    expect(config.vault.deepVerify).toBe(true);
  });

  it('names every bad field and what it must be', () => {
    const raw = JSON.parse(JSON.stringify(example()));
    raw.cassandra.nodes[1].instanceId = 'host2; rm -rf /';
    raw.cassandra.keyspaces = ['brig', 'system_auth'];
    raw.wireServer.path = '/home/../etc';
    expect(() => parseConfig(raw, 'wire.json')).toThrowError(
      /wire\.json is invalid:[\s\S]*cassandra\.nodes\.1\.instanceId: must be an SSM managed instance id[\s\S]*cassandra\.keyspaces: system keyspaces[\s\S]*wireServer\.path: must not contain a \.\. segment/,
    );
  });

  it('rejects unknown top-level fields so a typo does not silently change a backup', () => {
    const raw = { ...JSON.parse(JSON.stringify(example())), shedule: 'rate(1 hour)' };
    expect(() => parseConfig(raw)).toThrowError(/shedule/);
  });

  it('turns Object Lock on in compliance mode for 30 days unless told otherwise', () => {
    const raw = JSON.parse(JSON.stringify(example()));
    delete raw.vault;
    const config = parseConfig(raw);
    expect(config.vault.objectLockMode).toBe('compliance');
    expect(config.vault.objectLockDays).toBe(30);
  });

  it('refuses an Object Lock retention that makes no sense, naming the field and the fix', () => {
    const withVault = (vault: Record<string, unknown>) => ({
      ...JSON.parse(JSON.stringify(example())),
      vault,
    });
    expect(() => parseConfig(withVault({ objectLockDays: 0 }))).toThrowError(
      /vault\.objectLockDays: must be at least 1 day \(set objectLockMode to off/,
    );
    expect(() => parseConfig(withVault({ objectLockDays: 7.5 }))).toThrowError(
      /vault\.objectLockDays: must be a whole number of days/,
    );
    expect(() => parseConfig(withVault({ objectLockMode: 'legal-hold' }))).toThrowError(
      /vault\.objectLockMode: must be compliance, governance or off/,
    );
    expect(() =>
      parseConfig(
        withVault({ objectLockDays: 60, retention: { hourly: 24, daily: 14, weekly: 4, monthly: 0 } }),
      ),
    ).toThrowError(
      /vault\.objectLockDays: 60 days outlasts the oldest backup vault\.retention keeps \(28 days\)/,
    );
    expect(parseConfig(withVault({ objectLockMode: 'off', objectLockDays: 3650 })).vault.objectLockMode).toBe(
      'off',
    );
  });
});

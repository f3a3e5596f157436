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
});

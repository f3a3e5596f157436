import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCassandraVersion } from '../../functions/core/cassandra-version.js';
import { parseNodetoolInfo, parseNodetoolStatus } from '../../functions/core/nodetool.js';

// Real output of each Cassandra version (see test/fixtures/nodetool/README.md for where each comes from).
const fixture = (name: string) =>
  readFileSync(join(import.meta.dirname, '../fixtures/nodetool', name), 'utf8');

describe('nodetool output of each Cassandra version', () => {
  it('reads the status of a real Cassandra 4.1.10 node (table builder padding, trailing blank)', () => {
    // Arrange
    const text = fixture('status-4.1.10-local.txt');

    // Act
    const nodes = parseNodetoolStatus(text);

    // Assert
    expect(nodes).toHaveLength(1);
    expect(nodes[0]).toMatchObject({
      datacenter: 'datacenter1',
      status: 'U',
      state: 'N',
      address: '127.0.0.1',
      tokens: 16,
      owns: 100,
      ownsEffective: true,
      hostId: '2f1cd652-7bfb-408e-8409-b036c265d891',
      rack: 'rack1',
    });
    expect(nodes[0]?.loadBytes).toBeGreaterThan(0);
  });

  it('reads host id, datacenter, rack and the 16 tokens of a real Cassandra 4.1.10 node', () => {
    // Arrange
    const text = fixture('info-4.1.10-local.txt');

    // Act
    const info = parseNodetoolInfo(text);

    // Assert
    expect(info).toMatchObject({
      hostId: '2f1cd652-7bfb-408e-8409-b036c265d891',
      datacenter: 'datacenter1',
      rack: 'rack1',
    });
    expect(info.tokens).toHaveLength(16);
    expect(info.tokens[0]).toBe('-8435409132485733060');
    expect(info.fields['Native Transport active']).toBe('true');
  });

  it('reads the status of Cassandra 3.11 (printf padding, load wider than its column)', () => {
    // Arrange
    const text = fixture('status-3.11-ds201.txt');

    // Act
    const nodes = parseNodetoolStatus(text);

    // Assert
    expect(nodes).toEqual([
      expect.objectContaining({
        address: '172.17.0.2',
        load: '306.77 KiB',
        loadBytes: Math.round(306.77 * 1024),
        tokens: 256,
        owns: 100,
        hostId: 'ed19c671-f413-4108-b9f2-1bb62ce8975c',
        rack: 'rack1',
      }),
    ]);
  });

  it('reads Cassandra 3.11 info, whose Token line points to -T instead of listing tokens', () => {
    // Arrange
    const text = fixture('info-3.11-ds201.txt');

    // Act
    const info = parseNodetoolInfo(text);

    // Assert
    expect(info).toMatchObject({ hostId: 'ed19c671-f413-4108-b9f2-1bb62ce8975c', tokens: [] });
    expect(info.fields['Thrift active']).toBe('false');
    expect(info.fields['Chunk Cache']).toMatch(/^entries 20/);
  });

  it('reads the release version nodetool version prints', () => {
    // Arrange
    const text = fixture('version-4.1.10-local.txt');

    // Act
    const release = /^ReleaseVersion:\s*(\S+)/m.exec(text)?.[1];

    // Assert
    expect(parseCassandraVersion(release)).toMatchObject({ major: 4, minor: 1, patch: 10 });
  });
});

import { describe, expect, it } from 'vitest';
import { PreflightFailedError } from '../../functions/core/errors.js';
import {
  type NodeStatus,
  parseNodetoolInfo,
  parseNodetoolStatus,
  summarizeClusterHealth,
} from '../../functions/core/nodetool.js';

// Cassandra 3.11: printf padding (`%-9s` load, `%-11s` tokens, `%-16s` effective owns), one DC, vnodes.
const status311 = `Datacenter: datacenter1
=======================
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address     Load       Tokens       Owns (effective)  Host ID                               Rack
UN  10.10.1.11  1.21 GiB   256          33.4%             5d4a3f5c-9e1b-4c2a-8f7e-0b1c2d3e4f50  rack1
DN  10.10.1.12  1.19 GiB   256          33.3%             9a8b7c6d-5e4f-4a3b-9c2d-1e0f2a3b4c5d  rack1
UJ  10.10.1.13  182.5 KiB  256          33.3%             c0ffee00-1234-4abc-8def-001122334455  rack1

`;

// Cassandra 3.11 without a keyspace argument when keyspaces replicate differently: `Owns`, `?`, a Note.
const status311NoEffectiveOwnership = `Datacenter: datacenter1
=======================
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address      Load       Tokens       Owns    Host ID                               Rack
UN  172.16.0.21  306.77 KiB  256          ?       ed19c671-f413-4108-b9f2-1bb62ce8975c  rack1
UL  172.16.0.22  ?          256          ?       0ab52e7b-672f-4821-aeca-1d745c9d5720  rack1

Note: Non-system keyspaces don't have the same replication settings, effective ownership information is meaningless
`;

// Cassandra 3.11 with num_tokens: 1 — the token-per-node layout (`Token` column after the host id).
const status311TokenPerNode = `Datacenter: dc1
===============
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address       Load       Owns (effective)  Host ID                               Token                                    Rack
UN  192.168.10.5  52.3 MiB   33.3%             2b5e6f70-8a9b-4cde-8f01-23456789abcd  -9223372036854775808                     r1
UM  192.168.10.6  48.91 MiB  33.3%             3c6f7081-9bac-4def-9012-3456789abcde  -3074457345618258603                     r1
DN  192.168.10.7  50 bytes   33.3%             4d708192-acbd-4ef0-a123-456789abcdef  3074457345618258602                      r2

`;

// Pre-3.0 units (`KB`, `MB`), as older installs and DataStax's docs print them.
const statusDecimalUnits = `Datacenter: datacenter1
=======================
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address    Load       Tokens  Owns (effective)  Host ID                               Rack
UN  127.0.0.1  394.97 MB  256     33.4%             292a6c7f-2063-484c-b54d-9015216f1750  rack1
UN  127.0.0.2  151.07 KB  256     34.3%             102b6ecd-2081-4073-8172-bf818c35e27b  rack1
`;

// Cassandra 4.0 (k8ssandra): table builder padding per DC, two DCs, JVM warnings before the header.
const status40 = `WARNING: An illegal reflective access operation has occurred
WARNING: Illegal reflective access by com.google.common.base.internal.Finalizer to field java.lang.Thread.inheritableThreadLocals
WARNING: All illegal access operations will be denied in a future release
Datacenter: dc1
===============
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address     Load       Tokens  Owns (effective)  Host ID                               Rack  
UN  10.244.1.5  1.53 MiB   16      65.4%             7e3c2a1b-0d9f-4e8a-b7c6-5d4e3f2a1b0c  rack1 
UN  10.244.2.7  1.47 MiB   16      68.1%             8f4d3b2c-1e0a-4f9b-a8d7-6e5f4a3b2c1d  rack2 
DN  10.244.3.9  1.5 MiB    16      66.5%             9a5e4c3d-2f1b-4a0c-b9e8-7f6a5b4c3d2e  rack3 
Datacenter: dc2
===============
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address      Load        Tokens  Owns (effective)  Host ID                               Rack   
UN  10.245.1.11  1.49 MiB    16      100.0%            ab6f5d4e-3a2c-4b1d-8a9f-0a7b6c5d4e3f  default
UN  10.245.2.12  996.82 KiB  16      100.0%            bc706e5f-4b3d-4c2e-9b0a-1b8c7d6e5f40  default

`;

// Cassandra 4.1 with -pp (print port): addresses with the storage port.
const status41WithPorts = `Datacenter: datacenter1
=======================
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address         Load        Tokens  Owns (effective)  Host ID                               Rack 
UN  10.0.0.1:7000   215.4 KiB   16      100.0%            11111111-2222-4333-8444-555555555555  rack1
?N  10.0.0.2:7000   ?           16      100.0%            null                                  rack1

`;

// Cassandra 5.0: IPv6, a shared table across DCs with a blank line between them, `?` owns and the Note.
const status50Ipv6 = `Datacenter: eu-central
======================
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address          Load        Tokens  Owns  Host ID                               Rack  
UN  2001:db8:10::11  1.02 GiB    16      ?     1b2c3d4e-5f60-4718-9a0b-c1d2e3f40516  rack-a
UN  2001:db8:10::12  1.01 GiB    16      ?     2c3d4e5f-6071-4829-8b1c-d2e3f4051627  rack-b

Datacenter: eu-west
===================
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address          Load        Tokens  Owns  Host ID                               Rack  
DN  2001:db8:20::21  0 bytes     16      ?     3d4e5f60-7182-493a-9c2d-e3f405162738  rack-a
UN  ::1              12.5 KiB    16      ?     4e5f6071-8293-4a4b-8d3e-f40516273849  rack-b

Note: Non-system keyspaces don't have the same replication settings, effective ownership information is meaningless
`;

// Real output of the local stack's Cassandra 5.0.9 node (wire-stack up), trailing blanks included.
const status509Local = `Datacenter: datacenter1
=======================
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address    Load        Tokens  Owns (effective)  Host ID                               Rack 
UN  127.0.0.1  114.71 KiB  16      100.0%            47800e56-ef42-4d31-8147-81db23016947  rack1

`;

// Real output of \`nodetool info -T\` on the local 5.0.9 node.
const info509Local = `ID                     : 47800e56-ef42-4d31-8147-81db23016947
Gossip active          : true
Native Transport active: true
Load                   : 114.71 KiB
Uncompressed load      : 151.92 KiB
Generation No          : 1795672128
Uptime (seconds)       : 64
Heap Memory (MB)       : 253.47 / 768.00
Off Heap Memory (MB)   : 0.00
Data Center            : datacenter1
Rack                   : rack1
Exceptions             : 0
Key Cache              : entries 8, size 640 bytes, capacity 27 MiB, 70 hits, 77 requests, 0.909 recent hit rate, 14400 save period in seconds
Network Cache          : size 8 MiB, overflow size: 0 bytes, capacity 48 MiB
Percent Repaired       : 100.0%
Token                  : -9219884220785164963
Token                  : -7441249919961577834
Token                  : 8248714400408272576
Bootstrap state        : COMPLETED
`;

// Cassandra 3.11 \`nodetool info\` without -T.
const info311 = `ID                     : ed19c671-f413-4108-b9f2-1bb62ce8975c
Gossip active          : true
Thrift active          : false
Native Transport active: true
Load                   : 306.77 KiB
Data Center            : datacenter1
Rack                   : rack1
Token                  : (invoke with -T/--tokens to see all 256 tokens)
`;

function node(overrides: Partial<NodeStatus>): NodeStatus {
  return {
    datacenter: 'dc1',
    status: 'U',
    state: 'N',
    address: '10.0.0.1',
    load: '1 GiB',
    loadBytes: 1024 ** 3,
    tokens: 16,
    owns: 33.3,
    ownsEffective: true,
    hostId: '11111111-2222-4333-8444-555555555555',
    token: null,
    rack: 'rack1',
    ...overrides,
  };
}

describe('parseNodetoolStatus', () => {
  it('reads every row of Cassandra 3.11 output with vnodes', () => {
    // Arrange
    const text = status311;

    // Act
    const nodes = parseNodetoolStatus(text);

    // Assert
    expect(nodes).toEqual([
      {
        datacenter: 'datacenter1',
        status: 'U',
        state: 'N',
        address: '10.10.1.11',
        load: '1.21 GiB',
        loadBytes: Math.round(1.21 * 1024 ** 3),
        tokens: 256,
        owns: 33.4,
        ownsEffective: true,
        hostId: '5d4a3f5c-9e1b-4c2a-8f7e-0b1c2d3e4f50',
        token: null,
        rack: 'rack1',
      },
      expect.objectContaining({ status: 'D', state: 'N', address: '10.10.1.12', owns: 33.3 }),
      expect.objectContaining({ status: 'U', state: 'J', address: '10.10.1.13', load: '182.5 KiB' }),
    ]);
  });

  it('reads unknown load and ownership and skips the Note trailer', () => {
    // Arrange
    const text = status311NoEffectiveOwnership;

    // Act
    const nodes = parseNodetoolStatus(text);

    // Assert
    expect(nodes).toHaveLength(2);
    expect(nodes[0]).toMatchObject({
      load: '306.77 KiB',
      loadBytes: 314132,
      owns: null,
      ownsEffective: false,
    });
    expect(nodes[1]).toMatchObject({ state: 'L', load: '?', loadBytes: null, tokens: 256, owns: null });
  });

  it('reads the token-per-node layout', () => {
    // Arrange
    const text = status311TokenPerNode;

    // Act
    const nodes = parseNodetoolStatus(text);

    // Assert
    expect(nodes.map((n) => [n.address, `${n.status}${n.state}`, n.tokens, n.token, n.rack])).toEqual([
      ['192.168.10.5', 'UN', 1, '-9223372036854775808', 'r1'],
      ['192.168.10.6', 'UM', 1, '-3074457345618258603', 'r1'],
      ['192.168.10.7', 'DN', 1, '3074457345618258602', 'r2'],
    ]);
    expect(nodes[2]).toMatchObject({
      load: '50 bytes',
      loadBytes: 50,
      hostId: '4d708192-acbd-4ef0-a123-456789abcdef',
    });
  });

  it('reads the KB and MB units of older releases', () => {
    // Arrange
    const text = statusDecimalUnits;

    // Act
    const nodes = parseNodetoolStatus(text);

    // Assert
    expect(nodes.map((n) => [n.load, n.loadBytes])).toEqual([
      ['394.97 MB', Math.round(394.97 * 1024 ** 2)],
      ['151.07 KB', Math.round(151.07 * 1024)],
    ]);
  });

  it('reads several datacenters of Cassandra 4.0 output after JVM warnings', () => {
    // Arrange
    const text = status40;

    // Act
    const nodes = parseNodetoolStatus(text);

    // Assert
    expect(nodes.map((n) => [n.datacenter, n.address, `${n.status}${n.state}`, n.rack])).toEqual([
      ['dc1', '10.244.1.5', 'UN', 'rack1'],
      ['dc1', '10.244.2.7', 'UN', 'rack2'],
      ['dc1', '10.244.3.9', 'DN', 'rack3'],
      ['dc2', '10.245.1.11', 'UN', 'default'],
      ['dc2', '10.245.2.12', 'UN', 'default'],
    ]);
    expect(nodes[4]).toMatchObject({ load: '996.82 KiB', owns: 100, tokens: 16 });
  });

  it('reads addresses with ports, unknown gossip state and a null host id', () => {
    // Arrange
    const text = status41WithPorts;

    // Act
    const nodes = parseNodetoolStatus(text);

    // Assert
    expect(nodes[0]).toMatchObject({
      address: '10.0.0.1:7000',
      status: 'U',
      hostId: '11111111-2222-4333-8444-555555555555',
    });
    expect(nodes[1]).toMatchObject({
      address: '10.0.0.2:7000',
      status: '?',
      state: 'N',
      load: '?',
      hostId: null,
    });
  });

  it('reads IPv6 addresses across datacenters of Cassandra 5.0 output', () => {
    // Arrange
    const text = status50Ipv6;

    // Act
    const nodes = parseNodetoolStatus(text);

    // Assert
    expect(nodes.map((n) => [n.datacenter, n.address, n.status, n.owns, n.rack])).toEqual([
      ['eu-central', '2001:db8:10::11', 'U', null, 'rack-a'],
      ['eu-central', '2001:db8:10::12', 'U', null, 'rack-b'],
      ['eu-west', '2001:db8:20::21', 'D', null, 'rack-a'],
      ['eu-west', '::1', 'U', null, 'rack-b'],
    ]);
    expect(nodes[2]).toMatchObject({ load: '0 bytes', loadBytes: 0 });
  });

  it('reads the real output of the local Cassandra 5.0.9 node', () => {
    // Arrange
    const text = status509Local;

    // Act
    const nodes = parseNodetoolStatus(text);

    // Assert
    expect(nodes).toEqual([
      {
        datacenter: 'datacenter1',
        status: 'U',
        state: 'N',
        address: '127.0.0.1',
        load: '114.71 KiB',
        loadBytes: Math.round(114.71 * 1024),
        tokens: 16,
        owns: 100,
        ownsEffective: true,
        hostId: '47800e56-ef42-4d31-8147-81db23016947',
        token: null,
        rack: 'rack1',
      },
    ]);
  });

  it('accepts CRLF line ends and a comma decimal separator', () => {
    // Arrange
    const text = status311.replace('33.4%', '33,4%').replaceAll('\n', '\r\n');

    // Act
    const nodes = parseNodetoolStatus(text);

    // Assert
    expect(nodes).toHaveLength(3);
    expect(nodes[0]?.owns).toBe(33.4);
  });

  it('fails naming nodetool’s error when the output has no node table', () => {
    // Arrange
    const text =
      "nodetool: Failed to connect to '127.0.0.1:7199' - ConnectException: 'Connection refused (Connection refused)'.\n";

    // Act
    const parse = () => parseNodetoolStatus(text);

    // Assert
    expect(parse).toThrow(PreflightFailedError);
    expect(parse).toThrow(/listed no nodes \(nodetool: Failed to connect to '127\.0\.0\.1:7199'/);
  });

  it('fails on a row it cannot read rather than skip a node', () => {
    // Arrange
    const text = status509Local.replace('100.0%', 'lots');

    // Act
    const parse = () => parseNodetoolStatus(text);

    // Assert
    expect(parse).toThrow(PreflightFailedError);
    expect(parse).toThrow(/cannot read ownership 'lots' in the nodetool status row 'UN {2}127\.0\.0\.1/);
  });
});

describe('summarizeClusterHealth', () => {
  it('is healthy when every node is UN', () => {
    // Arrange
    const nodes = [node({ address: '10.0.0.1' }), node({ address: '10.0.0.2' })];

    // Act
    const health = summarizeClusterHealth(nodes, { allowPartial: false });

    // Assert
    expect(health).toEqual({ healthy: true, down: [], message: 'all 2 Cassandra node(s) are UN' });
  });

  it('names a down node and says to start it or allow a partial backup', () => {
    // Arrange
    const nodes = parseNodetoolStatus(status40);

    // Act
    const health = summarizeClusterHealth(nodes, { allowPartial: false });

    // Assert
    expect(health.healthy).toBe(false);
    expect(health.down).toEqual([
      {
        address: '10.244.3.9',
        state: 'DN',
        datacenter: 'dc1',
        hostId: '9a5e4c3d-2f1b-4a0c-b9e8-7f6a5b4c3d2e',
      },
    ]);
    expect(health.message).toBe(
      '1 of 5 Cassandra node(s) not UN: 10.244.3.9 (dc1/rack3) is DN (down, normal) — start it, or set cassandra.allowPartial in the configuration to back up only the nodes that are UN',
    );
  });

  it('tells to wait for joining or leaving nodes', () => {
    // Arrange
    const nodes = parseNodetoolStatus(status311);

    // Act
    const health = summarizeClusterHealth(nodes, { allowPartial: false });

    // Assert
    expect(health.healthy).toBe(false);
    expect(health.down.map((n) => `${n.address} ${n.state}`)).toEqual(['10.10.1.12 DN', '10.10.1.13 UJ']);
    expect(health.message).toContain('10.10.1.13 (datacenter1/rack1) is UJ (up, joining)');
    expect(health.message).toContain('wait until joining, leaving or moving nodes are UN');
    expect(health.message).toContain('set cassandra.allowPartial in the configuration');
  });

  it('goes on with the nodes that are up when partial backups are allowed', () => {
    // Arrange
    const nodes = parseNodetoolStatus(status50Ipv6);

    // Act
    const health = summarizeClusterHealth(nodes, { allowPartial: true });

    // Assert
    expect(health.healthy).toBe(true);
    expect(health.down.map((n) => n.address)).toEqual(['2001:db8:20::21']);
    expect(health.message).toMatch(/^1 of 4 Cassandra node\(s\) not UN, backing up the 3 that are/);
  });

  it('is unhealthy when no node is up, even with partial backups allowed', () => {
    // Arrange
    const nodes = [node({ status: 'D', address: '10.0.0.1' }), node({ status: '?', address: '10.0.0.2' })];

    // Act
    const health = summarizeClusterHealth(nodes, { allowPartial: true });

    // Assert
    expect(health.healthy).toBe(false);
    expect(health.message).toContain('10.0.0.2 (dc1/rack1) is ?N (unknown to gossip, normal)');
    expect(health.message).toMatch(/— start them: no node is UN$/);
  });

  it('is unhealthy when there are no nodes', () => {
    // Arrange
    const nodes: NodeStatus[] = [];

    // Act
    const health = summarizeClusterHealth(nodes, { allowPartial: true });

    // Assert
    expect(health.healthy).toBe(false);
    expect(health.message).toMatch(/listed no nodes/);
  });
});

describe('parseNodetoolInfo', () => {
  it('reads host id, datacenter, rack and every token of the local 5.0.9 node', () => {
    // Arrange
    const text = info509Local;

    // Act
    const info = parseNodetoolInfo(text);

    // Assert
    expect(info).toMatchObject({
      hostId: '47800e56-ef42-4d31-8147-81db23016947',
      datacenter: 'datacenter1',
      rack: 'rack1',
      load: '114.71 KiB',
      tokens: ['-9219884220785164963', '-7441249919961577834', '8248714400408272576'],
    });
    expect(info.fields['Native Transport active']).toBe('true');
    expect(info.fields['Network Cache']).toBe('size 8 MiB, overflow size: 0 bytes, capacity 48 MiB');
  });

  it('reads 3.11 output without tokens when -T was not given', () => {
    // Arrange
    const text = info311;

    // Act
    const info = parseNodetoolInfo(text);

    // Assert
    expect(info).toMatchObject({
      hostId: 'ed19c671-f413-4108-b9f2-1bb62ce8975c',
      datacenter: 'datacenter1',
      tokens: [],
    });
  });

  it('fails when there is no host id', () => {
    // Arrange
    const text = 'nodetool: Failed to connect\n';

    // Act
    const parse = () => parseNodetoolInfo(text);

    // Assert
    expect(parse).toThrow(PreflightFailedError);
  });
});

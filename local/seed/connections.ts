import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { S3Client } from '@aws-sdk/client-s3';
import { Client, types } from 'cassandra-driver';
import { createStackS3Client } from '../stack-clients.js';
import type { StackInfo } from '../stack-info.js';

/** Clients to the local stack's Cassandra and source MinIO, and `nodetool` through the host profiles. */

const run = promisify(execFile);

/** Datacenter of the local stack's Cassandra nodes. */
export const localDatacenter = 'datacenter1';

/** Consistency levels the seeder and snapshot accept, by name. */
export type ConsistencyName = 'one' | 'localQuorum' | 'quorum' | 'all';

/** Options of {@link createCassandraClient}. */
export interface CassandraClientOptions {
  /** Default consistency of every statement. @default 'localQuorum' */
  readonly consistency?: ConsistencyName;
  /** Decode sets and maps as `Set` and `Map` (what the snapshot normalizer wants). @default false */
  readonly nativeCollections?: boolean;
}

/** A driver client connected to every node of the stack (not yet connected: call `connect()`). */
export function createCassandraClient(stack: StackInfo, options: CassandraClientOptions = {}): Client {
  return new Client({
    contactPoints: stack.cassandra.nodes.map((node) => `${node.address}:${node.cqlPort}`),
    localDataCenter: localDatacenter,
    socketOptions: { readTimeout: 120_000, connectTimeout: 10_000 },
    // Several nodes on 2 busy cores agree on a new schema slowly; the default 10 s is not enough.
    // Nodes the driver discovers get this port, not their contact point's: without it a stack on
    // other ports would have the driver talk to whatever listens on 9042.
    protocolOptions: { port: stack.cassandra.nodes[0]?.cqlPort ?? 9042, maxSchemaAgreementWaitSeconds: 60 },
    queryOptions: { consistency: types.consistencies[options.consistency ?? 'localQuorum'], prepare: true },
    ...(options.nativeCollections ? { encoding: { set: Set, map: Map } } : {}),
  });
}

/** An S3 client for the source MinIO of the stack (path-style, the stack's region and keys). */
export function createSourceS3Client(stack: StackInfo): S3Client {
  return createStackS3Client(stack.minio);
}

/**
 * Runs `nodetool flush <keyspace>` for each keyspace on every Cassandra node through its
 * host-profile wrapper (`hosts[instanceId].binDir/nodetool`), one node after the other; throws
 * naming the node and nodetool's error line.
 */
export async function flushNodes(stack: StackInfo, keyspaces: readonly string[]): Promise<void> {
  for (const node of stack.cassandra.nodes) {
    const host = stack.hosts[node.instanceId];
    if (!host) {
      throw new Error(
        `seed: no host profile for ${node.instanceId} (${node.name}) in stack.json: run 'npm run stack -- up'`,
      );
    }
    const nodetool = join(host.binDir, 'nodetool');
    for (const keyspace of keyspaces) {
      try {
        // nodetool flush takes one keyspace, then optional table names.
        await run(nodetool, ['flush', keyspace], { timeout: 300_000 });
      } catch (error) {
        const output = `${(error as { stderr?: string }).stderr ?? ''}\n${(error as { stdout?: string }).stdout ?? ''}`;
        const line =
          output.split('\n').find((l) => /^error:/i.test(l.trim())) ?? output.trim().split('\n')[0] ?? '';
        throw new Error(
          `seed: ${nodetool} flush ${keyspace} failed on ${node.name}: ${line || String(error)}`,
          {
            cause: error,
          },
        );
      }
    }
  }
}

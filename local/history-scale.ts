import type { WireBackupConfig } from '../lib/config.js';
import { synthesizeLocal } from './local-run.js';
import { listStates } from './runner/asl.js';
import { countHistoryEvents, historyShapeOf, maxHistoryEvents } from './runner/history.js';
import type { RunResult } from './runner/run-state-machine.js';

/** Where the backup's Maps over MinIO buckets (Finalize) and parts of buckets (Plan) take their items. */
const bucketPaths = new Set(['$.plan.minio.buckets', '$.plan.minio.parts']);

/** A run's history, split into what every run costs and what each Cassandra node adds. */
export interface HistoryScale {
  readonly total: number;
  /** Events of the per-node inline Map iterations, per node. */
  readonly perNode: number;
  /** The same run with `nodes` Cassandra nodes: `total + (nodes - ran) × perNode`. */
  projected(nodes: number): number;
  /** One line for the test log. */
  describe(label: string, nodes: number): string;
}

/**
 * Splits a run's history (`RunResult.historyEvents`) into the part per Cassandra node — the events
 * of the inline Maps over nodes (preflight, snapshot, clear; target checks, restore, recheck), the
 * only states that repeat per node — and the rest, so the history of the same run with more nodes
 * follows. The Maps over MinIO buckets (Plan MinIO, per part of a bucket; Finalize MinIO) repeat per
 * bucket and count with the rest. Distributed Map children (MinIO batches) have histories of their own
 * and are not counted.
 */
export function historyScale(
  result: RunResult,
  config: WireBackupConfig,
  stateMachine: string,
  nodesRan: number,
): HistoryScale {
  const machine = synthesizeLocal(config).stateMachines.find((m) => m.name === stateMachine);
  if (!machine) throw new Error(`no state machine ${stateMachine}`);
  const shape = historyShapeOf(machine.definition);
  // The Maps over MinIO buckets (Plan MinIO: per part of a bucket; Finalize MinIO) repeat per bucket,
  // not per node.
  const states = listStates(machine.definition);
  const bucketMaps = new Set(
    states
      .filter(({ state }) => state.Type === 'Map' && bucketPaths.has(String(state.ItemsPath)))
      .map((s) => s.name),
  );
  const perBucketStates = new Set(
    states
      .filter(({ name, parents }) => bucketMaps.has(name) || parents.some((p) => bucketMaps.has(p)))
      .map(({ name }) => name),
  );
  const perNodeTotal = countHistoryEvents(
    result.events,
    shape,
    (event) => event.index !== undefined && !perBucketStates.has(event.state ?? ''),
  );
  const perNode = perNodeTotal / nodesRan;
  const total = result.historyEvents;
  const projected = (nodes: number) => total + (nodes - nodesRan) * perNode;
  return {
    total,
    perNode,
    projected,
    describe: (label, nodes) =>
      `${label}: ${total} history events with ${nodesRan} node(s), ${perNode} per node → ${projected(nodes)} with ${nodes} nodes (limit ${maxHistoryEvents})`,
  };
}

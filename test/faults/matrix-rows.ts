import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { expect } from 'vitest';
import { listBackups } from '../../cli/list.js';
import { vaultPrefixes } from '../../functions/core/vault-layout.js';
import type { WireBackupConfig } from '../../lib/config.js';
import { type FaultStack, startFaultStack } from '../../local/faults/fault-stack.js';
import { killCassandraNode } from '../../local/faults/node-faults.js';
import { localConfig } from '../../local/local-config.js';
import { runLocal } from '../../local/local-run.js';
import type { RunnerEvent } from '../../local/runner/events.js';
import { mutateWire, seedWire, snapshotWire, type WireSnapshot } from '../../local/seed/index.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { exists, listBackupIds } from '../support/vault.js';

/**
 * The rows of the fault matrix and how one row runs: the fault matrix (`fault-matrix.test.ts`, `npm run
 * test:faults`) runs them all; `test/e2e/faults-ci.test.ts` runs the fastest of them in `npm test`.
 */

/** When a fault starts: a state entered, or a host command's log line. */
type Trigger = { readonly state: string } | { readonly commandLine: RegExp };

export interface Scenario {
  readonly fault: string;
  readonly phase: string;
  readonly trigger: Trigger;
  /** Starts the fault; resolves to a function that ends it (called when `until` says so). */
  readonly inject: (h: FaultStack, stack: StackInfo) => Promise<() => Promise<void>>;
  /** When the fault ends: after `seconds`, or once the run reached Mark Failed (plus 5 s). */
  readonly until: { readonly seconds: number } | 'markFailed' | 'runEnd';
  /** `either`: a verified backup or a clean failure are both right (a node killed after its snapshot). */
  readonly expect: 'SUCCEEDED' | 'FAILED' | 'either';
  /**
   * Changes the data first (new SSTables, objects and files), so that the phase happens at all: a
   * differential backup of unchanged data copies no object and uploads no SSTable.
   */
  readonly mutate?: true;
  /** What the failure's cause must say (the host, the path, the fix). */
  readonly cause?: RegExp;
  /** The faulted run must leave no snapshot on node1 (staging folders: checked by the fault's end). */
  readonly nodeClean?: true;
}

export const budgetSeconds = 20;
const shortOutage = 12;

const refuse = (which: 'vault' | 'minio') => async (h: FaultStack) => {
  await h[which].setEnabled(false);
  return () => h[which].setEnabled(true);
};
const resetPeers = (which: 'vault' | 'minio') => async (h: FaultStack) => {
  await h[which].addToxic({
    name: 'reset',
    type: 'reset_peer',
    toxicity: 0.5,
    attributes: { timeout: 200 },
  });
  return () => h[which].removeToxic('reset');
};
const s3Errors =
  (
    which: 'vaultErrors' | 'minioErrors',
    kind: 'slowDown' | 'internalError' | 'truncate',
    count: number,
    method?: string,
  ) =>
  async (h: FaultStack) => {
    const before = h[which].injected[kind];
    h[which].arm({ kind, count, ...(method ? { match: (m: string) => m === method } : {}) });
    return async () => {
      h[which].disarm();
      // A row whose fault hit no request would pass without testing anything.
      if (h[which].injected[kind] === before) throw new Error(`no ${kind} answer was served by ${which}`);
    };
  };
/** node1's CQL slowed: `ms` more on every packet both ways (cqlsh's row counts and schema dump). */
const cqlLatency = (ms: number) => async (h: FaultStack) => {
  await h.cql.addToxic({ name: 'latency-down', type: 'latency', attributes: { latency: ms, jitter: 0 } });
  await h.cql.addToxic({
    name: 'latency-up',
    type: 'latency',
    stream: 'upstream',
    attributes: { latency: ms, jitter: 0 },
  });
  return async () => {
    await h.cql.removeToxic('latency-down');
    await h.cql.removeToxic('latency-up');
  };
};
/** Every new connection to node1's CQL (or JMX) port reset as soon as it carries data. */
const resetAll = (which: 'cql' | 'jmx') => async (h: FaultStack) => {
  await h[which].addToxic({ name: 'reset', type: 'reset_peer', attributes: { timeout: 0 } });
  return () => h[which].removeToxic('reset');
};
const refuseNode = (which: 'cql' | 'jmx') => async (h: FaultStack) => {
  await h[which].setEnabled(false);
  return () => h[which].setEnabled(true);
};
const killNode = (_h: FaultStack, stack: StackInfo) => killCassandraNode(stack);

/**
 * The staging disk of node1 full: its staging root (`<dataDir>/../wire-backup-staging`) becomes a
 * dedicated 1 MiB tmpfs, filled by `fallocate` but for 16 KiB. Hardlinks from the data directory
 * cannot cross filesystems, so the snapshot script must copy its new files there, and they do not fit.
 * Needs root (mount).
 */
const stagingRoot = (stack: StackInfo) =>
  join(stack.cassandra.nodes[0]?.dataDir ?? '', '..', 'wire-backup-staging');
const fillStagingDisk = async (_h: FaultStack, stack: StackInfo) => {
  const root = stagingRoot(stack);
  execFileSync('mkdir', ['-p', root]);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'wire-backup-fault-staging', root]);
  execFileSync('fallocate', ['-l', `${1024 - 16}KiB`, join(root, 'filler')]);
  return async () => {
    // A backup's staging folder is named by its id; lock and `.cleared` markers may stay.
    const left = readdirSync(root).filter((name) => /^\d{8}T\d{6}Z$/.test(name));
    execFileSync('umount', [root]);
    if (left.length > 0) throw new Error(`staging folders left on the full staging disk: ${left.join(', ')}`);
  };
};

const hangNodetool = async (h: FaultStack, stack: StackInfo) => {
  const node = stack.cassandra.nodes[0]?.instanceId ?? '';
  // nodetool stops answering (a JMX port that accepts and never replies): the Preflight command runs
  // into its document's 120 s execution timeout and is killed, as the SSM agent does.
  h.setHostProfileExtra(node, 'nodetool() { sleep 900; }; export -f nodetool');
  return async () => h.setHostProfileExtra(node, '');
};

export const scenarios: Scenario[] = [
  {
    fault: `vault refused ${shortOutage} s`,
    phase: 'copy (Copy Batch)',
    trigger: { state: 'Copy Batch' },
    mutate: true,
    inject: refuse('vault'),
    until: { seconds: shortOutage },
    expect: 'SUCCEEDED',
  },
  {
    fault: 'vault refused past the budget',
    phase: 'copy (Copy Batch)',
    trigger: { state: 'Copy Batch' },
    mutate: true,
    inject: refuse('vault'),
    until: 'markFailed',
    expect: 'FAILED',
  },
  {
    fault: `vault refused ${shortOutage} s`,
    phase: 'commit (Commit)',
    trigger: { state: 'Commit' },
    inject: refuse('vault'),
    until: { seconds: shortOutage },
    expect: 'SUCCEEDED',
  },
  {
    fault: 'vault refused past the budget',
    phase: 'commit (Commit)',
    trigger: { state: 'Commit' },
    inject: refuse('vault'),
    until: 'markFailed',
    expect: 'FAILED',
  },
  {
    fault: 'vault connections reset (50 %, 15 s)',
    phase: 'copy (Plan MinIO → Copy Batch)',
    trigger: { state: 'Plan MinIO' },
    inject: resetPeers('vault'),
    until: { seconds: 15 },
    expect: 'SUCCEEDED',
  },
  {
    fault: 'vault 503 SlowDown ×20',
    phase: 'copy (Copy Batch)',
    trigger: { state: 'Copy Batch' },
    mutate: true,
    inject: s3Errors('vaultErrors', 'slowDown', 20),
    until: 'runEnd',
    expect: 'SUCCEEDED',
  },
  {
    fault: 'vault 500 InternalError ×8',
    phase: 'finalize (Finalize MinIO)',
    trigger: { state: 'Finalize MinIO' },
    inject: s3Errors('vaultErrors', 'internalError', 8),
    until: 'runEnd',
    expect: 'SUCCEEDED',
  },
  {
    // Finalize MinIO reads the batches' result files and the previous manifest (GETs); Commit only
    // HEADs and PUTs, so a truncated GET armed there hit no request.
    fault: 'vault truncated GET body ×3',
    phase: 'finalize (Finalize MinIO)',
    trigger: { state: 'Finalize MinIO' },
    inject: s3Errors('vaultErrors', 'truncate', 3, 'GET'),
    until: 'runEnd',
    expect: 'SUCCEEDED',
  },
  {
    fault: `MinIO refused ${shortOutage} s`,
    phase: 'copy (Copy Batch)',
    trigger: { state: 'Copy Batch' },
    mutate: true,
    inject: refuse('minio'),
    until: { seconds: shortOutage },
    expect: 'SUCCEEDED',
  },
  {
    // The copy batch fails after its retries, so the copy map fails with only
    // States.ExceedToleratedFailureThreshold; its report (map-runs/, spared by the fault) is written, and
    // Mark Failed puts the batch's own cause first. (A source MinIO refused instead fails no batch: each
    // object it cannot read is recorded, and the run fails with ObjectsNotCopiedError.)
    fault: 'vault 500 InternalError to every MinIO copy write, past the budget',
    phase: 'copy (Copy Batch)',
    trigger: { state: 'Copy Batch' },
    mutate: true,
    inject: async (h: FaultStack) => {
      const before = h.vaultErrors.injected.internalError;
      h.vaultErrors.arm({
        kind: 'internalError',
        // The MinIO copy's writes only (minio/…, backups/<id>/minio/…): the nodes' uploads go on.
        match: (method, path) =>
          method === 'PUT' &&
          path.includes(`/${vaultPrefixes.minio}`) &&
          !path.includes(`/${vaultPrefixes.mapRuns}`),
      });
      return async () => {
        h.vaultErrors.disarm();
        if (h.vaultErrors.injected.internalError === before)
          throw new Error('no internalError answer was served');
      };
    },
    until: 'markFailed',
    expect: 'FAILED',
    cause:
      /MinIO copy batch\(es\) \(Copy Batch\) failed after their retries; the first: TransientStorageError: .*map run report s3:\/\/\S+\/map-runs\/\S+\/FAILED_0\.json/s,
  },
  {
    fault: 'MinIO refused past the budget',
    phase: 'plan (Plan MinIO)',
    trigger: { state: 'Plan MinIO' },
    inject: refuse('minio'),
    until: 'markFailed',
    expect: 'FAILED',
  },
  {
    fault: 'MinIO 503 SlowDown ×20',
    phase: 'copy (Copy Batch)',
    trigger: { state: 'Copy Batch' },
    mutate: true,
    inject: s3Errors('minioErrors', 'slowDown', 20),
    until: 'runEnd',
    expect: 'SUCCEEDED',
  },
  {
    fault: 'MinIO truncated GET body ×3',
    phase: 'copy (Copy Batch)',
    trigger: { state: 'Copy Batch' },
    mutate: true,
    inject: s3Errors('minioErrors', 'truncate', 3, 'GET'),
    until: 'runEnd',
    expect: 'SUCCEEDED',
  },
  {
    fault: 'CQL latency 200 ms each way',
    phase: 'row counts and schema dump (Snapshot Node, cqlsh)',
    trigger: { state: 'Snapshot Node' },
    mutate: true,
    inject: cqlLatency(200),
    until: 'runEnd',
    expect: 'SUCCEEDED',
  },
  {
    fault: 'CQL connections reset',
    phase: 'row counts (Snapshot Node, cqlsh)',
    trigger: { state: 'Snapshot Node' },
    inject: resetAll('cql'),
    until: 'runEnd',
    expect: 'FAILED',
    cause: /cqlsh cannot reach the Cassandra node on \S+/,
    nodeClean: true,
  },
  {
    // The JMX proxy carries nodetool's registry lookup only (see local/faults/fault-stack.ts): a JMX
    // port that refuses connections when `nodetool snapshot` starts.
    fault: 'JMX refused',
    phase: 'snapshot (Snapshot Node, nodetool snapshot)',
    trigger: { state: 'Snapshot Node' },
    mutate: true,
    inject: refuseNode('jmx'),
    until: 'runEnd',
    expect: 'FAILED',
    cause: /'nodetool snapshot' failed for keyspaces/,
    nodeClean: true,
  },
  {
    fault: 'Cassandra node killed',
    phase: 'snapshot (nodetool snapshot)',
    trigger: { commandLine: /nodetool snapshot -t/ },
    inject: killNode,
    until: 'runEnd',
    expect: 'FAILED',
  },
  {
    fault: 'Cassandra node killed',
    phase: 'upload (aws s3 cp)',
    trigger: { commandLine: /uploading \d+ new file/ },
    inject: killNode,
    until: 'runEnd',
    expect: 'either',
    mutate: true,
  },
  {
    fault: 'staging disk full (1 MiB tmpfs, 16 KiB free)',
    phase: 'upload (staging the new SSTables)',
    trigger: { state: 'Prepare' },
    inject: fillStagingDisk,
    until: 'runEnd',
    expect: 'FAILED',
    mutate: true,
    cause: /not enough space to stage .* needed, .* free in \S*wire-backup-staging/,
    nodeClean: true,
  },
  {
    fault: 'SSM command timeout (nodetool hangs)',
    phase: 'preflight (Node Preflight, 120 s document timeout)',
    trigger: { state: 'Prepare' },
    inject: hangNodetool,
    until: 'runEnd',
    expect: 'FAILED',
  },
];

export interface Row {
  readonly fault: string;
  readonly phase: string;
  readonly outcome: string;
  readonly next: string;
}

/** What the rows share: the real stack, the harness in front of it, the seeded data. */
export interface MatrixContext {
  readonly direct: StackInfo;
  readonly harness: FaultStack;
  readonly config: WireBackupConfig;
  readonly s3: S3Client;
  /** The data as it is now (rows with `mutate` change it). */
  before: WireSnapshot;
  /** Rounds of `mutateWire` so far. */
  round: number;
}

/** Seeds the smoke data set (from empty) and starts the fault harness (and toxiproxy if none runs). */
export async function setUpMatrix(): Promise<MatrixContext> {
  const direct = readStackInfo();
  const s3 = createStackS3Client(direct.vault);
  await seedWire({ stack: direct, size: 'smoke', reset: true, flush: true });
  const before = await snapshotWire({ stack: direct, detail: 'rows' });
  const harness = await startFaultStack(direct);
  const config = { ...localConfig(harness.stack), retry: { outageBudgetSeconds: budgetSeconds } };
  return { direct, harness, config, s3, before, round: 0 };
}

/** Heals and stops the harness. */
export async function tearDownMatrix(ctx: MatrixContext | undefined): Promise<void> {
  await ctx?.harness.heal();
  await ctx?.harness.close();
  ctx?.s3.destroy();
}

/** A row's test title: the fault, the phase and the outcome it must have. */
export const scenarioTitle = (scenario: Scenario): string =>
  `${scenario.fault} during ${scenario.phase}: ${{ SUCCEEDED: 'ridden out', FAILED: 'clean failure', either: 'a verified backup or a clean failure' }[scenario.expect]}, then the next run completes`;

/** The row named `fault` (and `phase`, when several rows inject the same fault). */
export function scenarioNamed(fault: string, phase?: string): Scenario {
  const found = scenarios.filter((s) => s.fault === fault && (phase === undefined || s.phase === phase));
  if (found.length !== 1)
    throw new Error(`${found.length} fault matrix rows match '${fault}'${phase ? ` in '${phase}'` : ''}`);
  return found[0] as Scenario;
}

/**
 * Runs one row: the backup with the fault injected, then a clean backup; checks both (vitest `expect`).
 * `onRow` gets the row before the checks (so that a failing row is still in the table) and the id of
 * the next run's backup when it completed.
 */
export async function runScenario(
  ctx: MatrixContext,
  scenario: Scenario,
  onRow: (row: Row, completedBackupId: string | undefined) => void = () => undefined,
): Promise<void> {
  const { direct } = ctx;
  const backup = (onEvent?: (event: RunnerEvent) => void) =>
    runLocal({
      stateMachine: 'wire-backup',
      input: { trigger: 'manual' },
      stack: ctx.harness.stack,
      config: ctx.config,
      ...(onEvent ? { onEvent } : {}),
    });

  /** `; snapshot <id> left on node1` when a snapshot of the faulted run is still on the node. */
  const snapshotsLeft = (id: string): string => {
    const node = direct.cassandra.nodes[0];
    const nodetool = join(direct.hosts[node?.instanceId ?? '']?.binDir ?? '', 'nodetool');
    const listed = execFileSync(nodetool, ['listsnapshots'], { encoding: 'utf8' });
    return listed.includes(id) ? `; snapshot ${id} LEFT on ${node?.name}` : '; no snapshot left';
  };

  if (scenario.mutate) {
    ctx.round += 1;
    await mutateWire({ stack: direct, round: ctx.round });
    ctx.before = await snapshotWire({ stack: direct, detail: 'rows' });
  }
  const idsBefore = new Set(await listBackupIds(ctx.s3, direct.vault.bucket));
  const startedAt = Date.now();
  let injected: Promise<() => Promise<void>> | undefined;
  let ended: Promise<void> | undefined;
  let retries = 0;
  const end = (delayMs: number) => {
    ended ??= (async () => {
      const heal = await injected;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      await heal?.();
    })();
  };
  const matches = (event: RunnerEvent) =>
    'state' in scenario.trigger
      ? event.type === 'StateEntered' && event.state === scenario.trigger.state
      : event.type === 'CommandOutput' && scenario.trigger.commandLine.test(event.message);
  const result = await backup((event) => {
    if (event.type === 'StateRetried') retries += 1;
    if (!injected && matches(event)) {
      injected = scenario.inject(ctx.harness, direct);
      if (typeof scenario.until === 'object') end(scenario.until.seconds * 1000);
    }
    if (
      injected &&
      scenario.until === 'markFailed' &&
      event.type === 'StateEntered' &&
      event.state === 'Mark Failed'
    )
      end(5000);
  });
  if (!ended && injected) end(0);
  await ended;
  const seconds = Math.round((Date.now() - startedAt) / 1000);

  expect(injected, 'the fault was never injected').toBeDefined();
  // This run's backup: its output names it; a failed run's is the one folder it added to the vault.
  const added = (await listBackupIds(ctx.s3, direct.vault.bucket)).filter((i) => !idsBefore.has(i));
  const id = (result.output as { backupId?: string } | undefined)?.backupId ?? added.at(-1) ?? '';
  const hasManifest = await exists(ctx.s3, direct.vault.bucket, `backups/${id}/manifest.json`);
  const hasFailed = await exists(ctx.s3, direct.vault.bucket, `backups/${id}/failed.json`);
  const listed =
    (await listBackups(ctx.s3, direct.vault.bucket))
      .split('\n')
      .find((l) => l.includes(id))
      ?.trim() ?? '';
  const cause = (result.cause ?? '').replace(/\s+/g, ' ').slice(0, 160);
  const outcome =
    result.status === 'SUCCEEDED'
      ? `completed in ${seconds} s (${retries} state retries)`
      : `failed in ${seconds} s: ${result.error}: ${cause}…; failed.json ${hasFailed ? 'written' : 'MISSING'}, list: ${/FAILED/.test(listed) ? 'FAILED' : listed}`;

  // Before the next run (whose first snapshot script sweeps what the faulted run left).
  const leftByFault = snapshotsLeft(id);
  const next = await backup();
  const leftAfterNext = snapshotsLeft(id);
  const nextId = (next.output as { backupId?: string } | undefined)?.backupId ?? '';
  const totals = (next.output as { manifest?: { totals?: { newBytes: number; reusedBytes: number } } })
    ?.manifest?.totals;
  const nextText =
    next.status === 'SUCCEEDED'
      ? `completed, differential (${totals?.newBytes ?? '?'} B new, ${totals?.reusedBytes ?? '?'} B reused); after the fault${leftByFault.replace(/^;/, ':')}, after this run${leftAfterNext.replace(/^;/, ':')}`
      : `FAILED: ${next.error}: ${next.cause}`;
  const row: Row = { fault: scenario.fault, phase: scenario.phase, outcome, next: nextText };
  onRow(row, next.status === 'SUCCEEDED' ? nextId : undefined);

  if (scenario.expect !== 'either') {
    expect(result.status, `${result.error}: ${result.cause}`).toBe(scenario.expect);
  }
  if (scenario.cause) expect(result.cause).toMatch(scenario.cause);
  if (scenario.nodeClean) {
    expect(leftByFault).toBe('; no snapshot left');
  }
  if (result.status !== 'SUCCEEDED') {
    expect(hasManifest).toBe(false);
    expect(hasFailed).toBe(true);
    expect(listed).toMatch(/FAILED/);
  } else {
    expect(hasManifest, `backups/${id}/manifest.json of the completed run`).toBe(true);
  }
  expect(next.status, `${next.error}: ${next.cause}`).toBe('SUCCEEDED');
  // Whatever the fault left on the node, the next run's sweep cleared it.
  expect(leftAfterNext).toBe('; no snapshot left');
}

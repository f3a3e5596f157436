import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostDocuments } from '../../lib/host-documents.js';
import { historyScale } from '../../local/history-scale.js';
import { localConfig } from '../../local/local-config.js';
import { runLocal } from '../../local/local-run.js';
import { maxHistoryEvents } from '../../local/runner/history.js';
import { seedWire } from '../../local/seed/index.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';

/**
 * Host commands at any scale: a host command is one `.waitForTaskToken` task, so the history of a
 * backup does not grow with the time its snapshots take. Two backups whose snapshots differ only in
 * how long SSM reports them running (the local SSM executor's `completionDelayMs`) have the same
 * number of history events, which therefore holds for 12-hour snapshots too; what a node adds is
 * measured and projected to six nodes.
 */
describe('history of long host commands', () => {
  let stack: StackInfo;
  beforeAll(async () => {
    stack = readStackInfo();
    await seedWire({ stack, size: 'smoke', reset: true, flush: true });
  });
  afterAll(() => undefined);

  it('costs a snapshot the same history events whether it runs seconds or much longer', async () => {
    const config = localConfig(stack);
    const backup = (delayMs: number) =>
      runLocal({
        stateMachine: 'wire-backup',
        input: { components: ['cassandra'], trigger: 'manual' },
        stack,
        config,
        ssmCompletionDelayMs: (document) => (document === hostDocuments.cassandraSnapshot.name ? delayMs : 0),
      });

    const short = await backup(0);
    const long = await backup(20_000);

    expect(short.status, `${short.error}: ${short.cause}`).toBe('SUCCEEDED');
    expect(long.status, `${long.error}: ${long.cause}`).toBe('SUCCEEDED');
    // The snapshot task's own time: the whole run also differs by cold starts and by the second
    // backup being incremental (it references the first one's SSTables).
    const seconds = (r: typeof short) => {
      const at = (type: string) =>
        r.events.find((e) => e.type === type && e.state === 'Snapshot Node')?.timestamp;
      const entered = at('StateEntered');
      const exited = at('StateExited');
      if (entered === undefined || exited === undefined) throw new Error('no Snapshot Node state in the run');
      return (exited - entered) / 1000;
    };
    // The long snapshot was held at least the added 20 s (compared with the delay itself, not with the
    // short run: under load a first, full snapshot can take about as long as the delay).
    expect(seconds(long)).toBeGreaterThanOrEqual(19.5);
    expect(long.historyEvents).toBe(short.historyEvents);
    const scale = historyScale(long, config, 'wire-backup', stack.cassandra.nodes.length);
    // What the polling loop it replaces cost: 9 events per 5-second poll, per node.
    const polling = 6 * ((12 * 3600) / 5) * 9;
    console.log(
      `history: snapshot reported after ${seconds(short).toFixed(0)} s → ${short.historyEvents} events; after ${seconds(long).toFixed(0)} s → ${long.historyEvents} events. ${scale.describe('cassandra backup', 6)}; 12-hour snapshots on 6 nodes by polling would have cost ≥ ${polling}`,
    );
    expect(scale.projected(6)).toBeLessThan(maxHistoryEvents / 10);
  }, 600_000);
});

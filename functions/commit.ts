import { z } from 'zod';
import { commitBackup } from './core/commit.js';
import { type BackupSummary, backupResultsSchema, preflightedPlanSchema } from './core/contract/backup.js';
import { parseEvent, vault } from './core/handler-kit.js';
import { emitMetrics, logEvent } from './core/telemetry.js';
import { manifestKey } from './core/vault-layout.js';

const eventSchema = z.object({ plan: preflightedPlanSchema, results: backupResultsSchema });

/** Verifies completeness, writes the manifest last, emits metrics. */
export async function handler(event: unknown): Promise<BackupSummary> {
  const { plan, results } = parseEvent('commit', eventSchema, event);
  const { s3 } = vault();
  const manifest = await commitBackup(plan, results, {
    s3,
    now: () => new Date(),
  });
  emitMetrics(
    {
      BackupSucceeded: { value: 1, unit: 'Count' },
      BackupBytes: { value: manifest.totals.bytes, unit: 'Bytes' },
      BackupNewBytes: { value: manifest.totals.newBytes, unit: 'Bytes' },
      BackupObjects: { value: manifest.totals.objects, unit: 'Count' },
      BackupDuration: { value: manifest.durationSeconds, unit: 'Seconds' },
      LastSuccessTimestamp: { value: Math.floor(Date.parse(manifest.completedAt) / 1000), unit: 'None' },
    },
    manifest.clusterName,
  );
  logEvent('info', 'backup committed', { backupId: manifest.backupId, totals: manifest.totals });
  return { backupId: manifest.backupId, manifestKey: manifestKey(manifest.backupId), manifest };
}

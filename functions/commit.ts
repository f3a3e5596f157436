import { z } from 'zod';
import { type BackupManifest, commitBackup } from './core/commit.js';
import { parseEvent, vault } from './core/handler-kit.js';
import type { PreflightedPlan } from './core/preflight.js';
import { emitMetrics, logEvent } from './core/telemetry.js';
import { manifestKey } from './core/vault-layout.js';

const eventSchema = z.object({
  plan: z.looseObject({ backupId: z.string(), vaultBucket: z.string() }),
  results: z.tuple([z.unknown(), z.unknown(), z.unknown()]),
});

/** Summary a person can act on (the state machine's output). */
export interface BackupSummary {
  readonly backupId: string;
  readonly manifestKey: string;
  readonly manifest: BackupManifest;
}

/** Verifies completeness, writes the manifest last, emits metrics. */
export async function handler(event: unknown): Promise<BackupSummary> {
  const { plan, results } = parseEvent('commit', eventSchema, event);
  const { s3 } = vault();
  const manifest = await commitBackup(plan as unknown as PreflightedPlan, results, {
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
    { Cluster: manifest.clusterName },
  );
  logEvent('info', 'backup committed', { backupId: manifest.backupId, totals: manifest.totals });
  return { backupId: manifest.backupId, manifestKey: manifestKey(manifest.backupId), manifest };
}

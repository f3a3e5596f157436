import { z } from 'zod';
import { commitArchive } from './core/archive-copy.js';
import { archiveDepsFromEnv } from './core/archive-env.js';
import { type ArchiveManifest, archivePlanSchema, archiveProgressSchema } from './core/contract/archive.js';
import { parseEvent } from './core/handler-kit.js';

const eventSchema = z.object({
  plan: archivePlanSchema,
  progress: archiveProgressSchema,
  clusterName: z.string(),
});

/** Checks every item was archived and verified, then writes the archive manifest, last. */
export async function handler(event: unknown): Promise<ArchiveManifest> {
  const { plan, progress, clusterName } = parseEvent('archive-commit', eventSchema, event);
  return commitArchive(plan, progress, clusterName, archiveDepsFromEnv());
}

import { z } from 'zod';
import { copyToArchive } from './core/archive-copy.js';
import { archiveDepsFromEnv } from './core/archive-env.js';
import { type ArchiveProgress, archivePlanSchema, archiveProgressSchema } from './core/contract/archive.js';
import { parseEvent } from './core/handler-kit.js';

const eventSchema = z.object({ plan: archivePlanSchema, progress: archiveProgressSchema });

/** Copies the next share of the archive list (hashed in flight); objects already archived are referenced. */
export async function handler(event: unknown): Promise<ArchiveProgress> {
  const { plan, progress } = parseEvent('archive-copy', eventSchema, event);
  return copyToArchive(plan, progress, archiveDepsFromEnv());
}

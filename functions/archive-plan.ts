import { z } from 'zod';
import { planArchive } from './core/archive-copy.js';
import { archiveDepsFromEnv } from './core/archive-env.js';
import type { ArchivePlan } from './core/contract/archive.js';
import { parseEvent } from './core/handler-kit.js';
import { backupIdPattern } from './core/vault-layout.js';

const eventSchema = z.object({ backupId: z.string().regex(backupIdPattern, 'must be a backup id') });

/** Lists exactly the objects one complete backup references and writes the archive's object list. */
export async function handler(event: unknown): Promise<ArchivePlan> {
  const { backupId } = parseEvent('archive-plan', eventSchema, event);
  return planArchive(backupId, archiveDepsFromEnv());
}

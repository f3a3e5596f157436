/**
 * `npm run bench [-- copy|backup]`: benchmarks side by side with the tools operators use today.
 * - copy:   peak memory and throughput copying a 1 GiB object (copyBatch vs mc cp vs aws s3 cp).
 * - backup: an hourly backup, manual procedure vs wire-backup (full, then after a small change).
 * Needs the local stack (`npm run stack -- up`). Figures go to stdout, progress to stderr.
 */
import { main as backupVsManual } from './backup-vs-manual.js';
import { main as copyMemory } from './copy-memory.js';

const which = process.argv[2] ?? 'all';
if (which === 'copy' || which === 'all') await copyMemory();
if (which === 'backup' || which === 'all') await backupVsManual();

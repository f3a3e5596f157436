import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root, from this module's location. */
export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

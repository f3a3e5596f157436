import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { seedWire } from './seed/index.js';
import { readStackInfo, repoRoot, type StackInfo } from './stack-info.js';

/** Brings the local stack up (idempotent: seconds when it already runs) and returns its description. */
export function ensureStackUp(log: (line: string) => void): StackInfo {
  log('local stack: wire-stack up (idempotent)');
  execFileSync(join(repoRoot, 'local-stack', 'bin', 'wire-stack'), ['up'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return readStackInfo();
}

/** Seeds smoke-sized Wire data when the stack has none yet (no `brig` keyspace directory on node 1). */
export async function ensureSeeded(stack: StackInfo, log: (line: string) => void): Promise<boolean> {
  const node = stack.cassandra.nodes[0];
  const seeded =
    node !== undefined &&
    existsSync(join(node.dataDir, 'brig')) &&
    readdirSync(join(node.dataDir, 'brig')).length > 0;
  if (seeded) return false;
  log('local stack: no Wire data yet, seeding a smoke-sized installation');
  await seedWire({
    stack,
    size: 'smoke',
    flush: true,
    onProgress: (p) => log(`seed ${p.phase}: ${p.message}`),
  });
  return true;
}

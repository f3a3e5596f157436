import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, type StackInfo } from '../stack-info.js';

/**
 * Kills Cassandra node1 of `stack` (SIGKILL of its JVM, as a host crash or an OOM kill would); resolves
 * to a function that starts it again (`wire-stack up`, which starts only what is down).
 */
export async function killCassandraNode(stack: StackInfo): Promise<() => Promise<void>> {
  const pidFile = join(stack.stackDir, 'cassandra', 'node1', 'cassandra.pid');
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  process.kill(pid, 'SIGKILL');
  return async () => {
    execFileSync(join(repoRoot, 'local-stack', 'bin', 'wire-stack'), ['up'], { stdio: 'ignore' });
  };
}

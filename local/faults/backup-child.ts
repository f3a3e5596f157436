import { localConfig } from '../local-config.js';
import { runLocal } from '../local-run.js';
import { readStackInfo } from '../stack-info.js';

/**
 * A backup run in a process of its own, for the fault "the runner killed mid-batch" (the stand-in for
 * a Lambda or the execution dying): `bin/node22 --import tsx local/faults/backup-child.ts`. Every runner
 * event is one JSON line on stdout, so the test can kill this process (and its group: the Lambda
 * workers and host scripts) at the moment it chooses; the run's result is the last line.
 */
const stack = readStackInfo();
const result = await runLocal({
  stateMachine: 'wire-backup',
  input: { trigger: 'manual' },
  stack,
  config: localConfig(stack),
  onEvent: (event) => process.stdout.write(`${JSON.stringify(event)}\n`),
});
process.stdout.write(`${JSON.stringify({ type: 'Result', status: result.status, error: result.error })}\n`);

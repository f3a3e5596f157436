import { parseArgs } from 'node:util';
import type { BackupManifest } from '../functions/core/commit.js';
import { ensureSeeded, ensureStackUp } from '../local/ensure-stack.js';
import { runLocal } from '../local/local-run.js';
import type { JsonValue } from '../local/runner/asl.js';
import { progressPrinter } from './format.js';
import { backupSummary } from './summary.js';

const usage = `usage: wire-backup <command> [options]

  backup  --local [--components wireServer,cassandra,minio] [--no-seed] [--verbose] [--json]
          Back up the local Wire stack (brought up, and seeded if empty, first) through the
          synthesized backup state machine, then print a summary.

Options:
  --local        run against the local stack (the only mode of this build of the CLI)
  --verbose      print every state machine event
  --json         print the result as JSON on stdout`;

const err = (line: string) => process.stderr.write(`${line}\n`);

/**
 * The handlers log JSON lines with console.log (CloudWatch in AWS). Locally they go to stderr with
 * --verbose and are dropped otherwise, so stdout carries only the summary (or --json).
 */
function routeHandlerLogs(verbose: boolean): void {
  console.log = verbose ? (...args: unknown[]) => console.error(...args) : () => {};
}

async function backup(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      local: { type: 'boolean', default: false },
      components: { type: 'string' },
      'no-seed': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.local) {
    err('wire-backup backup: in AWS the schedule starts backups; use --local to back up the local stack');
    return 2;
  }
  routeHandlerLogs(values.verbose);
  const stack = ensureStackUp(err);
  if (!values['no-seed']) await ensureSeeded(stack, err);
  const input: Record<string, JsonValue> = { trigger: 'manual' };
  if (values.components) input.components = values.components.split(',');
  err('backup: running the wire-backup state machine (synthesized definition) locally');
  const result = await runLocal({
    stateMachine: 'wire-backup',
    input,
    stack,
    onEvent: progressPrinter(err, values.verbose),
  });
  if (values.json)
    process.stdout.write(
      `${JSON.stringify(result.status === 'SUCCEEDED' ? result.output : { status: result.status, error: result.error, cause: result.cause }, null, 2)}\n`,
    );
  if (result.status !== 'SUCCEEDED') {
    err(`\nwire-backup: backup FAILED (${result.error}): ${result.cause ?? ''}`);
    err(
      '  No manifest was written: this run is not a backup. The cause is also in backups/<id>/failed.json in the vault.',
    );
    return 1;
  }
  const output = result.output as unknown as { manifest: BackupManifest };
  if (!values.json) process.stdout.write(`\n${backupSummary(output.manifest, stack.vault.bucket)}\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'backup':
      return backup(rest);
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(`${usage}\n`);
      return command === undefined ? 2 : 0;
    default:
      err(`wire-backup: unknown command '${command}'\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    err(`wire-backup: ${(error as Error).message}`);
    process.exit(1);
  },
);

import { parseArgs } from 'node:util';
import { backupSummarySchema } from '../functions/core/contract/backup.js';
import { purgeReportSchema } from '../functions/core/contract/purge.js';
import { restoreReportSchema } from '../functions/core/contract/restore.js';
import { archiveConfig, type CassandraSeries, cassandraSeries, runDrill } from '../local/drill.js';
import { ensureSeeded, ensureStackUp } from '../local/ensure-stack.js';
import { runLocal } from '../local/local-run.js';
import type { JsonValue } from '../local/runner/asl.js';
import { createStackS3Client } from '../local/stack-clients.js';
import { readStackInfo } from '../local/stack-info.js';
import { deployedOptions } from './deployed.js';
import {
  deployedBackup,
  deployedDrill,
  deployedList,
  deployedPurge,
  deployedRestore,
} from './deployed-commands.js';
import { progressPrinter } from './format.js';
import { archiveListCommand, showCommand, statusCommand, verifyCommand, withVaultAccess } from './inspect.js';
import { listBackups } from './list.js';
import { formatPurgeReport, readLatestPurgeReport } from './purge-report.js';
import { backupSummary, drillSummary, restoreSummary } from './summary.js';

const usage = `usage: wire-backup <command> [options]

Every command runs against the deployed stack, found from its CloudFormation outputs
(--outputs cdk-outputs.json, as 'cdk deploy --outputs-file' writes them; or WIRE_BACKUP_OUTPUTS;
or --vault-bucket/--backup-arn/--restore-arn/--purge-arn), with the AWS SDK's standard credentials
and region (AWS_PROFILE, AWS_REGION), unless --local runs it against the local stack.

  backup   [--local] [--components wireServer,cassandra,minio] [--full] [--no-seed] [--verbose] [--json]
           Start a backup now (locally: the local Wire stack, brought up and seeded if empty) and
           follow it; print a summary.
  list     [--local] [--limit N]
           List the backups in the vault, newest first: complete, failed, incomplete.
  restore  [--local] --backup-id <id|latest> --confirm <id> [--dry-run] [--overwrite]
           [--components ...] [--bucket assets=assets-restored] [--source vault|archive]
           [--verbose] [--json]
           Restore a backup through the restore state machine (the same JSON input the Step
           Functions console takes; see the README), follow it, print its report. --source archive
           reads the cross-region archive copy (not PostgreSQL: leave it out of --components).
  drill    --local [--from-nodes 1|3] [--to-nodes 1|3] [--size smoke|<N>MiB] [--restore-older]
           [--from-version 4.1|5.0] [--to-version 4.1|5.0] [--mode auto|import|refresh|load]
           [--from-archive]
           Disaster-recovery drill: seed, back up, destroy, restore into fresh instances, compare
           every row, object and file; prints the recovery time. --from-archive: the backup is
           archived, the primary vault emptied too, and the restore reads the archive only
           (PostgreSQL, which the archive does not keep, is left out).
  drill    --restore-input restore.json [--from-archive [--archive-wait MIN]] [--json]
           Deployed: back up now, restore that backup into the scratch targets of restore.json,
           follow both; the restore's own verification decides; prints the recovery time.
           --from-archive: waits for the backup's archive copy (default 120 min), then restores
           from the archive ("source": "archive"; PostgreSQL left out unless restore.json names
           the components).
  purge    [--local] [--dry-run] [--report] [--verbose] [--json]
           Delete the backups the retention (vault.retention) no longer keeps, and the object
           versions no kept, running or restoring backup references, through the purge state
           machine; --dry-run lists what would go and why; --report prints the last purge's report.
  status   [--local] [--warning 2h] [--critical 6h] [--json]
           Nagios-style check of the newest complete backup's age: exit 0 OK, 1 WARNING (older than
           --warning, or a newer run failed), 2 CRITICAL (older than --critical, or none), 3 UNKNOWN.
  show     [--local] <id> [--json]
           One backup: state, components and sizes, what it references, its verification, its
           archive copy.
  verify   [--local] <id> [--deep] [--json]
           Re-check every object the backup references against its manifest (read-only): present
           with its size, or with --deep read and hashed. Exit 1 names each damaged object.
  archive list [--local] [--json]
           The backups in the archive bucket (archive.region), newest first: archived or incomplete.

Options:
  --local        run against the local stack (synthesized state machines, local runner)
  --outputs F    the deployed stack's outputs file (cdk deploy --outputs-file F)
  --archive-bucket B --archive-region R   the archive, when the outputs do not name it
  --poll S       seconds between progress polls of a deployed execution (default 5)
  --verbose      print every state machine event (local)
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
      full: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      poll: { type: 'string' },
      ...deployedOptions,
    },
  });
  if (!values.local) {
    const input: Record<string, unknown> = { trigger: 'manual' };
    if (values.components) input.components = values.components.split(',');
    if (values.full) input.full = true;
    return deployedBackup(input, values);
  }
  routeHandlerLogs(values.verbose);
  const stack = ensureStackUp(err);
  if (!values['no-seed']) await ensureSeeded(stack, err);
  const input: Record<string, JsonValue> = { trigger: 'manual' };
  if (values.components) input.components = values.components.split(',');
  if (values.full) input.full = true;
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
  const output = backupSummarySchema.parse(result.output);
  if (!values.json) process.stdout.write(`\n${backupSummary(output.manifest, stack.vault.bucket)}\n`);
  return 0;
}

async function restore(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      local: { type: 'boolean', default: false },
      'backup-id': { type: 'string' },
      confirm: { type: 'string', default: '' },
      'dry-run': { type: 'boolean', default: false },
      overwrite: { type: 'boolean', default: false },
      components: { type: 'string' },
      source: { type: 'string' },
      bucket: { type: 'string', multiple: true },
      verbose: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      poll: { type: 'string' },
      ...deployedOptions,
    },
  });
  if (!values['backup-id']) {
    err('wire-backup restore: --backup-id is required (an id from "wire-backup list", or latest)');
    return 2;
  }
  const input: Record<string, JsonValue> = {
    backupId: values['backup-id'],
    confirm: values.confirm,
    dryRun: values['dry-run'],
    overwrite: values.overwrite,
  };
  if (values.components) input.components = values.components.split(',');
  if (values.source !== undefined) {
    if (values.source !== 'vault' && values.source !== 'archive') {
      err(`wire-backup restore: --source takes vault or archive, not '${values.source}'`);
      return 2;
    }
    input.source = values.source;
  }
  if (values.bucket) {
    const buckets: Record<string, string> = {};
    for (const pair of values.bucket) {
      const [from, to] = pair.split('=');
      if (!from || !to) {
        err(`wire-backup restore: --bucket takes source=target, not '${pair}'`);
        return 2;
      }
      buckets[from] = to;
    }
    input.targets = { minio: { buckets } };
  }
  if (!values.local) return deployedRestore(input, values);
  routeHandlerLogs(values.verbose);
  const stack = ensureStackUp(err);
  err(
    `restore: running the wire-restore state machine (synthesized definition) locally${values['dry-run'] ? ' — dry run, nothing will be written' : ''}`,
  );
  const result = await runLocal({
    stateMachine: 'wire-restore',
    input,
    stack,
    // The local archive is the vault server's second bucket, configured as a deployed stack's would be.
    ...(values.source === 'archive' ? { config: archiveConfig(stack) } : {}),
    onEvent: progressPrinter(err, values.verbose),
  });
  if (values.json)
    process.stdout.write(
      `${JSON.stringify(result.status === 'SUCCEEDED' ? result.output : { status: result.status, error: result.error, cause: result.cause }, null, 2)}\n`,
    );
  if (result.status !== 'SUCCEEDED') {
    err(`\nwire-backup: restore FAILED (${result.error}): ${result.cause ?? ''}`);
    return 1;
  }
  if (!values.json)
    process.stdout.write(
      `\n${restoreSummary(restoreReportSchema.parse(result.output), stack.vault.bucket)}\n`,
    );
  return 0;
}

async function list(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { local: { type: 'boolean', default: false }, limit: { type: 'string' }, ...deployedOptions },
  });
  if (!values.local) return deployedList(values);
  const stack = readStackInfo();
  const s3 = createStackS3Client(stack.vault);
  try {
    process.stdout.write(
      `${await listBackups(s3, stack.vault.bucket, values.limit ? { limit: Number(values.limit) } : {})}\n`,
    );
  } finally {
    s3.destroy();
  }
  return 0;
}

async function drill(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      local: { type: 'boolean', default: false },
      'from-nodes': { type: 'string', default: '1' },
      'to-nodes': { type: 'string', default: '1' },
      size: { type: 'string', default: 'smoke' },
      'restore-older': { type: 'boolean', default: false },
      'from-archive': { type: 'boolean', default: false },
      'archive-wait': { type: 'string' },
      'from-version': { type: 'string' },
      'to-version': { type: 'string' },
      mode: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      poll: { type: 'string' },
      'restore-input': { type: 'string' },
      ...deployedOptions,
    },
  });
  if (!values.local) return deployedDrill(values);
  const nodes = (v: string) => {
    if (v !== '1' && v !== '3') throw new Error(`--from-nodes/--to-nodes take 1 or 3, not ${v}`);
    return Number(v) as 1 | 3;
  };
  const series = (v: string | undefined): CassandraSeries | undefined => {
    if (v === undefined) return undefined;
    const found = cassandraSeries.find((s) => s === v);
    if (!found) throw new Error(`--from-version/--to-version take ${cassandraSeries.join(' or ')}, not ${v}`);
    return found;
  };
  const modes = ['auto', 'import', 'refresh', 'load'] as const;
  const mode = modes.find((m) => m === values.mode);
  if (values.mode !== undefined && !mode)
    throw new Error(`--mode takes ${modes.join(', ')}, not ${values.mode}`);
  routeHandlerLogs(values.verbose);
  const fromVersion = series(values['from-version']);
  const toVersion = series(values['to-version']);
  const report = await runDrill({
    ...(fromVersion ? { fromVersion } : {}),
    ...(toVersion ? { toVersion } : {}),
    ...(mode ? { mode } : {}),
    fromNodes: nodes(values['from-nodes']),
    toNodes: nodes(values['to-nodes']),
    size: values.size,
    restoreOlder: values['restore-older'],
    fromArchive: values['from-archive'],
    log: err,
  });
  process.stdout.write(`\n${drillSummary(report)}\n`);
  return report.differences.length === 0 ? 0 : 1;
}

async function purge(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      local: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      report: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      poll: { type: 'string' },
      ...deployedOptions,
    },
  });
  if (!values.local) return deployedPurge({ dryRun: values['dry-run'], report: values.report }, values);
  routeHandlerLogs(values.verbose);
  const stack = ensureStackUp(err);
  if (values.report) {
    const s3 = createStackS3Client(stack.vault);
    try {
      const report = await readLatestPurgeReport(s3, stack.vault.bucket);
      if (!report) {
        err(
          `wire-backup purge: no purge report in s3://${stack.vault.bucket}/purges/ yet: run 'wire-backup purge --local --dry-run'`,
        );
        return 1;
      }
      process.stdout.write(
        `${values.json ? JSON.stringify(report, null, 2) : formatPurgeReport(report, stack.vault.bucket)}\n`,
      );
      return report.status === 'failed' ? 1 : 0;
    } finally {
      s3.destroy();
    }
  }
  err(
    `purge: running the wire-purge state machine (synthesized definition) locally${values['dry-run'] ? ' — dry run, nothing will be deleted' : ''}`,
  );
  const result = await runLocal({
    stateMachine: 'wire-purge',
    input: { dryRun: values['dry-run'], trigger: 'manual' },
    stack,
    onEvent: progressPrinter(err, values.verbose),
  });
  if (result.status !== 'SUCCEEDED') {
    err(`\nwire-backup: purge FAILED (${result.error}): ${result.cause ?? ''}`);
    err('  The report is in purges/<id>/report.json in the vault (wire-backup purge --local --report).');
    if (values.json)
      process.stdout.write(
        `${JSON.stringify({ status: result.status, error: result.error, cause: result.cause }, null, 2)}\n`,
      );
    return 1;
  }
  const report = purgeReportSchema.parse(result.output);
  process.stdout.write(
    `${values.json ? JSON.stringify(report, null, 2) : `\n${formatPurgeReport(report, stack.vault.bucket)}`}\n`,
  );
  return 0;
}

/** `status`, `show <id>`, `verify <id>`, `archive list`: read-only, `--local` or the deployed stack. */
async function inspect(command: string, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      local: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      warning: { type: 'string' },
      critical: { type: 'string' },
      deep: { type: 'boolean', default: false },
      ...deployedOptions,
    },
  });
  const [first] = positionals;
  if (command === 'status')
    return withVaultAccess(values, (access) => statusCommand(access, values)).catch((error: unknown) => {
      // A Nagios plugin that cannot tell says UNKNOWN (3), never an exit code a monitor reads as a state.
      process.stdout.write(`WIRE-BACKUP UNKNOWN - ${(error as Error).message}\n`);
      return 3;
    });
  if (command === 'archive') {
    if (first !== 'list') {
      err(
        `wire-backup archive: the sub-command is 'list' ('wire-backup archive list'), not '${first ?? ''}'`,
      );
      return 2;
    }
    return withVaultAccess(values, (access) => archiveListCommand(access, values));
  }
  if (!first) {
    err(`wire-backup ${command}: give a backup id (from 'wire-backup list')`);
    return 2;
  }
  if (command === 'show') return withVaultAccess(values, (access) => showCommand(access, first, values));
  return withVaultAccess(values, (access) => verifyCommand(access, first, values, err));
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'backup':
      return backup(rest);
    case 'restore':
      return restore(rest);
    case 'list':
      return list(rest);
    case 'drill':
      return drill(rest);
    case 'purge':
      return purge(rest);
    case 'status':
    case 'show':
    case 'verify':
    case 'archive':
      return inspect(command, rest);
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

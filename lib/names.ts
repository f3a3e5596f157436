import { ssmOutputLogGroupName } from '../functions/core/contract/host-command.js';
import type { WireBackupConfig } from './config.js';

/**
 * The fixed names of an installation's resources: state machines, SSM documents, the host-command log
 * group, the configuration parameter, the archive bucket and key alias, the stacks. Every fixed name comes from here, built from
 * `namePrefix` (config), so that two installations with different prefixes share an account and a
 * region (alarms, rules, roles, log groups of functions and the dashboard get names CloudFormation
 * makes unique). Without `namePrefix` the names are the ones wire-backup has always deployed (`wire-backup`,
 * `WireBackup-Preflight`, …): an installation deployed before the prefix keeps its resources.
 */
export interface ResourceNames {
  readonly backupStateMachine: string;
  readonly restoreStateMachine: string;
  readonly purgeStateMachine: string;
  readonly archiveStateMachine: string;
  /** SSM document name of a host document, from its name in `lib/host-documents.ts` (`WireBackup-Preflight`). */
  document(specName: string): string;
  /** CloudWatch Logs group of the host commands' output (SSM `CloudWatchOutputConfig`). */
  readonly hostCommandLogGroup: string;
  /** SSM parameter holding the configuration (`functions/core/config-parameter.ts`). */
  readonly configParameter: string;
  /** Start of the archive bucket's default name (`<this>-<account>-<archive region>`). */
  readonly archiveBucketBase: string;
  /** Alias of the archive's KMS key (the backup stack's grants find the key by it). */
  readonly archiveKeyAlias: string;
  /** CloudFormation stack names (`lib/app.ts`). */
  readonly stack: string;
  readonly archiveStack: string;
}

/** The names of the installation `config` describes. */
export function resourceNames(config: Pick<WireBackupConfig, 'namePrefix'>): ResourceNames {
  const prefix = config.namePrefix;
  if (prefix === undefined) {
    return {
      backupStateMachine: 'wire-backup',
      restoreStateMachine: 'wire-restore',
      purgeStateMachine: 'wire-purge',
      archiveStateMachine: 'wire-archive',
      document: (specName) => specName,
      hostCommandLogGroup: ssmOutputLogGroupName,
      configParameter: '/wire-backup/config',
      archiveBucketBase: 'wire-backup-archive',
      archiveKeyAlias: 'alias/wire-backup-archive',
      stack: 'WireBackup',
      archiveStack: 'WireBackupArchive',
    };
  }
  return {
    backupStateMachine: `${prefix}-backup`,
    restoreStateMachine: `${prefix}-restore`,
    purgeStateMachine: `${prefix}-purge`,
    archiveStateMachine: `${prefix}-archive`,
    document: (specName) => `${prefix}-${specName.replace(/^WireBackup-/, '')}`,
    hostCommandLogGroup: `/${prefix}/host-commands`,
    configParameter: `/${prefix}/config`,
    archiveBucketBase: `${prefix}-archive`,
    archiveKeyAlias: `alias/${prefix}-archive`,
    stack: `${prefix}-wire-backup`,
    archiveStack: `${prefix}-wire-backup-archive`,
  };
}

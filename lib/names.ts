import type { WireBackupConfig } from './config.js';

/**
 * The fixed names of an installation's resources: state machines, SSM documents, the host-command log
 * group, the configuration parameter and the dashboard. Every fixed name comes from here, built from
 * `namePrefix` (config), so that two installations with different prefixes share an account and a
 * region. Without `namePrefix` the names are the ones wire-backup has always deployed (`wire-backup`,
 * `WireBackup-Preflight`, …): an installation deployed before the prefix keeps its resources.
 */
export interface ResourceNames {
  readonly backupStateMachine: string;
  readonly restoreStateMachine: string;
  readonly purgeStateMachine: string;
  readonly archiveStateMachine: string;
  /** SSM document name of a host document, from its base name (`Preflight`, `CassandraSnapshot`, …). */
  document(baseName: string): string;
  /** CloudWatch Logs group of the host commands' output (SSM `CloudWatchOutputConfig`). */
  readonly hostCommandLogGroup: string;
  /** SSM parameter holding the configuration (`functions/core/config-parameter.ts`). */
  readonly configParameter: string;
  readonly dashboard: string;
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
      document: (base) => `WireBackup-${base}`,
      hostCommandLogGroup: '/wire-backup/host-commands',
      configParameter: '/wire-backup/config',
      dashboard: 'wire-backup',
    };
  }
  return {
    backupStateMachine: `${prefix}-backup`,
    restoreStateMachine: `${prefix}-restore`,
    purgeStateMachine: `${prefix}-purge`,
    archiveStateMachine: `${prefix}-archive`,
    document: (base) => `${prefix}-${base}`,
    hostCommandLogGroup: `/${prefix}/host-commands`,
    configParameter: `/${prefix}/config`,
    dashboard: prefix,
  };
}

import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { WireBackupArchiveStack } from './archive-stack.js';
import { loadConfigFile } from './config.js';
import { featureFlags } from './feature-flags.js';
import { applyNagChecks, suppressNagFindings } from './nag.js';
import { resourceNames } from './names.js';
import { projectRoot } from './paths.js';
import { WireBackupStack } from './wire-backup-stack.js';

// `cdk synth -c config=path/to/config.json`; defaults to the example three-node installation.
const app = new App({ context: featureFlags });
const configFile =
  (app.node.tryGetContext('config') as string | undefined) ?? join(projectRoot, 'config', 'example.json');
const config = loadConfigFile(configFile);
// Stack names from namePrefix (lib/names.ts): `WireBackup` without one, `<prefix>-wire-backup` with one.
const names = resourceNames(config);
const stack = new WireBackupStack(app, names.stack, {
  config,
  description: 'wire-backup: backup and disaster recovery for an on-premise Wire installation',
});
suppressNagFindings(stack);
// The cross-region archive bucket and its key, in archive.region (deploy it first).
if (config.archive) {
  const archive = new WireBackupArchiveStack(app, names.archiveStack, {
    archive: config.archive,
    namePrefix: config.namePrefix,
    env: { region: config.archive.region },
    description: 'wire-backup: cross-region archive bucket and its KMS key',
  });
  suppressNagFindings(archive);
}
// cdk-nag AWS Solutions checks: an unsuppressed finding fails synth (suppressions and reasons: lib/nag.ts).
applyNagChecks(app);
app.synth();

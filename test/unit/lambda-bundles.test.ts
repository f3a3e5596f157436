import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../lib/config.js';
import { featureFlags } from '../../lib/feature-flags.js';
import { projectRoot } from '../../lib/paths.js';
import { WireBackupStack } from '../../lib/wire-backup-stack.js';
import { synthesizeCloudAssembly } from '../../local/runner/cloud-assembly.js';
import { extractTemplate } from '../../local/runner/extract.js';

const run = promisify(execFile);

describe('Lambda bundles', () => {
  it('load under Node 22 from a folder with no node_modules and export the handler', async () => {
    // Arrange: the bundles CDK builds for deployment, each alone in a folder as in Lambda's /var/task.
    const config = loadConfigFile(join(projectRoot, 'config', 'example.json'));
    const synthesized = synthesizeCloudAssembly({
      context: featureFlags,
      key: { config },
      build: (app) => new WireBackupStack(app, 'WireBackup', { config }),
    });
    const functions = extractTemplate(synthesized.template, { assets: synthesized.assets }).functions.filter(
      (fn) => fn.handler !== undefined,
    );
    const taskRoot = mkdtempSync(join(tmpdir(), 'wire-backup-bundles-'));

    try {
      // Act
      const failures: string[] = [];
      for (const fn of functions) {
        if (!fn.code) {
          failures.push(`${fn.handler}: no bundled asset`);
          continue;
        }
        const dot = fn.code.handler.lastIndexOf('.');
        const dir = join(taskRoot, fn.logicalId);
        cpSync(fn.code.directory, dir, { recursive: true });
        const script = `const m = await import(${JSON.stringify(join(dir, `${fn.code.handler.slice(0, dot)}.mjs`))});
          if (typeof m[${JSON.stringify(fn.code.handler.slice(dot + 1))}] !== 'function') throw new Error('no exported handler');`;
        try {
          await run(join(projectRoot, 'bin', 'node22'), ['--input-type=module', '-e', script], {
            cwd: dir,
            env: { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-1', ...fn.environment },
          });
        } catch (error) {
          const stderr = String((error as { stderr?: string }).stderr ?? error);
          failures.push(`${fn.handler}: ${/^\w*Error.*$/m.exec(stderr)?.[0] ?? stderr.slice(0, 300)}`);
        }
      }

      // Assert
      expect(functions.length).toBeGreaterThan(10);
      expect(failures).toEqual([]);
    } finally {
      rmSync(taskRoot, { recursive: true, force: true });
    }
  });
});

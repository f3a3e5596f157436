import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import aslValidator from 'asl-validator';
import { App } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../lib/config.js';
import { featureFlags } from '../../lib/feature-flags.js';
import { projectRoot } from '../../lib/paths.js';
import { WireBackupStack } from '../../lib/wire-backup-stack.js';
import type { AslDefinition } from '../../local/runner/asl.js';
import { type CfnTemplate, extractTemplate } from '../../local/runner/extract.js';

/**
 * AWS's own checks on what `cdk synth` produces: `cfn-lint` (AWS CloudFormation Linter, PyPI, installed
 * into the tools cache by `wire-stack install`) on every template, and `asl-validator` on every state
 * machine definition (backup, restore, purge, archive). Each check also runs on a broken input, so a check that cannot fail is seen.
 */
const cache = process.env.WIRE_BACKUP_CACHE ?? join(projectRoot, '.cache');
const cfnLint = join(cache, 'cfn-lint-venv', 'bin', 'cfn-lint');

function synthesize(configFile: string): CfnTemplate {
  const app = new App({ context: { ...featureFlags, 'aws:cdk:bundling-stacks': [] } });
  new WireBackupStack(app, 'WireBackup', { config: loadConfigFile(configFile) });
  return app.synth().getStackByName('WireBackup').template as CfnTemplate;
}

interface CfnLintMatch {
  readonly Filename: string;
  readonly Level: 'Error' | 'Warning' | 'Informational';
  readonly Message: string;
  readonly Rule: { readonly Id: string };
  readonly Location: { readonly Path: readonly (string | number)[] };
}

/** Runs cfn-lint once on `files`; its exit code says only whether it found anything. */
async function lint(files: readonly string[]): Promise<CfnLintMatch[]> {
  if (!existsSync(cfnLint)) {
    throw new Error(
      `cfn-lint not found at ${cfnLint}: run local-stack/bin/wire-stack install (it pip-installs cfn-lint there)`,
    );
  }
  const { stdout } = await promisify(execFile)(cfnLint, ['--format', 'json', '--', ...files], {
    maxBuffer: 64 * 1024 * 1024,
  }).catch((error: { stdout?: string; code?: number; stderr?: string }) => {
    // 2 = errors, 4 = warnings, 8 = informational (bit flags); anything else is cfn-lint failing.
    if (typeof error.code === 'number' && error.code > 0 && error.code < 16 && error.stdout !== undefined)
      return { stdout: error.stdout };
    throw new Error(`cfn-lint failed: ${error.stderr ?? String(error)}`);
  });
  return JSON.parse(stdout) as CfnLintMatch[];
}

describe('AWS checks of the synthesized stack', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wire-backup-aws-checks-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const templates = {
    example: synthesize(join(projectRoot, 'config', 'example.json')),
  };

  it('passes cfn-lint with 0 errors, and cfn-lint finds the error in a broken template', async () => {
    // Arrange: every synthesized template, and one with a Lambda runtime that does not exist.
    const files = Object.entries(templates).map(([name, template]) => {
      const file = join(dir, `${name}.template.json`);
      writeFileSync(file, JSON.stringify(template));
      return file;
    });
    const broken = structuredClone(templates.example) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const lambda = Object.values(broken.Resources).find((r) => r.Type === 'AWS::Lambda::Function');
    if (!lambda) throw new Error('no Lambda function in the template');
    lambda.Properties.Runtime = 'nodejs4.3-not-a-runtime';
    const brokenFile = join(dir, 'broken.template.json');
    writeFileSync(brokenFile, JSON.stringify(broken));

    // Act
    const matches = await lint([...files, brokenFile]);

    // Assert
    const errors = (file: string) => matches.filter((m) => m.Filename === file && m.Level === 'Error');
    for (const file of files) {
      const found = errors(file).map((m) => `${m.Rule.Id} ${m.Location.Path.join('/')}: ${m.Message}`);
      expect(found, `cfn-lint errors in ${file}`).toEqual([]);
    }
    expect(errors(brokenFile).length).toBeGreaterThan(0);
    const warnings = matches.filter((m) => files.includes(m.Filename) && m.Level === 'Warning');
    console.log(
      `cfn-lint ${files.length} template(s): 0 errors, ${warnings.length} warnings (${[...new Set(warnings.map((w) => w.Rule.Id))].join(', ')})`,
    );
  }, 180_000);

  it('checks every state machine definition with asl-validator: valid, and a broken one is not', () => {
    // Arrange
    const machines = extractTemplate(templates.example).stateMachines;
    expect(machines.map((m) => m.name).sort()).toEqual([
      'wire-archive',
      'wire-backup',
      'wire-purge',
      'wire-restore',
    ]);
    const broken: AslDefinition = structuredClone(machines[0]?.definition ?? { StartAt: '', States: {} });
    const first = broken.States[broken.StartAt] as Record<string, unknown>;
    delete first.Next;
    delete first.End;

    // Act
    const results = machines.map((m) => ({ name: m.name, result: aslValidator(m.definition) }));
    const brokenResult = aslValidator(broken);

    // Assert
    for (const { name, result } of results) {
      expect(result.errorsText('\n'), `asl-validator on ${name}`).toBe('');
      expect(result.isValid).toBe(true);
    }
    expect(brokenResult.isValid).toBe(false);
    console.log(`asl-validator: ${results.map((r) => r.name).join(', ')} valid (0 errors)`);
  });
});

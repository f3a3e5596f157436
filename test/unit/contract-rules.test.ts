import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { type Rule, ruleString, rules, SYSTEM_KEYSPACES } from '../../functions/core/contract/rules.js';
import { bashRuleName, renderBashRules } from '../../functions/core/contract/rules-bash.js';
import { parseConfig } from '../../lib/config.js';
import { HostDocuments } from '../../lib/constructs/host-documents.js';
import { hostDocuments } from '../../lib/host-documents.js';
import { projectRoot } from '../../lib/paths.js';

/**
 * The generated rules and the shared helpers, as synth inlines them; then, for each value after the
 * rule and parameter names, `check_rule <param> <value> <rule>` in a subshell, reporting `ok` or the
 * last stderr line on fd 3 (the helpers send stdout to stderr), NUL-terminated.
 */
const bashChecker = [
  'set -euo pipefail',
  'readonly SCRIPT=rules-test RERUN_HINT="run it again" INTERRUPT_HINT="run it again"',
  renderBashRules(),
  readFileSync(join(projectRoot, 'host-scripts', 'lib', 'common.sh'), 'utf8'),
  'rule=$1 param=$2; shift 2',
  'for value in "$@"; do',
  '  if out=$( (trap on_exit EXIT; check_rule "$param" "$value" "$rule") 2>&1); then printf "ok\\0" >&3',
  '  else printf "%s\\0" "$(printf "%s\\n" "$out" | tail -n 1)" >&3; fi',
  'done',
].join('\n');

/** Runs the generated bash check of `rule` on each value as parameter `param`. */
function bashChecks(
  rule: Rule,
  param: string,
  values: readonly string[],
): { ok: boolean; message: string }[] {
  const run = spawnSync(
    'bash',
    ['-c', bashChecker, 'rules-test', bashRuleName(rule.name), param, ...values],
    {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    },
  );
  if (run.status !== 0) throw new Error(`bash checker failed (${run.status}): ${run.stderr}`);
  const answers = run.stdout.split('\0').slice(0, -1);
  expect(answers).toHaveLength(values.length);
  return answers.map((a) => ({ ok: a === 'ok', message: a }));
}

/** Runs the generated bash check of `rule` on `value` as parameter `param`. */
function bashCheck(rule: Rule, param: string, value: string): { ok: boolean; message: string } {
  const [answer] = bashChecks(rule, param, [value]);
  if (!answer) throw new Error('no answer from the bash checker');
  return answer;
}

/** Values every rule is tried with, besides its own example. */
const hostile = [
  '',
  'x;rm -rf /',
  '$(touch /tmp/x)',
  'true\nfalse',
  ' true',
  '/srv/../etc',
  'backups/../x',
  '..',
  'a//b',
  '/',
  '-x',
];

/** Values that break one rule in particular. */
const bad: Partial<Record<keyof typeof rules, string[]>> = {
  instanceId: ['mi-0123', 'mi-0123456789ABCDEF0', 'x-0123456789abcdef0'],
  backupId: ['2026-11-26T06:15:00Z', '20261126T061500', 'latest'],
  keyspaceName: ['1brig', 'brig-x', 'a'.repeat(49)],
  keyspaceList: [',brig', 'brig,', 'brig,,galley', 'brig galley'],
  absolutePath: ['relative/path', '/a b', '/a/..'],
  restoreTargetPath: ['/', '/etc', '//usr/./share/', '/var', '/home/', '/proc/self', 'relative', '/a/..'],
  bucketName: ['ab', 'Wire', '-wire', 'wire-'],
  clusterName: ['.', '..', '.hidden', 'a'.repeat(65)],
  address: ['10.0.0.1/24', 'host.example'],
  addressList: [',10.0.0.1', '10.0.0.1,', '10.0.0.1 10.0.0.2'],
  boolean: ['True', 'yes', '1'],
  compressionLevel: ['0', '10', 'fast'],
  hostId: ['5F1C3C7E-2B4A-4C1E-9A57-0D6E2F3B8A90', '5f1c3c7e2b4a4c1e9a570d6e2f3b8a90'],
  vaultKey: ['/backups/x', 'backups/', 'backups/../../etc/passwd'],
  optionalVaultKey: ['backups//x', 'backups/../x'],
  sha256: ['E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855', 'abc'],
  consistency: ['one', 'EACH_QUORUM'],
  awsRegion: ['eu-central', 'EU-CENTRAL-2'],
  scheduleExpression: ['rate(1 week)', 'every hour'],
};

describe('validation rules', () => {
  it('are anchored and stay within what JS, SSM allowedPattern and POSIX ERE share', () => {
    for (const rule of Object.values(rules)) {
      // Arrange / Act
      const { pattern } = rule;

      // Assert
      expect(pattern, rule.name).toMatch(/^\^.*\$$/);
      expect(pattern, rule.name).not.toMatch(/\\[dDwWsSbB]|\(\?|[*+?}]\?/);
      expect(() => new RegExp(pattern), rule.name).not.toThrow();
    }
  });

  it('refuse and accept the same values in zod and in the generated bash check, with the same reason', () => {
    for (const rule of Object.values(rules)) {
      // Arrange
      const values = [rule.example, ...hostile, ...(bad[rule.name] ?? [])];

      // Act
      const answers = bashChecks(rule, 'someParam', values);

      values.forEach((value, i) => {
        const zod = ruleString(rule).safeParse(value);
        const bash = answers[i] ?? { ok: false, message: 'no answer' };

        // Assert
        const what = `${rule.name} ${JSON.stringify(value)}`;
        expect(bash.ok, `${what}: bash says ${bash.message}`).toBe(zod.success);
        if (value === rule.example) expect(zod.success, what).toBe(true);
        if (bad[rule.name]?.includes(value)) expect(zod.success, what).toBe(false);
        if (zod.success) return;
        const [issue] = zod.error.issues;
        expect(bash.message, what).toMatch(/^wire-backup: .*: parameter someParam is invalid: '/);
        if (issue?.message === `must be ${rule.description}`) {
          expect(bash.message, what).toContain(
            ` is not ${rule.description} — set SSM_someParam to ${rule.description}`,
          );
        } else if (issue?.message.includes('system folder')) {
          const system = /system folder (\S+):/.exec(issue.message)?.[1];
          expect(bash.message, what).toMatch(new RegExp(`(is|lies below) the system folder ${system} — `));
        } else {
          expect(issue?.message, what).toBe('must not contain a .. segment');
          expect(bash.message, what).toContain(
            `has a '..' segment — set SSM_someParam to a value without '..'`,
          );
        }
      });
    }
  });

  it('refuse a bad configuration value in the config schema as in the host script check', () => {
    // Arrange
    const config = JSON.parse(readFileSync(join(projectRoot, 'config', 'example.json'), 'utf8'));
    config.wireServer.path = '/srv/wire-server/../../etc';
    config.clusterName = '..';

    // Act
    const parse = () => parseConfig(config, 'wire.json');
    const pathCheck = bashCheck(rules.absolutePath, 'wireServerPath', config.wireServer.path);
    const clusterCheck = bashCheck(rules.clusterName, 'clusterName', config.clusterName);

    // Assert
    expect(parse).toThrow(/wireServer\.path: must not contain a \.\. segment/);
    expect(parse).toThrow(new RegExp(`clusterName: must be ${rules.clusterName.description}`));
    expect(pathCheck.message).toMatch(/parameter wireServerPath is invalid: .* has a '\.\.' segment/);
    expect(clusterCheck.message).toContain(
      `parameter clusterName is invalid: '..' is not ${rules.clusterName.description}`,
    );
  });

  it('give bash the one list of system keyspaces', () => {
    // Act
    const run = spawnSync('bash', ['-c', `${renderBashRules()}\nprintf '%s' "$SYSTEM_KEYSPACES"`], {
      encoding: 'utf8',
    });

    // Assert
    expect(run.stdout.trim().split(' ')).toEqual([...SYSTEM_KEYSPACES]);
  });
});

describe('host document parameters', () => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Docs');
  new HostDocuments(stack, 'HostDocuments', { documents: hostDocuments });
  const synthesized = Object.values(Template.fromStack(stack).findResources('AWS::SSM::Document'));

  it('have as allowedPattern exactly the pattern of their rule in the synthesized template', () => {
    for (const spec of Object.values(hostDocuments)) {
      // Arrange
      const doc = synthesized.find((d) => d.Properties.Name === spec.name);
      expect(doc, spec.name).toBeDefined();
      const parameters = doc?.Properties.Content.parameters as Record<string, { allowedPattern: string }>;

      // Assert
      expect(Object.keys(parameters).sort(), spec.name).toEqual(Object.keys(spec.parameters).sort());
      for (const [name, p] of Object.entries(spec.parameters)) {
        expect(parameters[name]?.allowedPattern, `${spec.name} ${name}`).toBe(p.rule.pattern);
        expect(Object.values(rules), `${spec.name} ${name}`).toContain(p.rule);
      }
    }
  });

  it('have defaults their rule accepts, and are checked by their script against the same rule', () => {
    for (const spec of Object.values(hostDocuments)) {
      const script = readFileSync(join(projectRoot, 'host-scripts', spec.script), 'utf8');
      for (const [name, p] of Object.entries(spec.parameters) as [
        string,
        { rule: Rule; default?: string },
      ][]) {
        // Assert
        if (p.default !== undefined) {
          expect(ruleString(p.rule).safeParse(p.default).success, `${spec.name} ${name} default`).toBe(true);
        }
        const checks = [
          ...script.matchAll(new RegExp(`^\\s*check_rule ${name} "[^"]*" ([A-Z0-9_]+)$`, 'gm')),
        ];
        expect(
          checks.map((m) => m[1]),
          `${spec.script} checks ${name}`,
        ).toEqual([bashRuleName(p.rule.name)]);
      }
    }
  });
});

import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Rule, rules } from '../../functions/core/contract/rules.js';
import { postgresqlWalPrefix } from '../../functions/core/vault-layout.js';
import { localConfig } from '../../local/local-config.js';
import { runLocal, synthesizeLocal } from '../../local/local-run.js';
import type { JsonObject } from '../../local/runner/asl.js';
import type { RunnerEvent } from '../../local/runner/events.js';
import { LocalSsmExecutor } from '../../local/runner/ssm-executor.js';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { listVersions } from '../support/vault.js';

/**
 * Hostile values through every entry point: each state machine input field and each SSM document
 * parameter gets shell metacharacters, traversal, an oversize value, a NUL and a newline, each added to
 * a valid value of the field so that only the hostile part can be the reason for a refusal. Each must
 * be refused before anything runs or is written: a state machine execution fails in its first state
 * (Prepare, Plan Restore) with InvalidInputError; an SSM parameter is refused by SendCommand's
 * validation (the document's allowedPattern and maxChars, as SSM does) and, when the script is run
 * directly with bash, by its own check_rule (exit non-zero, no tool called).
 */

interface Hostile {
  readonly label: string;
  readonly value: string;
}

/** The hostile variants of a valid value. */
function hostileValues(valid: string): Hostile[] {
  return [
    { label: '$(id)', value: `${valid}$(id)` },
    { label: 'backticks', value: `${valid}\`id\`` },
    { label: ';', value: `${valid};id` },
    { label: '|', value: `${valid}|id` },
    { label: '../', value: valid.includes('/') ? `${valid}/../../../etc` : `../../${valid}` },
    // Longer than any field allows, in the field's own shape (inserted after the first character).
    { label: 'oversize', value: `${valid.slice(0, 1)}${'a'.repeat(5000)}${valid.slice(1)}` },
    { label: 'NUL', value: `${valid}\0id` },
    { label: 'newline', value: `${valid}\nid` },
  ];
}

const printTable = (title: string, head: string[], rows: string[][]) => {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.info(
    [title, line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n'),
  );
};
const oneLine = (text: string, max = 110) => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

interface DocumentParameter {
  readonly type?: string;
  readonly allowedPattern?: string;
  readonly default?: string;
  readonly maxChars?: number;
}

/** The rule whose pattern a parameter has (several rules may share one: any gives a valid example). */
function ruleOf(pattern: string | undefined): Rule | undefined {
  return Object.values(rules).find((r) => r.pattern === pattern);
}

/** Runs a document's script with bash as the SSM agent would, without any host profile or credentials. */
function runScriptDirectly(
  script: string,
  env: Record<string, string>,
  sandbox: string,
): Promise<{ exitCode: number | null; stderr: string; error?: string }> {
  return new Promise((resolve) => {
    let child: ReturnType<typeof spawn>;
    writeFileSync(join(sandbox, 'script.sh'), script);
    try {
      child = spawn('bash', [join(sandbox, 'script.sh')], {
        cwd: join(sandbox, 'cwd'),
        env: {
          PATH: `${join(sandbox, 'stubs')}:/usr/local/bin:/usr/bin:/bin`,
          HOME: join(sandbox, 'home'),
          TMPDIR: join(sandbox, 'tmp'),
          ...env,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    } catch (error) {
      resolve({ exitCode: null, stderr: '', error: (error as Error).message });
      return;
    }
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('close', (exitCode) => resolve({ exitCode, stderr }));
  });
}

describe('hostile inputs', () => {
  let stack: StackInfo;
  let s3: S3Client;
  beforeAll(() => {
    stack = readStackInfo();
    s3 = createStackS3Client(stack.vault);
  });
  afterAll(() => s3?.destroy());

  it('every SSM document parameter refuses metacharacters, traversal, oversize, NUL and newline, in SendCommand and in bash', async () => {
    // Arrange: the synthesized documents; a sandbox whose stubs record any tool the script would call.
    const { documents } = synthesizeLocal(localConfig(stack));
    const sandbox = mkdtempSync(join(tmpdir(), 'wire-backup-hostile-'));
    const calls = join(sandbox, 'calls.log');
    const tools = [
      'aws',
      'nodetool',
      'cqlsh',
      'sstableloader',
      'tar',
      'gzip',
      'mc',
      'curl',
      'rsync',
      'chown',
      'flock',
    ];
    for (const dir of ['stubs', 'home', 'tmp', 'cwd', 'ssm-stack'])
      mkdirSync(join(sandbox, dir), { recursive: true });
    for (const tool of tools) {
      const stub = join(sandbox, 'stubs', tool);
      writeFileSync(stub, `#!/bin/sh\necho "${tool} $*" >> '${calls}'\nexit 0\n`);
      chmodSync(stub, 0o755);
    }
    // If SendCommand let a value through, the host profile stops the command before the script runs.
    const stopFile = join(sandbox, 'host.env');
    writeFileSync(stopFile, 'exit 97\n');
    const instanceId = 'mi-00000000000000c01';
    const executor = new LocalSsmExecutor({
      documents,
      stackDir: join(sandbox, 'ssm-stack'),
      hosts: { [instanceId]: { envFile: stopFile } },
    });
    const rows: string[][] = [];
    const failures: string[] = [];
    try {
      for (const document of documents) {
        const specs = (document.content.parameters ?? {}) as Record<string, DocumentParameter>;
        const step = (document.content.mainSteps as JsonObject[])[0] as { inputs: { runCommand: string[] } };
        const script = step.inputs.runCommand.join('\n');
        const valid: Record<string, string> = {};
        for (const [name, spec] of Object.entries(specs)) {
          const example = spec.default ?? ruleOf(spec.allowedPattern)?.example;
          if (example === undefined)
            throw new Error(`${document.name}.${name}: no rule has its allowedPattern`);
          valid[name] = example;
        }
        for (const [name] of Object.entries(specs)) {
          for (const hostile of hostileValues(valid[name] ?? '')) {
            // SendCommand, as SSM validates it.
            let ssm: string;
            try {
              await executor.sendCommand({
                DocumentName: document.name,
                InstanceIds: [instanceId],
                Parameters: Object.fromEntries(
                  Object.entries({ ...valid, [name]: hostile.value }).map(([k, v]) => [k, [v]]),
                ),
              });
              ssm = 'ACCEPTED';
            } catch (error) {
              const e = error as { name?: string; error?: string; message: string };
              ssm = `${e.error ?? e.name}: ${/allowedPattern/.test(e.message) ? 'allowedPattern' : /characters/.test(e.message) ? 'maxChars' : oneLine(e.message, 60)}`;
            }
            // The script run directly with bash, every other parameter valid.
            rmSync(calls, { force: true });
            const env = Object.fromEntries(
              Object.entries({ ...valid, [name]: hostile.value }).map(([k, v]) => [`SSM_${k}`, v]),
            );
            const run = await runScriptDirectly(script, env, sandbox);
            const called = existsSync(calls) ? readFileSync(calls, 'utf8').trim() : '';
            const lastLine = run.stderr.trim().split('\n').at(-1) ?? '';
            const bash = run.error
              ? 'not passable: an environment variable cannot hold NUL (execve)'
              : `exit ${run.exitCode}: ${oneLine(lastLine.replace(/^wire-backup: [^:]*: /, ''), 90)}`;
            rows.push([`${document.name.replace(/^wire-backup-/, '')}.${name}`, hostile.label, ssm, bash]);
            const refusedBash =
              run.error !== undefined ||
              (run.exitCode !== 0 && lastLine.includes(`parameter ${name} is invalid`) && called === '');
            if (!ssm.includes('InvalidParameters') || !refusedBash)
              failures.push(
                `${document.name}.${name} ${hostile.label}: SSM ${ssm}; bash ${bash}${called ? `; called ${called}` : ''}`,
              );
          }
        }
      }
    } finally {
      await executor.close();
    }
    const ran = existsSync(join(sandbox, 'ssm-stack', 'ssm'))
      ? readdirSync(join(sandbox, 'ssm-stack', 'ssm'))
      : [];
    rmSync(sandbox, { recursive: true, force: true });
    printTable(
      'SSM document parameters × hostile value',
      ['document.parameter', 'value', 'SendCommand', 'bash (script run directly)'],
      rows,
    );

    expect(rows.length).toBeGreaterThan(100);
    expect(failures).toEqual([]);
    // No command was started: SendCommand refused every value before creating one.
    expect(ran).toEqual([]);
  });

  it('every state machine input field refuses them in its first state, with InvalidInputError, the vault unchanged', async () => {
    const backupId = '20261126T061500Z';
    type Field = { name: string; valid: string; input: (v: string) => JsonObject };
    const backupFields: Field[] = [
      { name: 'components[]', valid: 'cassandra', input: (v) => ({ components: [v] }) },
      { name: 'reason', valid: 'before upgrade', input: (v) => ({ reason: v }) },
      { name: 'trigger', valid: 'manual', input: (v) => ({ trigger: v }) },
      { name: 'full', valid: 'true', input: (v) => ({ full: v }) },
    ];
    const restore = (extra: JsonObject): JsonObject => ({
      backupId,
      confirm: backupId,
      dryRun: true,
      ...extra,
    });
    const node = (field: string, v: string) => ({
      targets: {
        cassandra: {
          nodes: [
            {
              instanceId: 'mi-00000000000000c01',
              name: 'node1',
              address: '127.0.0.1',
              dataDir: '/mnt/data',
              [field]: v,
            },
          ],
        },
      },
    });
    const restoreFields: Field[] = [
      { name: 'backupId', valid: backupId, input: (v) => restore({ backupId: v, confirm: v }) },
      { name: 'confirm', valid: backupId, input: (v) => restore({ confirm: v }) },
      { name: 'components[]', valid: 'minio', input: (v) => restore({ components: [v] }) },
      { name: 'dryRun', valid: 'true', input: (v) => restore({ dryRun: v }) },
      { name: 'overwrite', valid: 'true', input: (v) => restore({ overwrite: v }) },
      { name: 'verifyRowCounts', valid: 'exact', input: (v) => restore({ verifyRowCounts: v }) },
      { name: 'minio.extraObjects', valid: 'report', input: (v) => restore({ minio: { extraObjects: v } }) },
      {
        name: 'targets.wireServer.instanceId',
        valid: 'mi-00000000000000d01',
        input: (v) => restore({ targets: { wireServer: { instanceId: v } } }),
      },
      {
        name: 'targets.wireServer.path',
        valid: '/home/wire/wire-server-deploy',
        input: (v) => restore({ targets: { wireServer: { path: v } } }),
      },
      {
        name: 'targets.cassandra.nodes[].instanceId',
        valid: 'mi-00000000000000c01',
        input: (v) => restore(node('instanceId', v)),
      },
      { name: 'targets.cassandra.nodes[].name', valid: 'node1', input: (v) => restore(node('name', v)) },
      {
        name: 'targets.cassandra.nodes[].address',
        valid: '127.0.0.1',
        input: (v) => restore(node('address', v)),
      },
      {
        name: 'targets.cassandra.nodes[].dataDir',
        valid: '/mnt/data',
        input: (v) => restore(node('dataDir', v)),
      },
      {
        name: 'targets.cassandra.mode',
        valid: 'auto',
        input: (v) => restore({ targets: { cassandra: { mode: v } } }),
      },
      {
        name: 'targets.cassandra.keyspaces[]',
        valid: 'brig',
        input: (v) => restore({ targets: { cassandra: { keyspaces: [v] } } }),
      },
      {
        name: 'targets.minio.buckets (source)',
        valid: 'assets',
        input: (v) => restore({ targets: { minio: { buckets: { [v]: 'assets' } } } }),
      },
      {
        name: 'targets.minio.buckets (target)',
        valid: 'assets-restored',
        input: (v) => restore({ targets: { minio: { buckets: { assets: v } } } }),
      },
    ];
    const versionsBefore = await vaultVersionsLessWal(s3, stack);
    const rows: string[][] = [];
    const failures: string[] = [];
    for (const [machine, first, fields] of [
      ['wire-backup', 'Prepare', backupFields],
      ['wire-restore', 'Plan Restore', restoreFields],
    ] as const) {
      for (const field of fields) {
        for (const hostile of hostileValues(field.valid)) {
          const events: RunnerEvent[] = [];
          const result = await runLocal({
            stateMachine: machine,
            input: field.input(hostile.value),
            stack,
            onEvent: (e) => events.push(e),
          });
          const tasks = [
            ...new Set(
              events.filter((e) => e.type === 'StateEntered' && e.stateType === 'Task').map((e) => e.state),
            ),
          ];
          const failedIn = events.find((e) => e.type === 'StateFailed')?.state ?? '-';
          const cause = oneLine((result.cause ?? '').replace(/\s+/g, ' '), 80);
          rows.push([
            `${machine.replace('wire-', '')}.${field.name}`,
            hostile.label,
            `${result.status} ${result.error ?? ''} in ${failedIn}`,
            cause,
          ]);
          const commands = events.filter((e) => e.type === 'CommandStarted').length;
          if (
            result.status !== 'FAILED' ||
            result.error !== 'InvalidInputError' ||
            tasks.join() !== first ||
            commands > 0
          )
            failures.push(
              `${machine}.${field.name} ${hostile.label}: ${result.status} ${result.error} in ${failedIn}, tasks ${tasks.join(', ')}: ${cause}`,
            );
        }
      }
    }
    printTable(
      'State machine input fields × hostile value',
      ['machine.field', 'value', 'result', 'cause'],
      rows,
    );

    expect(failures).toEqual([]);
    expect(await vaultVersionsLessWal(s3, stack)).toBe(versionsBefore);
  });
});

/**
 * The vault's object versions, less the archived WAL: the stack's PostgreSQL primary archives a
 * segment (`archive_timeout` 60 s) after any write by an earlier test, whatever this test does. A
 * whole-vault count failed CI once (240 versions for 239), most likely on such a segment.
 */
async function vaultVersionsLessWal(s3: S3Client, stack: StackInfo): Promise<number> {
  const wal = postgresqlWalPrefix(stack.clusterName);
  const { versions } = await listVersions(s3, stack.vault.bucket, '');
  return versions.filter((v) => !v.key.startsWith(wal)).length;
}

import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { inlineSources } from '../../lib/constructs/host-documents.js';
import { readStackInfo, repoRoot, type StackInfo } from '../../local/stack-info.js';

/**
 * Runs the host scripts of `host-scripts/` the way an SSM document does, for the tests of those scripts:
 * the script as synth puts it in the document (its `# wire-backup:inline` lines replaced, the generated
 * validation rules included) run by bash, with each parameter as `SSM_<name>` and the instance's host
 * profile (`host.env`) sourced first. (The state machine runner has its own SSM executor; this is not it.)
 */

/** What one run of a host script printed, with its result line parsed. */
export interface HostScriptRun {
  /** Exit code (null when killed by a signal). */
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The JSON of the `WIRE_BACKUP_RESULT` line, when there is exactly one. */
  readonly result: Record<string, unknown> | undefined;
  /** How many `WIRE_BACKUP_RESULT` lines stdout held (the protocol wants exactly one on success). */
  readonly resultLines: number;
  /** The last non-empty stderr line: `wire-backup: <host>: <what failed> — <how to fix>` on failure. */
  readonly lastStderrLine: string;
}

/** Options of {@link runHostScript} and {@link runWithHostProfile}. */
export interface HostScriptOptions {
  /** The local stack; read from `stack.json` by default. */
  readonly stack?: StackInfo;
  /** Run with a PATH on which these tools are missing (everything else the profile's PATH has stays). */
  readonly withoutTools?: readonly string[];
  /** Directories put first on PATH, after the host profile (e.g. stubs that record calls). */
  readonly prependPath?: readonly string[];
  /** Kill the script after this long; default 230 s (under the snapshot tests' timeout). */
  readonly timeoutMs?: number;
  /** Run the script under `/usr/bin/time -v -o <file>` (the benchmarks' wall time, CPU and peak RSS). */
  readonly timeReportFile?: string;
}

const resultPrefix = 'WIRE_BACKUP_RESULT ';

// Sources the host profile, adjusts PATH as the options ask, then runs the command without leaking
// the helper's own variables into it.
const launcher = [
  'set -euo pipefail',
  'source "$WB_HOST_ENV"',
  'if [[ -v WB_PATH_PREPEND ]]; then PATH="$WB_PATH_PREPEND:$PATH"; fi',
  'if [[ -v WB_PATH_OVERRIDE ]]; then PATH="$WB_PATH_OVERRIDE"; fi',
  'export PATH',
  'unset WB_HOST_ENV WB_PATH_PREPEND WB_PATH_OVERRIDE',
].join('\n');

function hostEnvFile(stack: StackInfo, instanceId: string): string {
  const host = stack.hosts[instanceId];
  if (!host) {
    throw new Error(
      `no host profile for instance ${instanceId} in stack.json (known: ${Object.keys(stack.hosts).join(', ')})`,
    );
  }
  return host.envFile;
}

/** The process environment minus anything a host script must get only from SSM or the host profile. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('SSM_') && !name.startsWith('AWS_')) env[name] = value;
  }
  return env;
}

/** Builds a directory of symlinks to every executable on `path` except `tools` (first one of a name wins). */
async function pathWithout(path: string, tools: readonly string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wire-backup-path-'));
  const seen = new Set(tools);
  for (const entry of path.split(delimiter)) {
    if (entry === '') continue;
    const names = await readdir(entry).catch(() => [] as string[]);
    for (const name of names) {
      if (seen.has(name)) continue;
      const target = join(entry, name);
      const info = await stat(target).catch(() => undefined);
      if (!info?.isFile() || (info.mode & 0o111) === 0) continue;
      seen.add(name);
      await symlink(target, join(dir, name));
    }
  }
  return dir;
}

interface Spawned {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function spawnBash(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script, 'wire-backup-host', ...args], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => {
      // The script's own process group only: it was started detached for this.
      // (gone already when only a daemon it started still holds the pipes: then there is nothing to kill)
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
      } catch {}
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        exitCode: code,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
}

async function runInProfile(
  instanceId: string,
  command: string,
  args: readonly string[],
  extraEnv: Readonly<Record<string, string>>,
  options: HostScriptOptions,
): Promise<Spawned> {
  const stack = options.stack ?? readStackInfo();
  const envFile = hostEnvFile(stack, instanceId);
  const env: NodeJS.ProcessEnv = { ...baseEnv(), ...extraEnv, WB_HOST_ENV: envFile };
  if (options.prependPath && options.prependPath.length > 0)
    env.WB_PATH_PREPEND = options.prependPath.join(delimiter);
  let pathDir: string | undefined;
  try {
    if (options.withoutTools && options.withoutTools.length > 0) {
      const probe = await spawnBash(`${launcher}\nprintf '%s' "$PATH"`, [], env, 30_000);
      if (probe.exitCode !== 0) throw new Error(`cannot source ${envFile}: ${probe.stderr}`);
      pathDir = await pathWithout(probe.stdout, options.withoutTools);
      env.WB_PATH_OVERRIDE = pathDir;
    }
    return await spawnBash(`${launcher}\n${command}`, args, env, options.timeoutMs ?? 230_000);
  } finally {
    if (pathDir) await rm(pathDir, { recursive: true, force: true });
  }
}

/**
 * Runs `host-scripts/<script>`, as synth inlines it, as the SSM document would on `instanceId`: parameters as
 * `SSM_<name>` environment variables, the instance's host profile sourced, stdout and stderr captured.
 * Resolves whatever the exit code; the caller asserts on it.
 */
export async function runHostScript(
  script: string,
  instanceId: string,
  params: Readonly<Record<string, string>>,
  options: HostScriptOptions = {},
): Promise<HostScriptRun> {
  const file = join(repoRoot, 'host-scripts', script.endsWith('.sh') ? script : `${script}.sh`);
  const ssmEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) ssmEnv[`SSM_${name}`] = value;
  // Exactly the text synth puts into the SSM document, not the file: `lib/rules.sh` exists only there.
  const dir = await mkdtemp(join(tmpdir(), 'wire-backup-script-'));
  const synthesized = join(dir, script.endsWith('.sh') ? script : `${script}.sh`);
  let run: Spawned;
  try {
    await writeFile(synthesized, inlineSources(file), { mode: 0o700 });
    run = options.timeReportFile
      ? await runInProfile(
          instanceId,
          'exec /usr/bin/time -v -o "$2" bash "$1"',
          [synthesized, options.timeReportFile],
          ssmEnv,
          options,
        )
      : await runInProfile(instanceId, 'exec bash "$1"', [synthesized], ssmEnv, options);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const resultLines = run.stdout.split('\n').filter((line) => line.startsWith(resultPrefix));
  const [only] = resultLines;
  const result =
    resultLines.length === 1 && only !== undefined
      ? (JSON.parse(only.slice(resultPrefix.length)) as Record<string, unknown>)
      : undefined;
  const stderrLines = run.stderr.split('\n').filter((line) => line.trim() !== '');
  return { ...run, result, resultLines: resultLines.length, lastStderrLine: stderrLines.at(-1) ?? '' };
}

/**
 * Runs a bash command with `instanceId`'s host profile sourced (its `nodetool`, `cqlsh` and vault
 * credentials), e.g. to arrange or check what a host script did. Rejects when the command fails.
 */
export async function runWithHostProfile(
  instanceId: string,
  command: string,
  options: HostScriptOptions = {},
): Promise<{ readonly stdout: string; readonly stderr: string }> {
  const run = await runInProfile(instanceId, command, [], {}, options);
  if (run.exitCode !== 0) {
    throw new Error(`'${command}' failed on ${instanceId} (exit ${run.exitCode}): ${run.stderr.trim()}`);
  }
  return { stdout: run.stdout, stderr: run.stderr };
}

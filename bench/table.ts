import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { repoRoot, type StackInfo } from '../local/stack-info.js';

/**
 * What every benchmark returns: one row per tool and work, printed together by `bench/run.ts` in one
 * table, with the ratio of each peer to wire-backup on the same work.
 */
export interface BenchRow {
  /** The work measured, shared by wire-backup's row and its peers' rows (`small objects: full copy`). */
  readonly work: string;
  readonly tool: string;
  readonly seconds: number;
  /** Peak resident set size of the process(es) doing the work, MiB (undefined when not measured). */
  readonly peakRssMiB?: number | undefined;
  /** Objects or bytes per second, already formatted (`1,234 obj/s`, `123 MiB/s`). */
  readonly rate?: string;
  /** User + system CPU seconds of the process(es) doing the work (undefined when not measured). */
  readonly cpuSeconds?: number | undefined;
  /** MiB written to the vault (or the peer's repository) by the work (undefined when not measured). */
  readonly sentMiB?: number | undefined;
  /** True for the row peers are compared with. */
  readonly reference?: boolean;
  readonly note?: string;
}

/** Peak RSS (MiB), wall time (s) and CPU seconds (user + system, children included) from a `/usr/bin/time -v` report. */
export function parseTimeReport(report: string): { peakRssMiB: number; seconds: number; cpuSeconds: number } {
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(report)?.[1];
  const user = Number(/User time \(seconds\): ([\d.]+)/.exec(report)?.[1] ?? 0);
  const system = Number(/System time \(seconds\): ([\d.]+)/.exec(report)?.[1] ?? 0);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/.exec(report)?.[1] ?? '0';
  const seconds = wall
    .split(':')
    .map(Number)
    .reduce((total, part) => total * 60 + part, 0);
  return { peakRssMiB: Number(rss ?? 0) / 1024, seconds, cpuSeconds: user + system };
}

/** Runs a command under `/usr/bin/time -v`; its wall time and peak RSS. Throws with its stderr on failure. */
export function timedCommand(
  command: string,
  args: readonly string[],
  options: { readonly env?: NodeJS.ProcessEnv; readonly reportFile: string },
): { seconds: number; peakRssMiB: number; cpuSeconds: number; stdout: string } {
  const started = process.hrtime.bigint();
  let stdout: string;
  try {
    stdout = execFileSync('/usr/bin/time', ['-v', '-o', options.reportFile, command, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      maxBuffer: 256 * 1024 * 1024,
      encoding: 'utf8',
    });
  } catch (error) {
    const { stderr, stdout: out } = error as { stderr?: string; stdout?: string };
    throw new Error(
      `${command} ${args.join(' ')} failed: ${(stderr ?? '').slice(-2000)} ${(out ?? '').slice(-2000)}`,
    );
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const { peakRssMiB, cpuSeconds } = parseTimeReport(readFileSync(options.reportFile, 'utf8'));
  return { seconds, stdout, peakRssMiB, cpuSeconds };
}

/** A binary of the tool cache (`$WIRE_BACKUP_CACHE/bin`, the stack's cache, `<repo>/.cache/bin`). */
export function cachedBinary(stack: StackInfo, name: string): string | undefined {
  const candidates = [
    process.env.WIRE_BACKUP_CACHE ? join(process.env.WIRE_BACKUP_CACHE, 'bin', name) : undefined,
    join(stack.cacheDir, 'bin', name),
    join(repoRoot, '.cache', 'bin', name),
  ];
  return candidates.find((path): path is string => path !== undefined && existsSync(path));
}

/** The `aws` CLI on PATH, if any. */
export function awsCli(): string | undefined {
  try {
    return execFileSync('bash', ['-c', 'command -v aws'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** `http://key:secret@host:port` for `MC_HOST_<alias>`. */
export function s3Url(endpoint: string, accessKey: string, secretKey: string): string {
  const url = new URL(endpoint);
  url.username = encodeURIComponent(accessKey);
  url.password = encodeURIComponent(secretKey);
  return url.toString().replace(/\/$/, '');
}

/** The load average, as printed next to the figures (the machine is shared: figures are noisy). */
export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

/**
 * Prints every row in one table: per work, the reference (wire-backup) row first, then each peer with
 * `peer s / wire-backup s` (above 1: wire-backup is faster by that factor).
 */
export function printTable(
  rows: readonly BenchRow[],
  header: string,
  write: (line: string) => void = console.log,
): void {
  const works = [...new Set(rows.map((r) => r.work))];
  // CPU seconds and MiB sent: columns only when some row measured them (the PostgreSQL benchmark).
  const extra = rows.some((r) => r.cpuSeconds !== undefined || r.sentMiB !== undefined);
  const table: string[][] = [
    [
      'work',
      'tool',
      'seconds',
      'rate',
      'peak RSS MiB',
      ...(extra ? ['CPU s', 'sent MiB'] : []),
      'peer ÷ wire-backup',
      'note',
    ],
  ];
  for (const work of works) {
    const group = rows.filter((r) => r.work === work);
    const reference = group.find((r) => r.reference);
    for (const row of group) {
      const ratio =
        reference && !row.reference && reference.seconds > 0
          ? `${(row.seconds / reference.seconds).toFixed(2)}×`
          : row.reference
            ? '1.00×'
            : '';
      table.push([
        work,
        row.tool,
        row.seconds.toFixed(2),
        row.rate ?? '',
        row.peakRssMiB === undefined ? '' : row.peakRssMiB.toFixed(0),
        ...(extra
          ? [row.cpuSeconds?.toFixed(1) ?? '', row.sentMiB === undefined ? '' : row.sentMiB.toFixed(1)]
          : []),
        ratio,
        row.note ?? '',
      ]);
    }
  }
  const widths = (table[0] ?? []).map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  const numeric = new Set(extra ? [2, 3, 4, 5, 6, 7] : [2, 3, 4, 5]);
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join(' | ')
      .trimEnd();
  write(`\n${header}`);
  write(line(table[0] ?? []));
  write(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const r of table.slice(1)) write(line(r));
}

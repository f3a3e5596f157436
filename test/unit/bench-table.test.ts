import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseTimeReport, printTable } from '../../bench/table.js';

// The part of a `/usr/bin/time -v` report the benchmarks read.
const report = `\tCommand being timed: "bash postgresql-backup.sh"
\tUser time (seconds): 12.34
\tSystem time (seconds): 5.66
\tPercent of CPU this job got: 61%
\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02.50
\tMaximum resident set size (kbytes): 102400
`;

describe('benchmark table', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('reads wall time, peak RSS and CPU seconds (user + system) from a /usr/bin/time -v report', () => {
    const parsed = parseTimeReport(report);
    expect(parsed.seconds).toBeCloseTo(62.5);
    expect(parsed.peakRssMiB).toBe(100);
    expect(parsed.cpuSeconds).toBeCloseTo(18);
  });

  function printed(rows: Parameters<typeof printTable>[0]): string {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => {
      lines.push(line);
    });
    printTable(rows, 'header');
    return lines.join('\n');
  }

  it('prints CPU s and sent MiB only when a row measured them, with the ratio to wire-backup', () => {
    const withCpu = printed([
      { work: 'full', tool: 'wire-backup', seconds: 10, cpuSeconds: 4, sentMiB: 41.5, reference: true },
      { work: 'full', tool: 'pgBackRest', seconds: 5, cpuSeconds: 2.5, sentMiB: 39.8 },
    ]);
    expect(withCpu).toMatch(/CPU s \| sent MiB/);
    expect(withCpu).toMatch(/pgBackRest .*\|\s+2\.5 \|\s+39\.8 \|\s+0\.50×/);
    const without = printed([{ work: 'copy', tool: 'wire-backup', seconds: 1, reference: true }]);
    expect(without).not.toMatch(/CPU s/);
  });
});

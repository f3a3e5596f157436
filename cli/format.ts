import type { RunnerEvent } from '../local/runner/events.js';

/** Bytes as a person reads them (1536 → "1.5 KiB"). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Seconds as "42 s" or "3 min 5 s". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

const shownTypes = new Set([
  'StateEntered',
  'StateRetried',
  'StateCaught',
  'MapRunStarted',
  'MapRunSucceeded',
  'CommandOutput',
  'Warning',
]);

/**
 * Progress printer for long runs: the states as they start (Lambda and host-command steps), host
 * scripts' own progress lines, retries and caught errors. `verbose` prints every event.
 */
export function progressPrinter(
  write: (line: string) => void,
  verbose = false,
): (event: RunnerEvent) => void {
  const started = Date.now();
  return (event) => {
    if (!verbose && !shownTypes.has(event.type)) return;
    if (
      !verbose &&
      event.type === 'StateEntered' &&
      ['Pass', 'Choice', 'Succeed'].includes(event.stateType ?? '')
    )
      return;
    const t = `${((event.timestamp - started) / 1000).toFixed(1).padStart(6)}s`;
    write(`${t}  ${event.message}`);
  };
}

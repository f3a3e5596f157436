/**
 * Which archived PostgreSQL WAL files the purge may delete (README, "Retention and purge"). Pure: no
 * I/O, no clock. A WAL file is needed from the start of the oldest base backup the purge keeps: every
 * kept backup replays from its own start WAL file, and a point-in-time restore needs a base backup
 * taken before its target, so nothing before the oldest kept backup's start can be replayed by any
 * restore the vault still allows. Timeline history files (tiny, read by every recovery that crosses a
 * timeline) and everything on a later timeline than that backup's are always kept.
 */

/** A WAL file name as PostgreSQL's archive_command receives it (`%f`), parsed. */
export interface WalFileName {
  readonly kind: 'segment' | 'partial' | 'backup' | 'history';
  readonly timeline: number;
  /** The log and segment part (16 hex digits), ordered as WAL is; '' for a history file. */
  readonly position: string;
}

/** Where WAL is needed from: the oldest kept base backup's start WAL file. */
export interface WalKeepFrom {
  /** The start WAL file of that backup (24 hex digits, from its manifest). */
  readonly startWalFile: string;
  readonly backupId: string;
}

const walFile = /^([0-9A-F]{8})(?:([0-9A-F]{16})(\.partial|\.[0-9A-F]{8}\.backup)?|\.history)$/;

/** Parses a WAL file name (`000000010000000000000003`, `….partial`, `….00000028.backup`, `00000002.history`). */
export function parseWalFileName(name: string): WalFileName | undefined {
  const m = walFile.exec(name);
  if (!m?.[1]) return undefined;
  const timeline = Number.parseInt(m[1], 16);
  if (m[2] === undefined) return { kind: 'history', timeline, position: '' };
  const kind = m[3] === undefined ? 'segment' : m[3] === '.partial' ? 'partial' : 'backup';
  return { kind, timeline, position: m[2] };
}

/**
 * Whether the WAL file `name` is still needed when WAL is kept from `from`; an unknown name (not a
 * WAL file) is always kept. Returns the reason it may go, or undefined when it stays.
 */
export function walNotNeeded(name: string, from: WalKeepFrom): string | undefined {
  const file = parseWalFileName(name);
  const start = parseWalFileName(from.startWalFile);
  if (!file || !start || start.kind !== 'segment') return undefined;
  if (file.kind === 'history' || file.timeline > start.timeline) return undefined;
  if (file.position >= start.position) return undefined;
  return `WAL before ${from.startWalFile}, the start of the oldest kept backup (${from.backupId}): no restore the vault keeps replays it`;
}

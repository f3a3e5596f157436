import { HostCommandError, RestoreRefusedError } from './errors.js';

/** Exit code of a host script that refused its target and wrote nothing (`refuse` in host-scripts/lib/common.sh). */
export const refusedExitCode = 3;

/** What GetCommandInvocation reported, as the state machine selects it. */
export interface CommandInvocation {
  readonly status: string;
  readonly responseCode?: number;
  readonly instanceId: string;
  readonly stdout?: string;
  readonly stderr?: string;
}

const resultPrefix = 'WIRE_BACKUP_RESULT ';

/** The last non-empty lines of a text, for error messages. */
function tail(text: string | undefined, lines: number): string {
  return (text ?? '')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-lines)
    .join('\n');
}

/**
 * Turns a finished SSM invocation into the script's result: the JSON after `WIRE_BACKUP_RESULT `
 * on stdout. A script that refused its target (exit {@link refusedExitCode}: nothing written) becomes a
 * `RestoreRefusedError`; any other failed, timed-out or cancelled command, or one without a result
 * line, a `HostCommandError` naming the document, the instance and the script's own last words.
 */
export function parseCommandResult(
  documentName: string,
  invocation: CommandInvocation,
): Record<string, unknown> {
  const where = `${documentName} on ${invocation.instanceId}`;
  if (invocation.status !== 'Success' && invocation.responseCode === refusedExitCode) {
    throw new RestoreRefusedError(`${where}: ${tail(invocation.stderr, 1) || '(no output)'}`);
  }
  if (invocation.status !== 'Success') {
    const said = tail(invocation.stderr, 5) || tail(invocation.stdout, 5) || '(no output)';
    throw new HostCommandError(
      `${where} ended ${invocation.status} (exit ${invocation.responseCode ?? '?'}): ${said}`,
    );
  }
  const line = (invocation.stdout ?? '')
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(resultPrefix));
  if (!line) {
    throw new HostCommandError(
      `${where} succeeded but printed no ${resultPrefix.trim()} line (output truncated or an old script): ${tail(invocation.stderr, 3)}`,
    );
  }
  try {
    return JSON.parse(line.slice(resultPrefix.length)) as Record<string, unknown>;
  } catch (error) {
    throw new HostCommandError(`${where} printed a result that is not JSON: ${line.slice(0, 200)}`, {
      cause: error,
    });
  }
}

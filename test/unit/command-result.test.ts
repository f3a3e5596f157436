import { describe, expect, it } from 'vitest';
import { parseCommandResult } from '../../functions/core/command-result.js';

describe('parseCommandResult', () => {
  it('returns the JSON of the last result line of a successful command', () => {
    const stdout = 'progress\nWIRE_BACKUP_RESULT {"a":1}\nmore\nWIRE_BACKUP_RESULT {"a":2}\n';
    expect(
      parseCommandResult('Doc', { status: 'Success', instanceId: 'mi-00000000000000c01', stdout }),
    ).toEqual({ a: 2 });
  });

  it('raises HostCommandError naming the document, the host and the script’s last words', () => {
    const run = () =>
      parseCommandResult('WireBackup-CassandraSnapshot', {
        status: 'Failed',
        responseCode: 1,
        instanceId: 'mi-00000000000000c02',
        stderr: 'x\nwire-backup: cass2: keyspace nope does not exist — fix the list\n',
      });
    expect(run).toThrowError(
      /WireBackup-CassandraSnapshot on mi-00000000000000c02 ended Failed \(exit 1\)[\s\S]*keyspace nope/,
    );
    try {
      run();
    } catch (error) {
      expect((error as Error).name).toBe('HostCommandError');
    }
  });

  it('raises RestoreRefusedError when the script refused its target (exit 3: nothing written)', () => {
    const run = () =>
      parseCommandResult('WireBackup-RestoreWireServer', {
        status: 'Failed',
        responseCode: 3,
        instanceId: 'mi-00000000000000d01',
        stderr:
          'log\nwire-backup: deploy: /opt/wire-server exists and is not empty; refusing to replace it without overwrite — set overwrite\n',
      });
    expect(run).toThrowError(
      /WireBackup-RestoreWireServer on mi-00000000000000d01: .*refusing to replace it without overwrite/,
    );
    try {
      run();
    } catch (error) {
      expect((error as Error).name).toBe('RestoreRefusedError');
    }
  });

  it('refuses a successful command that printed no result line', () => {
    expect(() =>
      parseCommandResult('Doc', { status: 'Success', instanceId: 'mi-1', stdout: 'hello' }),
    ).toThrowError(/printed no WIRE_BACKUP_RESULT line/);
  });
});

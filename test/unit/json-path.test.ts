import { describe, expect, it } from 'vitest';
import { pathsOf, selectFields } from '../../functions/core/contract/json-path.js';
import type { BackupState, SnapshotItem } from '../../functions/core/contract/states.js';
import { hostParam } from '../../statemachines/host-command.js';

const $ = pathsOf<BackupState>();

describe('pathsOf', () => {
  it('builds the JSONPath of a field the contract has', () => {
    expect($('plan', 'cassandra', 'nodes')).toBe('$.plan.cassandra.nodes');
    expect($('results', 'minio')).toBe('$.results.minio');
  });

  it('refuses at compile time a field the contract does not have, or a value of the wrong type', () => {
    // npm test typechecks this file: each line below must stay a type error.
    // @ts-expect-error: the plan has no such field
    $('plan', 'cassandra', 'keyspacesList');
    // @ts-expect-error: overwrite-like flags are booleans, not text
    hostParam.text($('plan', 'components', 'cassandra'));
    // @ts-expect-error: a raw string is not a typed path
    hostParam.text('$.plan.vaultBucket');
    // @ts-expect-error: every field of the Map item must be selected
    selectFields<SnapshotItem>({ backupId: $('plan', 'backupId') });
    expect(hostParam.value($('plan', 'wireServer', 'compressionLevel'))).toEqual({
      kind: 'value',
      path: '$.plan.wireServer.compressionLevel',
    });
  });
});

import { describe, expect, it } from 'vitest';
import {
  archiveObjectKey,
  archiveObjectPrefix,
  backupIdOfPrefix,
  backupReadLocation,
  cassandraBackupPrefix,
  clusterSstablePrefix,
  isMapRunFailedReport,
  nodeInfoKey,
  nodeInventoryKey,
  restoreBatchIndexKey,
  restoreBatchKeyOf,
  restoreFailedKey,
  restoreReportKey,
  rowCountsKey,
  schemaKey,
  sstableKey,
  sstableKeyspacePrefix,
  sstablePrefix,
  vaultPrefixes,
} from '../../functions/core/vault-layout.js';

describe('vault-layout', () => {
  it("recognises a map run's FAILED report and nothing else under map-runs/", () => {
    expect(isMapRunFailedReport('map-runs/1f0c-uuid/FAILED_0.json')).toBe(true);
    expect(isMapRunFailedReport('map-runs/1f0c-uuid/FAILED_12.json')).toBe(true);
    expect(isMapRunFailedReport('map-runs/1f0c-uuid/SUCCEEDED_0.json')).toBe(false);
    expect(isMapRunFailedReport('map-runs/1f0c-uuid/manifest.json')).toBe(false);
    expect(isMapRunFailedReport('map-runs/a/b/FAILED_0.json')).toBe(false);
    expect(isMapRunFailedReport('backups/x/map-runs/a/FAILED_0.json')).toBe(false);
  });

  it('derives the keys the snapshot and node-restore scripts build in bash', () => {
    const id = '20261126T061500Z';
    expect(cassandraBackupPrefix(id)).toBe(`backups/${id}/cassandra/`);
    expect(nodeInventoryKey(id, 'mi-1')).toBe(`backups/${id}/cassandra/mi-1/inventory.tsv`);
    expect(nodeInfoKey(id, 'mi-1')).toBe(`backups/${id}/cassandra/mi-1/node.json`);
    expect(schemaKey(id)).toBe(`backups/${id}/cassandra/schema.cql`);
    expect(rowCountsKey(id)).toBe(`backups/${id}/cassandra/row-counts.tsv`);
    expect(clusterSstablePrefix('wire')).toBe('cassandra/wire/');
    expect(sstablePrefix('wire', 'h1')).toBe('cassandra/wire/h1/');
    expect(sstableKeyspacePrefix('wire', 'h1', 'brig')).toBe('cassandra/wire/h1/brig/');
    expect(sstableKey('wire', 'h1', 'brig/user-1/nb-1-big-Data.db')).toBe(
      'cassandra/wire/h1/brig/user-1/nb-1-big-Data.db',
    );
  });

  it('keeps a restore’s report and batch files under restores/<restoreId>/', () => {
    expect(restoreReportKey('r1')).toBe('restores/r1/report.json');
    expect(restoreFailedKey('r1')).toBe('restores/r1/failed.json');
    expect(restoreBatchKeyOf('r1', 'assets', 3)).toBe('restores/r1/minio/assets/batches/00003.jsonl');
    expect(restoreBatchIndexKey('r1')).toBe('restores/r1/minio/batches.jsonl');
    for (const key of [restoreReportKey('r1'), restoreBatchIndexKey('r1')]) {
      expect(key.startsWith(vaultPrefixes.restores)).toBe(true);
    }
  });

  it('reads the backup id of a delimited listing prefix', () => {
    expect(backupIdOfPrefix('backups/20261126T061500Z/')).toBe('20261126T061500Z');
    expect(backupIdOfPrefix('restores/x/')).toBeUndefined();
    expect(backupIdOfPrefix('backups/')).toBeUndefined();
  });

  it('says where a restore reads a backup file: the vault version, or the archive copy', () => {
    const sha = 'ab'.repeat(32);
    const sstable = {
      kind: 'data',
      vaultKey: 'cassandra/wire/h1/brig/t-1/nb-1-big-Data.db',
      versionId: 'v1',
      sha256: sha,
    } as const;
    const files = {
      kind: 'index',
      vaultKey: 'backups/20261126T061500Z/cassandra/mi-1/files.tsv',
      versionId: 'v2',
    } as const;
    expect(backupReadLocation('vault', sstable)).toEqual({ key: sstable.vaultKey, versionId: 'v1' });
    expect(backupReadLocation('vault', files)).toEqual({ key: files.vaultKey, versionId: 'v2' });
    expect(backupReadLocation('archive', sstable)).toEqual({
      key: `objects/sha256/ab/${sha}`,
      versionId: undefined,
    });
    expect(backupReadLocation('archive', files)).toEqual({ key: files.vaultKey, versionId: undefined });
    // The node restore script appends <ab>/<sha256> to this prefix in bash.
    expect(archiveObjectKey(sha)).toBe(`${archiveObjectPrefix}${sha.slice(0, 2)}/${sha}`);
    expect(() => backupReadLocation('archive', { kind: 'data', vaultKey: 'minio/_keys/a/b' })).toThrow(
      /SHA-256/,
    );
  });
});

import { describe, expect, it } from 'vitest';
import { rules, ruleViolation, systemFolderOf } from '../../functions/core/contract/rules.js';
import { InvalidInputError } from '../../functions/core/errors.js';
import {
  requireUnderRestoreRoots,
  restoreInputSchema,
  restoreRootsOf,
} from '../../functions/core/restore-plan.js';
import { parseConfig } from '../../lib/config.js';

/** Folders a restore must refuse, with the system folder each one is or lies below. */
const refusedTargets: readonly (readonly [string, string])[] = [
  ['/', '/'],
  ['/etc', '/etc'],
  ['/etc/wire-server', '/etc'],
  ['//usr/./local/', '/usr'],
  ['/usr/local/wire', '/usr'],
  ['/bin', '/bin'],
  ['/boot/grub', '/boot'],
  ['/dev/shm', '/dev'],
  ['/proc/self', '/proc'],
  ['/sys/', '/sys'],
  ['/var', '/var'],
  ['/var/lib/', '/var/lib'],
  ['/home', '/home'],
  ['/root/.', '/root'],
];

/** Folders a restore may write into. */
const acceptedTargets = [
  '/home/wire/wire-server-deploy',
  '/opt/wire-server',
  '/var/lib/wire-server',
  '/srv/wire',
  '/tmp/drill/wire-server',
];

describe('restoreTargetPath rule', () => {
  it.each(refusedTargets)('refuses %s (the system folder %s)', (path, system) => {
    expect(systemFolderOf(path)).toBe(system);
    expect(ruleViolation(rules.restoreTargetPath, path)).toMatch(new RegExp(`system folder ${system}:`));
  });

  it.each(acceptedTargets)('accepts %s', (path) => {
    expect(systemFolderOf(path)).toBeUndefined();
    expect(ruleViolation(rules.restoreTargetPath, path)).toBeUndefined();
  });

  it('refuses a system folder in the restore input and the configuration, naming the field', () => {
    const input = restoreInputSchema.safeParse({
      backupId: 'latest',
      confirm: 'latest',
      targets: { wireServer: { path: '/etc' } },
    });
    const issues = input.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    expect(issues).toMatch(/targets\.wireServer\.path: must not be the system folder \/etc/);
    expect(() =>
      parseConfig({
        clusterName: 'c',
        cassandra: { nodes: [{ instanceId: 'mi-0123456789abcdef0', name: 'n1' }] },
        wireServer: { instanceId: 'mi-0123456789abcdef1', path: '/usr/share/wire' },
        minio: { endpoint: 'https://minio.example.com', secretName: 's', buckets: ['assets'] },
      }),
    ).toThrowError(/wireServer\.path: must not lie below the system folder \/usr/);
  });
});

describe('restore roots (wireServer.restoreRoots)', () => {
  const base = {
    clusterName: 'c',
    cassandra: { nodes: [{ instanceId: 'mi-0123456789abcdef0', name: 'n1' }] },
    minio: { endpoint: 'https://minio.example.com', secretName: 's', buckets: ['assets'] },
  };
  const withDefault = parseConfig({
    ...base,
    wireServer: { instanceId: 'mi-0123456789abcdef1', path: '/home/wire/wire-server-deploy/' },
  });
  const withRoots = parseConfig({
    ...base,
    wireServer: {
      instanceId: 'mi-0123456789abcdef1',
      path: '/home/wire/wire-server-deploy',
      restoreRoots: ['/srv/restores', '/home/wire'],
    },
  });

  it('defaults to the folder holding wireServer.path', () => {
    expect(restoreRootsOf(withDefault.wireServer)).toEqual(['/home/wire']);
    expect(restoreRootsOf(withRoots.wireServer)).toEqual(['/srv/restores', '/home/wire']);
  });

  it.each([
    '/home/wire/wire-server-deploy',
    '/home/wire/drill/wire-server',
    '/srv/restores/2026-12-02/wire-server',
  ])('accepts %s below a configured root', (path) => {
    expect(requireUnderRestoreRoots(path, withRoots)).toBe(path);
  });

  it.each(['/opt/wire-server', '/home/wirebackup/wire-server', '/srv/restores-elsewhere'])(
    'refuses %s outside every root, naming the roots and the setting',
    (path) => {
      expect(() => requireUnderRestoreRoots(path, withRoots)).toThrowError(InvalidInputError);
      expect(() => requireUnderRestoreRoots(path, withRoots)).toThrowError(
        `targets.wireServer.path "${path}" is outside the folders a restore may write into (wireServer.restoreRoots: "/srv/restores", "/home/wire")`,
      );
    },
  );

  it('refuses a system folder as a root', () => {
    expect(() =>
      parseConfig({
        ...base,
        wireServer: { instanceId: 'mi-0123456789abcdef1', path: '/srv/wire', restoreRoots: ['/etc'] },
      }),
    ).toThrowError(/wireServer\.restoreRoots\.0: must not be the system folder \/etc/);
  });
});

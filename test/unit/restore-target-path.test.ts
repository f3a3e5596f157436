import { describe, expect, it } from 'vitest';
import { rules, ruleViolation, systemFolderOf } from '../../functions/core/contract/rules.js';
import { restoreInputSchema } from '../../functions/core/restore-plan.js';
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

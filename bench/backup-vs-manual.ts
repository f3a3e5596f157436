/**
 * Benchmark: one hourly backup the way operators do it today (the manual procedure in
 * shared/seed: `nodetool snapshot`, `tar | gzip` of every snapshots folder and of the wire-server
 * folder, a full copy of the MinIO bucket with `mc mirror`) against wire-backup's state machine,
 * first (full) and second (after a small change: differential / incremental), on the same data.
 * Prints seconds and bytes sent to the vault side by side. Run: `npm run bench -- backup`.
 */
import { execFileSync, execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackupManifest } from '../functions/core/contract/backup.js';
import { runLocal } from '../local/local-run.js';
import { mutateWire, seedWire } from '../local/seed/index.js';
import { readStackInfo } from '../local/stack-info.js';

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

function timed<T>(fn: () => T): { value: T; seconds: number } {
  const t0 = process.hrtime.bigint();
  const value = fn();
  return { value, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

async function timedAsync<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { value, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** The manual procedure on the local stack; returns bytes written to the "remote" copy. */
function manualBackup(tag: string): number {
  const stack = readStackInfo();
  const node = stack.cassandra.nodes[0];
  if (!node) throw new Error('no Cassandra node');
  const bin = stack.hosts[node.instanceId]?.binDir ?? '';
  const out = mkdtempSync(join(tmpdir(), 'manual-backup-'));
  try {
    execFileSync(join(bin, 'nodetool'), ['snapshot', '-t', tag, 'brig', 'galley', 'spar', 'gundeck'], {
      stdio: 'ignore',
    });
    execSync(
      `cd ${JSON.stringify(node.dataDir)} && find brig galley spar gundeck -path '*/snapshots/${tag}/*' -type f -print0 | tar --null -T - -cf - | gzip -6 > ${JSON.stringify(join(out, 'cassandra.tar.gz'))}`,
      { shell: '/bin/bash' },
    );
    execFileSync(join(bin, 'nodetool'), ['clearsnapshot', '-t', tag], { stdio: 'ignore' });
    const folder = stack.deployHost.wireServerPath;
    execSync(
      `tar -C ${JSON.stringify(join(folder, '..'))} -cf - wire-server | gzip -9 > ${JSON.stringify(join(out, 'wire-server.tar.gz'))}`,
      {
        shell: '/bin/bash',
      },
    );
    const mc = join(stack.cacheDir, 'bin', 'mc');
    const env = {
      ...process.env,
      MC_HOST_src: stack.minio.endpoint.replace(
        '://',
        `://${stack.minio.accessKey}:${stack.minio.secretKey}@`,
      ),
    };
    execFileSync(mc, ['mirror', '--quiet', 'src/assets', join(out, 'assets')], { env, stdio: 'ignore' });
    return Number(execSync(`du -sb ${JSON.stringify(out)} | cut -f1`, { encoding: 'utf8' }).trim());
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function wireBackup(full: boolean): Promise<BackupManifest> {
  const result = await runLocal({ stateMachine: 'wire-backup', input: { trigger: 'manual', full } });
  if (result.status !== 'SUCCEEDED') throw new Error(`backup failed: ${result.error} ${result.cause}`);
  return (result.output as unknown as { manifest: BackupManifest }).manifest;
}

/** Seeds, then times the manual procedure and wire-backup twice (full, then after a change). */
export async function main(size = process.env.BENCH_SIZE ?? '64MiB'): Promise<void> {
  const stack = readStackInfo();
  console.error(`bench: seeding ${size} of Wire-shaped data…`);
  await seedWire({ stack, size, reset: true, flush: true });
  const dataBytes = Number(
    execSync(`du -sb ${JSON.stringify(stack.cassandra.nodes[0]?.dataDir ?? '')} | cut -f1`, {
      encoding: 'utf8',
    }).trim(),
  );
  console.error('bench: manual procedure (full)…');
  const manual1 = timed(() => manualBackup('bench-manual-1'));
  console.error('bench: wire-backup, first (full) backup…');
  // Full: earlier backups in the vault must not make the first run look incremental.
  const wb1 = await timedAsync(() => wireBackup(true));
  await mutateWire({ stack, round: 1 });
  console.error('bench: manual procedure after a small change…');
  const manual2 = timed(() => manualBackup('bench-manual-2'));
  console.error('bench: wire-backup after the same change (differential + incremental)…');
  const wb2 = await timedAsync(() => wireBackup(false));

  const rows = [
    ['run', 'seconds', 'sent to the vault', 'kept (restorable)'],
    [
      'manual: snapshot + tar|gzip + mc mirror, full',
      manual1.seconds.toFixed(1),
      mib(manual1.value),
      mib(manual1.value),
    ],
    [
      'wire-backup, first backup',
      wb1.seconds.toFixed(1),
      mib(wb1.value.totals.newBytes),
      mib(wb1.value.totals.bytes),
    ],
    [
      'manual, after a small change (always full)',
      manual2.seconds.toFixed(1),
      mib(manual2.value),
      mib(manual2.value),
    ],
    [
      'wire-backup, after the same change',
      wb2.seconds.toFixed(1),
      mib(wb2.value.totals.newBytes),
      mib(wb2.value.totals.bytes),
    ],
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  console.log(`\nbackup of ${size} seeded (Cassandra data directory ${mib(dataBytes)}), 1 node, local stack`);
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  '));
  console.log(
    '\nwire-backup runs Step Functions locally (every state, SSM polling, verification incl. re-reading new files); the manual procedure verifies nothing.',
  );
}

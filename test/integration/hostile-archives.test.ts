import { spawnSync } from 'node:child_process';
import { createHash, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStackS3Client } from '../../local/stack-clients.js';
import { readStackInfo, type StackInfo } from '../../local/stack-info.js';
import { runHostScript } from '../support/host-script.js';

/**
 * restore-wire-server.sh extracts as root with `tar -p`. Each archive here is a real tar.gz, crafted with
 * GNU tar (paths, links) or Python's tarfile (entry types and mode bits no plain user can create on disk),
 * put into the local vault, and given to the script run with bash: each must be refused with a cause that
 * names the entry, and nothing may be written (no target, no temp folder, nothing outside).
 * Needs the local stack's vault MinIO and deploy-host profile (`wire-stack up`).
 */

const runId = `${Date.now().toString(36)}${randomInt(36 ** 3).toString(36)}`;
const failureLine = /^wire-backup: [^:]+: .+ — .+$/;
const slow = { timeout: 120_000 };

let stack: StackInfo;
let vault: S3Client;
let workDir: string;

function run(command: string, args: string[], cwd: string): void {
  const out = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${out.stderr}`);
}

/** A folder `ws/` with the files every case starts from, in `dir/src`. */
async function baseFolder(dir: string): Promise<string> {
  const src = join(dir, 'src');
  run(
    'bash',
    [
      '-c',
      'mkdir -p ws/values && echo "brig: {}" > ws/values/values.yaml && chmod 600 ws/values/values.yaml',
    ],
    await mkdirp(src),
  );
  return src;
}

async function mkdirp(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Adds one entry of `kind` named `name` to the tar at `tarFile` with Python's tarfile (no root needed). */
function appendPythonEntry(
  tarFile: string,
  name: string,
  kind: 'chr' | 'blk' | 'fifo' | 'setuid' | 'setgid',
): void {
  const script = `
import io, sys, tarfile
path, name, kind = sys.argv[1:4]
info = tarfile.TarInfo(name)
data = b''
if kind == 'chr': info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
elif kind == 'blk': info.type, info.devmajor, info.devminor = tarfile.BLKTYPE, 8, 0
elif kind == 'fifo': info.type = tarfile.FIFOTYPE
else:
    data = b'#!/bin/sh\\nid\\n'
    info.size = len(data)
    info.mode = 0o4755 if kind == 'setuid' else 0o2755
with tarfile.open(path, 'a', format=tarfile.GNU_FORMAT) as tar:
    tar.addfile(info, io.BytesIO(data) if data else None)
`;
  run('python3', ['-c', script, tarFile, name, kind], workDir);
}

interface Crafted {
  readonly key: string;
  readonly versionId: string;
  readonly sha256: string;
}

/** gzips `tarFile` and puts it into the vault. */
async function upload(tarFile: string, name: string): Promise<Crafted> {
  run('gzip', ['-kf', tarFile], workDir);
  const body = await readFile(`${tarFile}.gz`);
  const key = `hostile-test-${runId}/${name}.tar.gz`;
  const put = await vault.send(new PutObjectCommand({ Bucket: stack.vault.bucket, Key: key, Body: body }));
  return { key, versionId: put.VersionId ?? 'null', sha256: createHash('sha256').update(body).digest('hex') };
}

/** Crafts the case `name`: `craft` gets a fresh folder holding `src/ws` and returns the tar file it wrote. */
async function craft(name: string, build: (dir: string, src: string) => Promise<string> | string) {
  const dir = await mkdirp(join(workDir, 'craft', name));
  const tarFile = await build(dir, await baseFolder(dir));
  return upload(tarFile, name);
}

async function restore(archive: Crafted, name: string, more: Readonly<Record<string, string>> = {}) {
  const parent = await mkdirp(join(workDir, 'targets', name));
  const target = join(parent, 'wire-server');
  const run = await runHostScript('restore-wire-server.sh', stack.deployHost.instanceId, {
    vaultBucket: stack.vault.bucket,
    archiveKey: archive.key,
    versionId: archive.versionId,
    sha256: archive.sha256,
    targetPath: target,
    overwrite: 'false',
    dryRun: 'false',
    ...more,
  });
  return { run, parent, target };
}

beforeAll(async () => {
  stack = readStackInfo();
  vault = createStackS3Client(stack.vault);
  workDir = await mkdtemp(join(tmpdir(), 'hostile-archives-'));
});

afterAll(async () => {
  vault?.destroy();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('restore-wire-server.sh with hostile archives', () => {
  const typeCases = [
    { kind: 'chr', entry: 'ws/null', what: 'a device node' },
    { kind: 'blk', entry: 'ws/disk', what: 'a device node' },
    { kind: 'fifo', entry: 'ws/values/pipe', what: 'a FIFO' },
    { kind: 'setuid', entry: 'ws/bin/helper', what: 'a setuid file' },
    { kind: 'setgid', entry: 'ws/bin/group-helper', what: 'a setgid file' },
  ] as const;

  for (const c of typeCases) {
    it(`refuses ${c.what} (${c.kind}) naming the entry, and writes nothing`, slow, async () => {
      // Arrange
      const archive = await craft(c.kind, (dir, src) => {
        const tarFile = join(dir, 'a.tar');
        run('tar', ['-cf', tarFile, '-C', src, 'ws'], dir);
        appendPythonEntry(tarFile, c.entry, c.kind);
        return tarFile;
      });

      // Act
      const { run: result, parent, target } = await restore(archive, c.kind);

      // Assert
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.resultLines).toBe(0);
      expect(result.lastStderrLine).toMatch(failureLine);
      expect(result.lastStderrLine).toContain(`the archive holds ${c.what}: '${c.entry}'`);
      expect(result.lastStderrLine).toContain('nothing was changed');
      expect(existsSync(target)).toBe(false);
      expect(await readdir(parent)).toEqual([]);
    });
  }

  it(
    'refuses an entry below a symbolic link that points outside, before tar writes anything',
    slow,
    async () => {
      // Arrange: ws/link -> ../../outside, then ws/link/evil from another tree appended after it.
      const outside = join(workDir, 'outside');
      const archive = await craft('symlink', async (dir, src) => {
        run('ln', ['-s', outside, join(src, 'ws', 'link')], dir);
        const other = await mkdirp(join(dir, 'other', 'ws', 'link'));
        run('bash', ['-c', 'echo pwned > evil'], other);
        const tarFile = join(dir, 'a.tar');
        run('tar', ['-cf', tarFile, '-C', src, 'ws'], dir);
        run('tar', ['-rf', tarFile, '-C', join(dir, 'other'), 'ws/link/evil'], dir);
        return tarFile;
      });

      // Act
      const { run: result, parent } = await restore(archive, 'symlink');

      // Assert
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.lastStderrLine).toMatch(failureLine);
      expect(result.lastStderrLine).toContain(
        "the archive holds an entry below the symbolic link ws/link: 'ws/link/evil'",
      );
      expect(existsSync(outside)).toBe(false);
      expect(await readdir(parent)).toEqual([]);
    },
  );

  it('refuses an absolute name and a .. name, naming them', slow, async () => {
    // Arrange
    const absolute = await craft('absolute', (dir, src) => {
      run('bash', ['-c', 'echo x > escape'], dir);
      const tarFile = join(dir, 'a.tar');
      run('tar', ['-cf', tarFile, '-C', src, 'ws'], dir);
      run('tar', ['-rPf', tarFile, join(dir, 'escape')], dir);
      return tarFile;
    });
    const dotdot = await craft('dotdot', (dir, src) => {
      run('bash', ['-c', 'echo x > escape'], dir);
      const tarFile = join(dir, 'a.tar');
      run('tar', ['-cf', tarFile, '-C', src, 'ws'], dir);
      run('tar', ['-rPf', tarFile, 'ws/../../escape'], src);
      return tarFile;
    });

    // Act
    const abs = await restore(absolute, 'absolute');
    const dots = await restore(dotdot, 'dotdot');

    // Assert
    expect(abs.run.exitCode).toBe(1);
    expect(abs.run.lastStderrLine).toContain(
      `the archive holds '${join(workDir, 'craft', 'absolute', 'escape')}' outside its root folder 'ws'`,
    );
    expect(dots.run.exitCode).toBe(1);
    expect(dots.run.lastStderrLine).toContain(
      "the archive holds 'ws/../../escape' outside its root folder 'ws'",
    );
    for (const r of [abs, dots]) {
      expect(r.run.lastStderrLine).toMatch(failureLine);
      expect(await readdir(r.parent)).toEqual([]);
    }
  });

  it(
    'gives the files the restoring user as owner, and the archive’s owners only when asked',
    slow,
    async () => {
      // Arrange: a file the archive says belongs to uid/gid 4242 (an account the target host may not have).
      const archive = await craft('foreign-owner', (dir, src) => {
        const tarFile = join(dir, 'a.tar');
        run('tar', ['-cf', tarFile, '-C', src, 'ws'], dir);
        const script = `
import io, sys, tarfile
info = tarfile.TarInfo('ws/values/planted.yaml')
data = b'x: 1\\n'
info.size, info.uid, info.gid, info.mode = len(data), 4242, 4242, 0o644
with tarfile.open(sys.argv[1], 'a', format=tarfile.GNU_FORMAT) as tar:
    tar.addfile(info, io.BytesIO(data))
`;
        run('python3', ['-c', script, tarFile], dir);
        return tarFile;
      });
      const ownerOf = (file: string) =>
        spawnSync('stat', ['-c', '%u:%g', file], { encoding: 'utf8' }).stdout.trim();

      // Act
      const plain = await restore(archive, 'foreign-owner-plain');
      const kept = await restore(archive, 'foreign-owner-kept', { restoreOwnership: 'true' });

      // Assert
      expect(plain.run.exitCode, plain.run.stderr).toBe(0);
      expect(ownerOf(join(plain.target, 'values', 'planted.yaml'))).toBe(
        `${process.getuid?.()}:${process.getgid?.()}`,
      );
      expect(plain.run.stderr).toMatch(/owners: the restoring user \(\w+\), not the archive's/);
      expect(kept.run.exitCode, kept.run.stderr).toBe(0);
      expect(ownerOf(join(kept.target, 'values', 'planted.yaml'))).toBe('4242:4242');
    },
  );

  it("reports tar's own refusal as what it is, not as a lack of disk space", slow, async () => {
    // Arrange: a hard link to a member the archive no longer holds passes the listing checks; tar refuses it.
    const archive = await craft('dangling-hardlink', (dir, src) => {
      run('bash', ['-c', 'echo a > ws/a && ln ws/a ws/hl'], src);
      const tarFile = join(dir, 'a.tar');
      run('tar', ['-cf', tarFile, '-C', src, 'ws'], dir);
      // Delete whichever of the two tar stored as the file (the other is the link to it).
      run(
        'bash',
        ['-c', `tar --delete -f "$1" "$(tar -tvf "$1" | awk '/ link to /{ print $NF }')"`, 'craft', tarFile],
        dir,
      );
      return tarFile;
    });

    // Act
    const { run: result, parent } = await restore(archive, 'dangling-hardlink');

    // Assert
    expect(result.exitCode).toBe(1);
    expect(result.lastStderrLine).toMatch(failureLine);
    expect(result.lastStderrLine).toMatch(
      /tar refused to extract the archive: '.*ws\/(a|hl).*'; .* was not changed/,
    );
    expect(result.lastStderrLine).not.toMatch(/disk space/);
    expect(await readdir(parent)).toEqual([]);
  });
});

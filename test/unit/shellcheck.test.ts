import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inlineSources } from '../../lib/constructs/host-documents.js';
import { hostDocuments } from '../../lib/host-documents.js';
import { projectRoot } from '../../lib/paths.js';

/** shellcheck at its default severity over one script text (stdin), as bash. */
function shellcheck(script: string): { status: number | null; output: string } {
  const run = spawnSync('shellcheck', ['--shell=bash', '--format=gcc', '-'], {
    input: script,
    encoding: 'utf8',
  });
  if (run.error) {
    throw new Error(
      `shellcheck could not run (${run.error.message}): install it (apt-get install shellcheck; wire-stack install does)`,
    );
  }
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('host scripts under shellcheck', () => {
  it('finds nothing at the default severity in any SSM document’s script, as synth inlines it', () => {
    const documents = Object.values(hostDocuments);
    expect(documents.length).toBeGreaterThan(5);
    for (const document of documents) {
      const { status, output } = shellcheck(
        inlineSources(join(projectRoot, 'host-scripts', document.script)),
      );
      expect(output, `${document.script}:\n${output}`).toBe('');
      expect(status, document.script).toBe(0);
    }
  });

  it('reports a real finding, so a clean run means something', () => {
    const { status, output } = shellcheck('#!/usr/bin/env bash\nx=$1\nrm -rf $x/*\n');
    expect(status).not.toBe(0);
    expect(output).toMatch(/SC2086/);
  });
});

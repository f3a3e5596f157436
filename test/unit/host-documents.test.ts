import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { HostDocuments, inlineSources } from '../../lib/constructs/host-documents.js';
import { hostDocuments } from '../../lib/host-documents.js';

function synthScripts(): string[] {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Docs');
  new HostDocuments(stack, 'HostDocuments', { documents: hostDocuments });
  const docs = Template.fromStack(stack).findResources('AWS::SSM::Document');
  return Object.values(docs).map((doc) => {
    const [step] = doc.Properties.Content.mainSteps;
    return step.inputs.runCommand.join('\n') as string;
  });
}

describe('HostDocuments', () => {
  it('inlines the shared helpers into every document', () => {
    const scripts = synthScripts();
    expect(scripts).toHaveLength(Object.keys(hostDocuments).length);
    for (const script of scripts) {
      expect(script).not.toContain('wire-backup:inline');
      expect(script).not.toContain('lib/common.sh"');
      expect(script).toMatch(/^on_exit\(\) \{$/m);
      expect(script).toMatch(/^check_param\(\) \{$/m);
      expect(script).toContain('trap on_exit EXIT');
      // The script's own settings come before the helpers that read them.
      expect(script.indexOf('readonly SCRIPT=')).toBeLessThan(script.indexOf('trap on_exit EXIT'));
    }
  });

  it('fails the synth when an inlined file is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wire-backup-inline-'));
    try {
      const script = join(dir, 'x.sh');
      writeFileSync(
        script,
        `set -eu\n. "$(dirname -- "\${BASH_SOURCE[0]}")/lib/nope.sh" # wire-backup:inline\n`,
      );
      expect(() => inlineSources(script)).toThrow(/lib\/nope\.sh.*does not exist/);
      writeFileSync(script, 'set -eu\n. lib/common.sh # wire-backup:inline\n');
      expect(() => inlineSources(script)).toThrow(/malformed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

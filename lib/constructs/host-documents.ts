import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CfnDocument } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import type { HostDocumentSpec } from '../host-documents.js';
import { projectRoot } from '../paths.js';

/** Props of {@link HostDocuments}. */
export interface HostDocumentsProps {
  /** The documents to create, by key. */
  readonly documents: Readonly<Record<string, HostDocumentSpec>>;
}

/**
 * SSM command documents whose `runCommand` is the content of a real script file in `host-scripts/`,
 * read at synth. Parameters are validated by `allowedPattern` and passed as environment variables.
 */
export class HostDocuments extends Construct {
  /** Document name by key. */
  public readonly names: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: HostDocumentsProps) {
    super(scope, id);
    const names: Record<string, string> = {};
    for (const [key, spec] of Object.entries(props.documents)) {
      const script = readFileSync(join(projectRoot, 'host-scripts', spec.script), 'utf8');
      const parameters = Object.fromEntries(
        Object.entries(spec.parameters).map(([name, p]) => [
          name,
          {
            type: 'String',
            description: p.description,
            allowedPattern: p.allowedPattern,
            interpolationType: 'ENV_VAR',
            ...(p.default === undefined ? {} : { default: p.default }),
          },
        ]),
      );
      new CfnDocument(this, key, {
        name: spec.name,
        documentType: 'Command',
        documentFormat: 'JSON',
        updateMethod: 'NewVersion',
        content: {
          schemaVersion: '2.2',
          description: spec.description,
          parameters,
          mainSteps: [
            {
              action: 'aws:runShellScript',
              name: 'run',
              inputs: { timeoutSeconds: String(spec.timeoutSeconds), runCommand: [script] },
            },
          ],
        },
      });
      names[key] = spec.name;
    }
    this.names = names;
  }
}

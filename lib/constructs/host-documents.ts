import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { CfnDocument } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { maxLengthOf } from '../../functions/core/contract/rules.js';
import { bashRulesPath, renderBashRules } from '../../functions/core/contract/rules-bash.js';
import type { HostDocumentSpec } from '../host-documents.js';
import { projectRoot } from '../paths.js';

/** The marker of a line that sources a shared file, replaced by that file's content at synth. */
const inlineMarker = '# wire-backup:inline';
// `. "$(dirname -- "${BASH_SOURCE[0]}")/<path>" # wire-backup:inline`
const inlineLine = /^\. "\$\(dirname -- "\$\{BASH_SOURCE\[0\]\}"\)\/([^"]+)" # wire-backup:inline$/;

/** Files a script may source that exist only at synth: their content is generated from TypeScript. */
const generatedSources: Readonly<Record<string, () => string>> = {
  [join(projectRoot, 'host-scripts', bashRulesPath)]: renderBashRules,
};

/**
 * The content of a host script with every `# wire-backup:inline` line replaced by the file it sources
 * (relative to the script), minus that file's shebang and leading comment block, so that the SSM
 * document is self-contained. `lib/rules.sh` is not a file: it is replaced by the bash form of the
 * validation rules (`functions/core/contract/rules-bash.ts`). Throws when a marked line is malformed
 * or names a missing file.
 */
export function inlineSources(scriptPath: string): string {
  const script = readFileSync(scriptPath, 'utf8');
  const shown = relative(projectRoot, scriptPath);
  return script
    .split('\n')
    .map((line, index) => {
      if (!line.includes(inlineMarker)) return line;
      const match = inlineLine.exec(line);
      if (!match?.[1]) {
        throw new Error(
          `${shown}:${index + 1}: malformed ${inlineMarker} line (expected: . "$(dirname -- "\${BASH_SOURCE[0]}")/<file>" ${inlineMarker})`,
        );
      }
      const sourced = join(dirname(scriptPath), match[1]);
      const generate = generatedSources[sourced];
      if (generate) return generate();
      if (!existsSync(sourced)) {
        throw new Error(
          `${shown}:${index + 1}: ${inlineMarker} names ${relative(projectRoot, sourced)}, which does not exist`,
        );
      }
      const lines = readFileSync(sourced, 'utf8').replace(/\n$/, '').split('\n');
      const start = lines.findIndex((l) => !l.startsWith('#'));
      const body = start < 0 ? [] : lines.slice(start);
      if (body.some((l) => l.includes(inlineMarker))) {
        throw new Error(`${relative(projectRoot, sourced)}: nested ${inlineMarker} lines are not supported`);
      }
      return body.join('\n');
    })
    .join('\n');
}

/** Props of {@link HostDocuments}. */
export interface HostDocumentsProps {
  /** The documents to create, by key. */
  readonly documents: Readonly<Record<string, HostDocumentSpec>>;
  /** The deployed name of a document, from its spec's name (`lib/names.ts`). @default - the spec's name */
  readonly nameOf?: (specName: string) => string;
}

/**
 * SSM command documents whose `runCommand` is the content of a real script file in `host-scripts/`,
 * read at synth. Parameters are validated by `allowedPattern` (their rule's pattern) and passed as
 * environment variables.
 */
export class HostDocuments extends Construct {
  /** Document name by key. */
  public readonly names: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: HostDocumentsProps) {
    super(scope, id);
    const names: Record<string, string> = {};
    for (const [key, spec] of Object.entries(props.documents)) {
      const script = inlineSources(join(projectRoot, 'host-scripts', spec.script));
      const parameters = Object.fromEntries(
        Object.entries(spec.parameters).map(([name, p]) => [
          name,
          {
            type: 'String',
            description: p.description,
            allowedPattern: p.rule.pattern,
            maxChars: maxLengthOf(p.rule),
            interpolationType: 'ENV_VAR',
            ...(p.default === undefined ? {} : { default: p.default }),
          },
        ]),
      );
      const name = props.nameOf ? props.nameOf(spec.name) : spec.name;
      new CfnDocument(this, key, {
        name,
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
      names[key] = name;
    }
    this.names = names;
  }
}

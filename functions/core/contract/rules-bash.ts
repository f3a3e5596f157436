import { maxLengthOf, type Rule, rules, SYSTEM_FOLDERS, SYSTEM_KEYSPACES, SYSTEM_TREES } from './rules.js';

/**
 * The bash form of {@link rules}: the block that synth inlines into every host script in place of the
 * line sourcing `lib/rules.sh` (a file that exists only as this output). For each rule it defines
 * `RULE_<NAME>` (the pattern), `RULE_<NAME>_WHAT` (the description), `RULE_<NAME>_MAX` (the longest value, in characters) and, for `/`-separated values,
 * `RULE_<NAME>_NO_DOTDOT=true`; `check_rule` in `lib/common.sh` reads them. It also defines
 * `SYSTEM_KEYSPACES` as a space-padded word list (`[[ $SYSTEM_KEYSPACES == *" $ks "* ]]`), and the
 * `SYSTEM_FOLDERS` (refused themselves) and `SYSTEM_TREES` (refused with everything below) of
 * `systemFolderOf`, for the rules with `RULE_<NAME>_NOT_SYSTEM_FOLDER=true`.
 */

/** The path, relative to `host-scripts/`, under which scripts source the generated block. */
export const bashRulesPath = 'lib/rules.sh';

/** `camelCase` → `UPPER_SNAKE` (the bash variable name of a rule). */
export function bashRuleName(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** A bash single-quoted word holding `value` exactly. */
function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function ruleLines(rule: Rule): string[] {
  const v = `RULE_${bashRuleName(rule.name)}`;
  const lines = [
    `${v}=${quote(rule.pattern)}`,
    `${v}_WHAT=${quote(rule.description)}`,
    `${v}_MAX=${maxLengthOf(rule)}`,
  ];
  if (rule.noDotDotSegment) lines.push(`${v}_NO_DOTDOT=true`);
  if (rule.notSystemFolder) lines.push(`${v}_NOT_SYSTEM_FOLDER=true`);
  return lines;
}

/** The generated bash block (no shebang; ends without a newline, like an inlined file's body). */
export function renderBashRules(): string {
  // One `readonly` command, so that one shellcheck directive covers it: check_rule reads most of
  // these by indirect expansion, which shellcheck cannot follow (SC2034).
  const assignments = [
    ...Object.values(rules).flatMap(ruleLines),
    `SYSTEM_KEYSPACES=${quote(` ${SYSTEM_KEYSPACES.join(' ')} `)}`,
    `SYSTEM_FOLDERS=${quote(` ${SYSTEM_FOLDERS.join(' ')} `)}`,
    `SYSTEM_TREES=${quote(` ${SYSTEM_TREES.join(' ')} `)}`,
  ];
  return [
    '# Validation rules, generated at synth from functions/core/contract/rules.ts: edit them there.',
    '# shellcheck disable=SC2034 # check_rule reads these by name (indirect expansion)',
    'readonly \\',
    assignments.map((a) => `  ${a}`).join(' \\\n'),
  ].join('\n');
}

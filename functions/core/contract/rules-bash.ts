import { type Rule, rules, SYSTEM_KEYSPACES } from './rules.js';

/**
 * The bash form of {@link rules}: the block that synth inlines into every host script in place of the
 * line sourcing `lib/rules.sh` (a file that exists only as this output). For each rule it defines
 * `RULE_<NAME>` (the pattern), `RULE_<NAME>_WHAT` (the description) and, for `/`-separated values,
 * `RULE_<NAME>_NO_DOTDOT=true`; `check_rule` in `lib/common.sh` reads them. It also defines
 * `SYSTEM_KEYSPACES` as a space-padded word list (`[[ $SYSTEM_KEYSPACES == *" $ks "* ]]`).
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
  const lines = [`readonly ${v}=${quote(rule.pattern)}`, `readonly ${v}_WHAT=${quote(rule.description)}`];
  if (rule.noDotDotSegment) lines.push(`readonly ${v}_NO_DOTDOT=true`);
  return lines;
}

/** The generated bash block (no shebang; ends without a newline, like an inlined file's body). */
export function renderBashRules(): string {
  return [
    '# Validation rules, generated at synth from functions/core/contract/rules.ts: edit them there.',
    ...Object.values(rules).flatMap(ruleLines),
    `readonly SYSTEM_KEYSPACES=${quote(` ${SYSTEM_KEYSPACES.join(' ')} `)}`,
  ].join('\n');
}

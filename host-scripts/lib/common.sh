#!/usr/bin/env bash
# wire-backup host scripts: the helpers every script shares.
#
# Each SSM document must be self-contained: a script sources the validation rules and this file with
#   . "$(dirname -- "${BASH_SOURCE[0]}")/lib/rules.sh" # wire-backup:inline
#   . "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh" # wire-backup:inline
# and lib/constructs/host-documents.ts replaces the second line with the content of this file (from the
# `set -o errtrace` line on) at synth, and the first with the bash form of
# functions/core/contract/rules.ts (`RULE_*` patterns and descriptions, `SYSTEM_KEYSPACES`). lib/rules.sh
# is not a file: scripts run as synth produces them (the SSM documents, the local runner, the tests).
#
# Before the line, a script sets:
#   SCRIPT          its name (log prefix, unexpected-failure message);
#   RERUN_HINT      how to fix an unexpected failure, e.g. `run the backup again`;
#   INTERRUPT_HINT  how to fix an interruption by a signal;
#   its own variables the cleanup reads, and optionally a function `cleanup_hook <rc>`, run by the EXIT
#   trap before WORK_DIR is removed and the failure message is printed.
# shellcheck disable=SC2154 # SCRIPT, RERUN_HINT and INTERRUPT_HINT are set by the sourcing script.
set -o errtrace
umask 077
export LC_ALL=C
# The AWS CLI rides out short vault faults (resets, throttling, 5xx, a few seconds of refused connections):
# standard retry mode, 10 attempts (exponential backoff with jitter, at most 20 s apart; about a minute in
# all). A host's own AWS_RETRY_MODE / AWS_MAX_ATTEMPTS win. README, "Faults and retries".
export AWS_RETRY_MODE=${AWS_RETRY_MODE:-standard} AWS_MAX_ATTEMPTS=${AWS_MAX_ATTEMPTS:-10}

# fd 3 is the SSM stdout, reserved for the result line; everything else goes to stderr.
exec 3>&1 1>&2

: "${SCRIPT:?set SCRIPT before the common helpers}" "${RERUN_HINT:?set RERUN_HINT before the common helpers}" \
  "${INTERRUPT_HINT:?set INTERRUPT_HINT before the common helpers}"
HOST=${HOSTNAME:-$(uname -n)}
FAIL_MESSAGE=''
ERR_AT=''
WORK_DIR=''

log() { printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$SCRIPT" "$*" >&2; }
# fail <what failed> <how to fix>: exits; the EXIT trap cleans up and prints the message last.
fail() {
  FAIL_MESSAGE="$1 — $2"
  exit 1
}
# refuse <what is refused> <how to proceed>: like fail, for a target a restore must not write into; nothing
# was written. Exit code 3 (REFUSED_EXIT) tells the state machine it is a refusal (RestoreRefusedError),
# not a host that failed.
readonly REFUSED_EXIT=3
refuse() {
  FAIL_MESSAGE="$1 — $2"
  exit "$REFUSED_EXIT"
}
on_exit() {
  local rc=$?
  set +e
  trap - ERR
  if declare -F cleanup_hook >/dev/null; then cleanup_hook "$rc"; fi
  if [[ -n $WORK_DIR ]]; then rm -rf -- "$WORK_DIR"; fi
  if ((rc != 0)); then
    if [[ -z $FAIL_MESSAGE ]]; then
      FAIL_MESSAGE="$SCRIPT failed unexpectedly (exit $rc at ${ERR_AT:-an unknown command}) — read the log lines above for the cause, fix it and $RERUN_HINT"
    fi
    printf 'wire-backup: %s: %s\n' "$HOST" "$FAIL_MESSAGE" >&2
  fi
  exit "$rc"
}
trap 'ERR_AT="line $LINENO: ${BASH_COMMAND:0:200}"' ERR
trap on_exit EXIT
trap 'fail "$SCRIPT was interrupted by a signal" "$INTERRUPT_HINT"' INT TERM HUP

# json_str <value>: the value as a JSON string literal.
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  s=${s//[$'\x01'-$'\x1f']/?}
  printf '"%s"' "$s"
}
# shown <value>: a value made safe to quote in a one-line message.
shown() {
  local s=${1:0:120}
  printf "'%s'" "${s//[^[:print:]]/?}"
}
# check_param <name> <value> <regex> <what is expected>
check_param() {
  if ! [[ $2 =~ $3 ]]; then
    fail "parameter $1 is invalid: $(shown "$2") is not $4" "set SSM_$1 to $4"
  fi
}
# check_rule <name> <value> <RULE>: checks a parameter against the validation rule RULE_<RULE> of the
# generated lib/rules.sh (its length cap RULE_<RULE>_MAX, its pattern, RULE_<RULE>_WHAT, RULE_<RULE>_NO_DOTDOT for paths and keys, and
# RULE_<RULE>_NOT_SYSTEM_FOLDER for folders a restore writes into).
check_rule() {
  local pattern=RULE_$3 what=RULE_$3_WHAT dotdot=RULE_$3_NO_DOTDOT
  if [[ ! -v $pattern || ! -v $what ]]; then
    fail "$SCRIPT checks parameter $1 against an unknown rule $3" "name a rule of functions/core/contract/rules.ts (RULE_<UPPER_SNAKE name>)"
  fi
  local max=RULE_$3_MAX
  if [[ -v $max ]] && ((${#2} > ${!max})); then
    fail "parameter $1 is invalid: it has ${#2} characters, more than the ${!max} allowed" "set SSM_$1 to ${!what}"
  fi
  # The named refusal first: the pattern refuses a .. segment too, with a vaguer message.
  if [[ ${!dotdot-} == true ]]; then check_no_dotdot "$1" "$2"; fi
  check_param "$1" "$2" "${!pattern}" "${!what}"
  local system=RULE_$3_NOT_SYSTEM_FOLDER
  if [[ ${!system-} == true ]]; then check_not_system_folder "$1" "$2"; fi
}
# check_not_system_folder <name> <path>: refuses a system folder, or a path below one of SYSTEM_TREES
# (lib/rules.sh; systemFolderOf in functions/core/contract/rules.ts says the same).
check_not_system_folder() {
  local folder=/ segment tree found='' relation=is
  local IFS=/
  for segment in $2; do
    if [[ -n $segment && $segment != . ]]; then folder=${folder%/}/$segment; fi
  done
  unset IFS
  if [[ $SYSTEM_FOLDERS == *" $folder "* ]]; then found=$folder; fi
  for tree in $SYSTEM_TREES; do
    if [[ $folder == "$tree" ]]; then found=$tree; elif [[ $folder == "$tree"/* ]]; then found=$tree relation='lies below'; fi
  done
  if [[ -n $found ]]; then
    fail "parameter $1 is invalid: $(shown "$2") $relation the system folder $found" \
      "set SSM_$1 to a folder of its own, like /home/wire/wire-server-deploy"
  fi
}
# check_no_dotdot <name> <value>
check_no_dotdot() {
  if [[ /$2/ == */../* ]]; then
    fail "parameter $1 is invalid: $(shown "$2") has a '..' segment" "set SSM_$1 to a value without '..'"
  fi
}
# human <bytes>: e.g. `1.5 MiB`.
human() { awk -v b="$1" 'BEGIN { split("B KiB MiB GiB TiB", u, " "); i = 1; while (b >= 1024 && i < 5) { b /= 1024; i++ } printf (i == 1 ? "%d %s" : "%.1f %s"), b, u[i] }'; }
# free_bytes <existing path>: the bytes free for this user on the filesystem holding it (0 when df fails).
free_bytes() { df -Pk -- "$1" 2>/dev/null | awk 'NR == 2 { f = $4 * 1024 } END { printf "%.0f", f + 0 }'; }
# tail_of <file> <prefix>: the last lines of a command's output, into the log.
# cqlsh's version warning is noise in every tool's output it lands in: dropped.
tail_of() { { grep -v '^WARNING: cqlsh was built against' "$1" || true; } | sed "s/^/  $2: /" | tail -n 15 >&2; }

#!/usr/bin/env bash
# wire-backup host script: restore the schema of Cassandra keyspaces from a backup's schema.cql.
#
# Run by SSM Run Command on one Cassandra node of the target cluster (document parameter `fooBar` arrives
# as the environment variable SSM_fooBar). Steps:
#   1. download schema.cql (the output of `DESCRIBE SCHEMA WITH INTERNALS`, or a snapshot's schema.cql
#      files) from the vault;
#   2. split it into statements (`;` outside strings, quoted names, $$ bodies and comments) and keep the
#      CREATE KEYSPACE / TYPE / TABLE / INDEX / MATERIALIZED VIEW / FUNCTION / AGGREGATE statements of the
#      selected keyspaces (empty list = every non-system keyspace in the file), each made
#      `CREATE … IF NOT EXISTS` (a table keeps its `WITH ID`), and each table's history: `ALTER TABLE …
#      DROP <column> USING TIMESTAMP <drop time>` and `ALTER TABLE … ADD` of a re-added column; other
#      statements are reported and skipped;
#   3. refuse when a selected keyspace already exists in the cluster with rows in any of its tables
#      (`SELECT (int)1 … LIMIT 1` per table: a literal, so no row value is ever read into the output) and
#      overwrite is false, and when a table the cluster already has does not know a column the backup
#      holds as dropped (its SSTables could not be loaded);
#   4. unless dryRun: apply the statements with `cqlsh -f` (a table's history only when this restore
#      creates the table), wait until `nodetool describecluster` shows one schema version, and check that
#      every table of the file now exists with the backup's dropped columns.
# Existing tables are left as they are (IF NOT EXISTS): a schema that differs from the backup's is not
# altered.
#
# Parameters (environment): SSM_vaultBucket, SSM_schemaKey, SSM_keyspaces (comma list, may be empty),
#   SSM_overwrite (true|false), SSM_dryRun (true|false).
# Output: log lines on stderr; one stdout line `WIRE_BACKUP_RESULT {"keyspaces":[…],"tables":N,
#   "statements":N,"skipped":N,"replicationWarnings":[…],"dryRun":bool}` (a warning per keyspace whose
#   replication factor exceeds the target cluster's node count). On failure: exit non-zero, last stderr line
#   `wire-backup: <host>: <what failed> — <how to fix>`.
set -euo pipefail

readonly SCRIPT=restore-cassandra-schema
RERUN_HINT='run the restore again'
INTERRUPT_HINT='run the restore again (every statement is IF NOT EXISTS)'
# The helpers every host script shares; inlined into the SSM document at synth.
# lib/rules.sh is the validation rules (RULE_*, SYSTEM_KEYSPACES) that synth generates from
# functions/core/contract/rules.ts; it is no file.
# shellcheck source=/dev/null
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/rules.sh" # wire-backup:inline
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh" # wire-backup:inline

# package_of <tool>: how to install the tool.
package_of() {
  case $1 in
    nodetool) printf 'Cassandra (put its bin directory, e.g. /opt/cassandra/bin, on PATH)' ;;
    cqlsh) printf 'cqlsh (Debian/Ubuntu: the cassandra package, or pip install cqlsh)' ;;
    aws) printf 'the AWS CLI (Debian/Ubuntu package awscli, or AWS CLI v2)' ;;
    *) printf 'the package that provides it' ;;
  esac
}
# cq <cql name>: the name as a quoted CQL identifier.
cq() { printf '"%s"' "${1//\"/\"\"}"; }

# --- inputs ------------------------------------------------------------------------------------
VAULT_BUCKET=${SSM_vaultBucket-}
SCHEMA_KEY=${SSM_schemaKey-}
KEYSPACES_PARAM=${SSM_keyspaces-}
OVERWRITE=${SSM_overwrite-}
DRY_RUN=${SSM_dryRun-}
check_rule vaultBucket "$VAULT_BUCKET" BUCKET_NAME
check_rule schemaKey "$SCHEMA_KEY" VAULT_KEY
check_rule keyspaces "$KEYSPACES_PARAM" KEYSPACE_LIST
check_rule overwrite "$OVERWRITE" BOOLEAN
check_rule dryRun "$DRY_RUN" BOOLEAN

if [[ -d /opt/cassandra/bin ]]; then PATH="$PATH:/opt/cassandra/bin"; fi
for tool in aws cqlsh nodetool; do
  if ! command -v -- "$tool" >/dev/null; then
    fail "required tool '$tool' is not installed or not on PATH" "install $(package_of "$tool")"
  fi
done
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wire-backup-restore-schema.XXXXXX")
readonly CQLSH_OPTS=(--request-timeout=120 --connect-timeout=30)

# --- 1. download -------------------------------------------------------------------------------
log "schema s3://$VAULT_BUCKET/$SCHEMA_KEY, keyspaces ${KEYSPACES_PARAM:-(all in the file)}, overwrite $OVERWRITE, dryRun $DRY_RUN"
if ! aws s3 cp --only-show-errors "s3://$VAULT_BUCKET/$SCHEMA_KEY" "$WORK_DIR/schema.cql" >"$WORK_DIR/get.out" 2>&1; then
  tail_of "$WORK_DIR/get.out" aws
  fail "download of s3://$VAULT_BUCKET/$SCHEMA_KEY failed" \
    "check the backup's schema key (its manifest names it) and that this host can read the vault"
fi

# --- 2. statements -----------------------------------------------------------------------------
# Writes the kept statements to `out` and one line per statement to `summary`:
#   KEPT <kind> <keyspace> <name> | OTHER <first 100 characters> | MISSING <keyspace> | ERROR <message>.
# Names are CQL names: unquoted ones lowercased, quoted ones unquoted. SYS is SYSTEM_KEYSPACES.
read -r -d '' SPLIT_AWK <<'AWK' || true
function trim(s) { sub(/^[ \t\r\n]+/, "", s); sub(/[ \t\r\n]+$/, "", s); return s }
# ident(s): parses a name at the start of s into ID (normalised) and IDLEN (characters used).
function ident(s,   i, ch, r) {
  if (substr(s, 1, 1) == "\"") {
    r = ""
    for (i = 2; i <= length(s); i++) {
      ch = substr(s, i, 1)
      if (ch == "\"") {
        if (substr(s, i + 1, 1) == "\"") { r = r "\""; i++; continue }
        ID = r; IDLEN = i; return 1
      }
      r = r ch
    }
    return 0
  }
  if (match(s, /^[A-Za-z0-9_]+/)) { ID = tolower(substr(s, 1, RLENGTH)); IDLEN = RLENGTH; return 1 }
  return 0
}
# qname(s): parses `[ks.]name` into QKS ("" when unqualified), QNAME and QLEN (characters used).
function qname(s,   a, n) {
  if (!ident(s)) return 0
  a = ID; n = IDLEN; s = substr(s, IDLEN + 1)
  if (substr(s, 1, 1) == ".") {
    if (!ident(substr(s, 2))) return 0
    QKS = a; QNAME = ID; QLEN = n + 1 + IDLEN; return 1
  }
  QKS = ""; QNAME = a; QLEN = n; return 1
}
function add(s,   u, kind, rest, head, pre, ine, rep) {
  s = trim(s)
  if (s == "") return
  u = toupper(s); kind = ""; rep = 0
  if (match(u, "^CREATE" WS "+KEYSPACE" WS "+")) kind = "KEYSPACE"
  else if (match(u, "^CREATE" WS "+TYPE" WS "+")) kind = "TYPE"
  else if (match(u, "^CREATE" WS "+(TABLE|COLUMNFAMILY)" WS "+")) kind = "TABLE"
  else if (match(u, "^CREATE" WS "+(CUSTOM" WS "+)?INDEX" WS "+")) kind = "INDEX"
  else if (match(u, "^CREATE" WS "+MATERIALIZED" WS "+VIEW" WS "+")) kind = "VIEW"
  else if (match(u, "^CREATE" WS "+(OR" WS "+REPLACE" WS "+)?FUNCTION" WS "+")) kind = "FUNCTION"
  else if (match(u, "^CREATE" WS "+(OR" WS "+REPLACE" WS "+)?AGGREGATE" WS "+")) kind = "AGGREGATE"
  else if (match(u, "^ALTER" WS "+(TABLE|COLUMNFAMILY)" WS "+")) {
    # A table's schema history (DESCRIBE … WITH INTERNALS, a snapshot's schema.cql): `ALTER TABLE ks.t
    # DROP c USING TIMESTAMP n` and `ALTER TABLE ks.t ADD c type`, after its CREATE TABLE. Kept as they
    # are and run only for a table this restore creates; any other ALTER is skipped.
    rest = substr(s, RLENGTH + 1)
    if (qname(rest) && QKS != "") {
      after = trim(substr(rest, QLEN + 1))
      if (match(toupper(after), "^(DROP|ADD)" WS "+")) {
        op = (toupper(substr(after, 1, 1)) == "A") ? "ADD" : "DROP"
        col = ""; ts = ""; skip = RLENGTH
        if (ident(substr(after, skip + 1))) {
          col = ID
          tail = toupper(trim(substr(after, skip + 1 + IDLEN)))
          if (op == "DROP" && match(tail, "^USING" WS "+TIMESTAMP" WS "+[0-9]+$")) { ts = tail; sub(/^.*[ \t\r\n]/, "", ts) }
        }
        N++; K[N] = "HISTORY"; KS[N] = QKS; NM[N] = QNAME; T[N] = s; X[N] = op "\t" col "\t" ts
        if (!(QKS in SEEN)) { SEEN[QKS] = 1; ORDER[++NKS] = QKS }
        return
      }
    }
  }
  if (kind == "") {
    head = substr(s, 1, 100); gsub(/[ \t\r\n]+/, " ", head)
    N++; K[N] = "OTHER"; T[N] = head; return
  }
  pre = substr(s, 1, RLENGTH); rest = substr(s, RLENGTH + 1)
  if (toupper(pre) ~ ("OR" WS "+REPLACE")) rep = 1
  ine = ""
  if (match(toupper(rest), "^IF" WS "+NOT" WS "+EXISTS" WS "+")) { ine = substr(rest, 1, RLENGTH); rest = substr(rest, RLENGTH + 1) }
  else if (!rep) ine = "IF NOT EXISTS "
  if (kind == "INDEX") {
    # CREATE [CUSTOM] INDEX [name] ON [ks.]table ...
    if (!match(toupper(rest), "^ON" WS "+")) {
      if (!ident(rest)) { ERR = "cannot read the index name in: " substr(s, 1, 100); return }
      if (!match(toupper(substr(rest, IDLEN + 1)), "^" WS "+ON" WS "+")) { ERR = "cannot read the table of: " substr(s, 1, 100); return }
      name = ID; RSTART += IDLEN
    } else name = ""
    if (!qname(substr(rest, RSTART + RLENGTH))) { ERR = "cannot read the table of: " substr(s, 1, 100); return }
    ks = QKS; if (name == "") name = QNAME "_idx"
  } else {
    if (!qname(rest)) { ERR = "cannot read the name in: " substr(s, 1, 100); return }
    if (kind == "KEYSPACE") { ks = QNAME; name = QNAME }
    else { ks = QKS; name = QNAME }
  }
  if (ks == "") { ERR = "statement without a keyspace-qualified name: " substr(s, 1, 100); return }
  N++; K[N] = kind; KS[N] = ks; NM[N] = name; T[N] = pre ine rest
  if (!(ks in SEEN)) { SEEN[ks] = 1; ORDER[++NKS] = ks }
}
BEGIN { WS = "[ \t\r\n]" }
# cqlsh prints its version warning on stdout, so a captured DESCRIBE SCHEMA may start with it.
/^WARNING: cqlsh / { next }
# Line by line; mode: 0 CQL, 1 '…', 2 "…", 3 $$…$$, 4 /* … */. `st` is the statement so far, comments
# replaced by a blank.
{
  line = $0 "\n"; len = length(line); seg = 1; i = 1
  while (i <= len) {
    if (mode == 4) {
      j = index(substr(line, i), "*/")
      if (j == 0) { i = len + 1; seg = i; break }
      i += j + 1; seg = i; mode = 0; continue
    }
    c = substr(line, i, 1)
    if (mode == 0) {
      c2 = substr(line, i, 2)
      if (c2 == "--" || c2 == "//") { st = st substr(line, seg, i - seg) "\n"; i = len + 1; seg = i; break }
      if (c2 == "/*") { st = st substr(line, seg, i - seg) " "; mode = 4; i += 2; continue }
      if (c2 == "$$") { mode = 3; i += 2; continue }
      if (c == "'") mode = 1
      else if (c == "\"") mode = 2
      else if (c == ";") { add(st substr(line, seg, i - seg)); st = ""; i++; seg = i; continue }
    } else if (mode == 1 || mode == 2) {
      q = (mode == 1) ? "'" : "\""
      if (c == q) { if (substr(line, i + 1, 1) == q) { i += 2; continue } mode = 0 }
    } else if (substr(line, i, 2) == "$$") { mode = 0; i += 2; continue }
    i++
  }
  if (seg <= len) st = st substr(line, seg)
}
END {
  add(st)
  if (ERR != "") { print "ERROR\t" ERR > summary; exit }
  nsel = 0
  if (keep == "") {
    for (k = 1; k <= NKS; k++) if (index(SYS, " " ORDER[k] " ") == 0) SEL[ORDER[k]] = ++nsel
  } else {
    nk = split(keep, want, ",")
    for (k = 1; k <= nk; k++) {
      if (want[k] == "" || (want[k] in SEL)) continue
      if (!(want[k] in SEEN)) { print "MISSING\t" want[k] > summary; continue }
      SEL[want[k]] = ++nsel
    }
  }
  # existing: a file of `keyspace|table` lines, the tables the cluster has: their history is not replayed.
  if (existing != "") while ((getline line < existing) > 0) HAVE[line] = 1
  for (n = 1; n <= N; n++) {
    if (K[n] == "OTHER") { print "OTHER\t" T[n] > summary; continue }
    if (!(KS[n] in SEL)) continue
    if (K[n] == "HISTORY") {
      print "KEPT\t" K[n] "\t" KS[n] "\t" NM[n] "\t" X[n] > summary
      if ((KS[n] "|" NM[n]) in HAVE) continue
    } else print "KEPT\t" K[n] "\t" KS[n] "\t" NM[n] > summary
    print T[n] ";\n" > out
  }
}
AWK
: >"$WORK_DIR/filtered.cql"
: >"$WORK_DIR/summary.tsv"
awk -v keep="$KEYSPACES_PARAM" -v SYS="$SYSTEM_KEYSPACES" -v out="$WORK_DIR/filtered.cql" -v summary="$WORK_DIR/summary.tsv" "$SPLIT_AWK" \
  "$WORK_DIR/schema.cql"
if grep -q '^ERROR' "$WORK_DIR/summary.tsv"; then
  fail "cannot read s3://$VAULT_BUCKET/$SCHEMA_KEY: $(cut -f2- "$WORK_DIR/summary.tsv" | head -n 1)" \
    "check the file is the output of DESCRIBE SCHEMA; fix it in a copy and restore the schema by hand (cqlsh -f)"
fi
MISSING=$(awk -F'\t' '$1 == "MISSING" { printf "%s%s", sep, $2; sep = ", " }' "$WORK_DIR/summary.tsv")
if [[ -n $MISSING ]]; then
  fail "keyspace(s) $MISSING are not in the backup's schema s3://$VAULT_BUCKET/$SCHEMA_KEY" \
    "remove them from the keyspaces list (the backup did not include them)"
fi
SKIPPED=$(grep -c '^OTHER' "$WORK_DIR/summary.tsv" || true)
if ((SKIPPED > 0)); then
  log "WARNING: $SKIPPED statement(s) that are not CREATE statements of a keyspace are skipped, e.g.:"
  awk -F'\t' '$1 == "OTHER" { print "  skipped: " $2 }' "$WORK_DIR/summary.tsv" | head -n 5 >&2
fi
KEYSPACES=()
while IFS= read -r ks; do KEYSPACES+=("$ks"); done < <(awk -F'\t' '$1 == "KEPT" && !seen[$3]++ { print $3 }' "$WORK_DIR/summary.tsv")
if ((${#KEYSPACES[@]} == 0)); then
  fail "s3://$VAULT_BUCKET/$SCHEMA_KEY holds no statement of a non-system keyspace" \
    "check the backup's schema key; name the keyspaces to restore"
fi
STATEMENTS=$(grep -c '^KEPT' "$WORK_DIR/summary.tsv")
TABLES=$(grep -c $'^KEPT\tTABLE\t' "$WORK_DIR/summary.tsv" || true)
log "keyspaces ${KEYSPACES[*]}: $STATEMENTS statement(s), $TABLES table(s)"
for ks in "${KEYSPACES[@]}"; do
  log "  $ks: $(awk -F'\t' -v ks="$ks" '$1 == "KEPT" && $3 == ks { n[$2]++ } END { for (k in n) printf "%s %d  ", tolower(k), n[k] }' "$WORK_DIR/summary.tsv")"
done

# --- 3. the target cluster ---------------------------------------------------------------------
# cqlsh defaults to localhost; Wire's nodes often listen on their own address only.
if ! cqlsh "${CQLSH_OPTS[@]}" -e 'SELECT release_version FROM system.local' >"$WORK_DIR/probe.out" 2>&1; then
  ADDRESS=''
  if nodetool info >"$WORK_DIR/info.out" 2>&1 && nodetool status >"$WORK_DIR/status.out" 2>&1; then
    HOST_ID=$(awk -F: '$1 ~ /^ID[ \t]*$/ { gsub(/[ \t\r]/, "", $2); print $2; exit }' "$WORK_DIR/info.out")
    ADDRESS=$(awk -v id="$HOST_ID" '$1 ~ /^[UD?][NLJM]$/ { for (i = 3; i <= NF; i++) if ($i == id) { print $2; exit } }' "$WORK_DIR/status.out")
  fi
  if [[ -z $ADDRESS ]] || ! CQLSH_HOST=$ADDRESS cqlsh "${CQLSH_OPTS[@]}" -e 'SELECT release_version FROM system.local' \
    >"$WORK_DIR/probe.out" 2>&1; then
    tail_of "$WORK_DIR/probe.out" cqlsh
    fail "cannot connect to Cassandra with cqlsh (localhost${ADDRESS:+ and $ADDRESS})" \
      "check that Cassandra runs on $HOST and accepts CQL connections (cqlsh -e 'DESCRIBE KEYSPACES'); with authentication, put the credentials in ~/.cassandra/cqlshrc of the SSM command's user"
  fi
  export CQLSH_HOST=$ADDRESS
  log "cqlsh connects through $ADDRESS"
fi
# cql_rows <cql file> <output>: runs the statements; the output's tables as `a|b` lines (padding trimmed).
cql_rows() {
  if ! cqlsh "${CQLSH_OPTS[@]}" -f "$1" >"$WORK_DIR/cql.out" 2>&1; then
    tail_of "$WORK_DIR/cql.out" cqlsh
    return 1
  fi
  awk '/^-+(\+-+)*$/ { body = 1; next } body && /^[ \t]*$/ { body = 0 } body { gsub(/[ \t]+\|[ \t]+/, "|"); gsub(/^[ \t]+|[ \t]+$/, ""); print }' \
    "$WORK_DIR/cql.out" >"$2"
}
printf 'SELECT keyspace_name, table_name FROM system_schema.tables;\n' >"$WORK_DIR/tables.cql"
if ! cql_rows "$WORK_DIR/tables.cql" "$WORK_DIR/existing.txt"; then
  fail "cannot read system_schema.tables with cqlsh" "check that Cassandra on $HOST is up (nodetool status) and run the restore again"
fi
: >"$WORK_DIR/probe-rows.cql"
PROBED=()
for ks in "${KEYSPACES[@]}"; do
  while IFS='|' read -r eks table; do
    if [[ $eks != "$ks" ]]; then continue; fi
    # A literal, never a column: no value of a row can reach the output, the log or an error cause.
    printf 'SELECT (int)1 AS present FROM %s.%s LIMIT 1;\n' "$(cq "$ks")" "$(cq "$table")" >>"$WORK_DIR/probe-rows.cql"
    PROBED+=("$ks.$table")
  done <"$WORK_DIR/existing.txt"
done
NON_EMPTY=()
if ((${#PROBED[@]} > 0)); then
  log "${#PROBED[@]} table(s) of these keyspaces already exist in the cluster: checking them for rows"
  probe_rc=0
  cqlsh "${CQLSH_OPTS[@]}" -f "$WORK_DIR/probe-rows.cql" >"$WORK_DIR/rows.out" 2>&1 || probe_rc=$?
  mapfile -t COUNTS < <(sed -n 's/^(\([0-9][0-9]*\) rows)$/\1/p' "$WORK_DIR/rows.out")
  if ((probe_rc != 0 || ${#COUNTS[@]} != ${#PROBED[@]})); then
    # Only cqlsh's error lines (the queries select a literal, but the output is never echoed).
    grep -E '^<stdin>:[0-9]+:' "$WORK_DIR/rows.out" | cut -c1-300 | head -n 5 | sed 's/^/  cqlsh: /' >&2 || true
    # A read can fail on a table full of tombstones; with overwrite the answer would not change anything.
    if [[ $OVERWRITE != true ]]; then
      fail "cannot check the existing tables of ${KEYSPACES[*]} for rows (${#COUNTS[@]} answers to ${#PROBED[@]} queries)" \
        "check that Cassandra on $HOST is up (nodetool status) and run the restore again, or set overwrite to true to skip this check"
    fi
    log "WARNING: cannot check the existing tables for rows; overwrite is true: going on"
    COUNTS=()
  fi
  for i in "${!COUNTS[@]}"; do
    if ((COUNTS[i] > 0)); then NON_EMPTY+=("${PROBED[i]}"); fi
  done
fi
if ((${#NON_EMPTY[@]} > 0)); then
  if [[ $OVERWRITE != true ]]; then
    refuse "keyspace data already exists in the cluster (rows in ${NON_EMPTY[*]:0:10}); refusing without overwrite" \
      "restore into an empty cluster or drop these keyspaces first, or set overwrite to true to keep their data and add what is missing"
  fi
  log "WARNING: tables with rows exist (${NON_EMPTY[*]:0:10}); overwrite is true: existing tables are kept as they are"
fi
# The backup's schema history. A table its SSTables were written under may have had columns dropped:
# their cells are still in those SSTables, and a node loads them only when it knows the column as dropped
# (else `nodetool import` fails with "Unknown column … during deserialization", and a column dropped in the
# backup but present in the cluster would show its dropped values again). A table this restore creates
# gets its history replayed (CREATE TABLE with every column ever dropped, then `ALTER TABLE … DROP …
# USING TIMESTAMP <the original drop time>` and `ADD` for a re-added column); a table the cluster already
# has must know the same dropped columns.
# history_gaps <keyspace|table lines> <out>: `ks.table: column (why)` per dropped column of the backup that
# the cluster does not know as dropped, or knows as dropped later than the backup for a column the backup
# re-added (the re-added column's values written in between would be hidden).
history_gaps() {
  printf 'SELECT keyspace_name, table_name, column_name, toUnixTimestamp(dropped_time) FROM system_schema.dropped_columns;\n' \
    >"$WORK_DIR/dropped.cql"
  if ! cql_rows "$WORK_DIR/dropped.cql" "$WORK_DIR/dropped.txt"; then
    fail "cannot read system_schema.dropped_columns with cqlsh" "check that Cassandra on $HOST is up (nodetool status) and run the restore again"
  fi
  awk -F'\t' -v tables="$1" -v dropped="$WORK_DIR/dropped.txt" '
    BEGIN {
      while ((getline l < tables) > 0) want[l] = 1
      while ((getline l < dropped) > 0) { split(l, f, "|"); at[f[1] "|" f[2] "|" f[3]] = f[4] }
    }
    $1 == "KEPT" && $2 == "HISTORY" && (($3 "|" $4) in want) && $6 != "" {
      k = $3 "|" $4 "|" $6
      if ($5 == "DROP") { if (!(k in ts)) order[++n] = k; ts[k] = $7; readd[k] = 0 } else readd[k] = 1
    }
    END {
      for (i = 1; i <= n; i++) {
        k = order[i]; split(k, f, "|")
        if (!(k in at)) print f[1] "." f[2] ": " f[3] " (not known as dropped)"
        else if (readd[k] && ts[k] != "" && at[k] * 1000 > ts[k] + 0) print f[1] "." f[2] ": " f[3] " (dropped later than in the backup, which re-added it)"
      }
    }' "$WORK_DIR/summary.tsv" >"$2"
}
HISTORY_STATEMENTS=$(grep -c $'^KEPT\tHISTORY\t' "$WORK_DIR/summary.tsv" || true)
if ((HISTORY_STATEMENTS > 0)); then
  history_gaps "$WORK_DIR/existing.txt" "$WORK_DIR/gaps.txt"
  if [[ -s $WORK_DIR/gaps.txt ]]; then
    sed 's/^/  schema history missing: /' "$WORK_DIR/gaps.txt" | head -n 20 >&2
    fail "$(wc -l <"$WORK_DIR/gaps.txt") dropped column(s) of the backup are not dropped columns of the tables the cluster already has, e.g. $(head -n 1 "$WORK_DIR/gaps.txt"); their SSTables cannot be loaded as they are" \
      "drop those tables (DROP TABLE; the restore recreates them with the backup's history), or apply the backup's ALTER TABLE … DROP … USING TIMESTAMP statements for them from s3://$VAULT_BUCKET/$SCHEMA_KEY by hand, and run the restore again"
  fi
fi
# The statements to apply: the history of a table the cluster already has is not replayed.
: >"$WORK_DIR/apply.cql"
awk -v keep="$KEYSPACES_PARAM" -v SYS="$SYSTEM_KEYSPACES" -v existing="$WORK_DIR/existing.txt" -v out="$WORK_DIR/apply.cql" \
  -v summary=/dev/null "$SPLIT_AWK" "$WORK_DIR/schema.cql"
HELD=$(awk -F'\t' 'FILENAME == ARGV[1] { have[$0] = 1; next } $1 == "KEPT" && $2 == "HISTORY" && (($3 "|" $4) in have) { n++ } END { print n + 0 }' \
  "$WORK_DIR/existing.txt" "$WORK_DIR/summary.tsv")
if ((HISTORY_STATEMENTS > 0)); then
  log "schema history: $HISTORY_STATEMENTS ALTER TABLE statement(s) (dropped and re-added columns), $((HISTORY_STATEMENTS - HELD)) to replay for tables this restore creates"
fi
# A keyspace the file does not create (a schema taken from the snapshots' schema.cql files) must exist.
printf 'SELECT keyspace_name FROM system_schema.keyspaces;\n' >"$WORK_DIR/keyspaces.cql"
if ! cql_rows "$WORK_DIR/keyspaces.cql" "$WORK_DIR/existing-keyspaces.txt"; then
  fail "cannot read system_schema.keyspaces with cqlsh" "check that Cassandra on $HOST is up (nodetool status) and run the restore again"
fi
for ks in "${KEYSPACES[@]}"; do
  if ! grep -q $'^KEPT\tKEYSPACE\t'"$ks"$'\t' "$WORK_DIR/summary.tsv" && ! grep -qxF -- "$ks" "$WORK_DIR/existing-keyspaces.txt"; then
    fail "the schema has no CREATE KEYSPACE statement for $ks and the cluster has no keyspace $ks" \
      "create the keyspace with the replication of the old cluster (cqlsh -e \"CREATE KEYSPACE $ks WITH replication = {...}\"), then run the restore again"
  fi
done

# A keyspace replicated more times than the cluster has nodes (a backup of three nodes restored into
# one) loads and reads at ONE, but Wire's QUORUM reads and writes fail: say so, with the fix. The
# schema is restored as it was backed up; changing replication is the operator's decision.
NODE_COUNT=0
if nodetool status >"$WORK_DIR/status.out" 2>&1; then
  NODE_COUNT=$(awk '$1 ~ /^[UD][NLJM]$/ { n++ } END { print n + 0 }' "$WORK_DIR/status.out")
fi
REPLICATION_WARNINGS=()
if ((NODE_COUNT > 0)); then
  while IFS=$'\t' read -r ks rf; do
    if ((rf > NODE_COUNT)); then
      REPLICATION_WARNINGS+=("keyspace $ks has replication factor $rf but the cluster has $NODE_COUNT node(s): QUORUM reads and writes fail until you add nodes or run ALTER KEYSPACE \"$ks\" WITH replication = {'class': 'SimpleStrategy', 'replication_factor': $NODE_COUNT} (per data center for NetworkTopologyStrategy)")
    fi
  done < <(awk 'BEGIN { RS = ";" } {
      s = $0; gsub(/[ \t\r\n]+/, " ", s)
      if (match(toupper(s), /^ ?CREATE KEYSPACE (IF NOT EXISTS )?/)) {
        rest = substr(s, RSTART + RLENGTH); split(rest, w, " "); ks = w[1]; gsub(/"/, "", ks)
        if (!match(s, /replication = \{[^}]*\}/)) next
        map = substr(s, RSTART, RLENGTH); max = 0
        while (match(map, /'"'"'[^'"'"']*'"'"' *: *'"'"'?[0-9]+/)) {
          pair = substr(map, RSTART, RLENGTH); map = substr(map, RSTART + RLENGTH)
          if (pair ~ /^'"'"'class'"'"'/) continue
          sub(/^.*: *'"'"'?/, "", pair); if (pair + 0 > max) max = pair + 0
        }
        printf "%s\t%d\n", ks, max
      } }' "$WORK_DIR/filtered.cql")
fi
for w in "${REPLICATION_WARNINGS[@]}"; do log "WARNING: $w"; done
WARNINGS_JSON=$(for w in "${REPLICATION_WARNINGS[@]}"; do printf '%s,' "$(json_str "$w")"; done | sed 's/,$//')

if [[ $DRY_RUN == true ]]; then
  printf 'WIRE_BACKUP_RESULT {"keyspaces":[%s],"tables":%s,"statements":%s,"skipped":%s,"replicationWarnings":[%s],"dryRun":true}\n' \
    "$(for ks in "${KEYSPACES[@]}"; do printf '%s,' "$(json_str "$ks")"; done | sed 's/,$//')" "$TABLES" "$STATEMENTS" "$SKIPPED" "$WARNINGS_JSON" >&3
  log "dry run: the schema is readable and the cluster can take it; nothing was changed"
  exit 0
fi

# --- 4. apply ----------------------------------------------------------------------------------
started=$SECONDS
log "applying $STATEMENTS statement(s) with cqlsh"
if ! cqlsh "${CQLSH_OPTS[@]}" -f "$WORK_DIR/apply.cql" >"$WORK_DIR/apply.out" 2>&1; then
  grep -v '^WARNING: cqlsh was built against' "$WORK_DIR/apply.out" | sed 's/^/  cqlsh: /' | head -n 15 >&2
  fail "applying the schema of ${KEYSPACES[*]} failed (first errors above)" \
    "fix the cause (a data center name the new cluster lacks: create the keyspace by hand with its replication first; a disabled feature such as materialized views; a different schema already in place) and run the restore again: every statement is IF NOT EXISTS"
fi
log "applied in $((SECONDS - started)) s; waiting for schema agreement"
deadline=$((SECONDS + 300))
while :; do
  versions=-1
  if nodetool describecluster >"$WORK_DIR/describe.out" 2>&1; then
    versions=$(awk '/^[ \t]*Schema versions:/ { s = 1; next }
      s && /^[ \t]*$/ { exit } s && /UNREACHABLE/ { u = 1 } s && /: \[/ { n++ } END { print (u ? -1 : n + 0) }' "$WORK_DIR/describe.out")
  fi
  if ((versions == 1)); then break; fi
  if ((SECONDS > deadline)); then
    tail_of "$WORK_DIR/describe.out" nodetool
    fail "the cluster did not agree on one schema version within 300 s" \
      "check that every node is up (nodetool status) and run 'nodetool describecluster' until it shows one schema version; the schema was applied"
  fi
  sleep 2
done
# Every table of the file must now exist.
if ! cql_rows "$WORK_DIR/tables.cql" "$WORK_DIR/existing.txt"; then
  fail "cannot read system_schema.tables after applying the schema" "check that Cassandra on $HOST is up and run the restore again"
fi
ABSENT=$(awk -F'\t' 'FILENAME == ARGV[1] { have[$0] = 1; next } $1 == "KEPT" && $2 == "TABLE" && !(($3 "|" $4) in have) { printf "%s%s.%s", sep, $3, $4; sep = " " }' \
  "$WORK_DIR/existing.txt" "$WORK_DIR/summary.tsv")
if [[ -n $ABSENT ]]; then
  fail "tables missing after applying the schema: ${ABSENT:0:300}" "read the cqlsh output above and run the restore again"
fi
# Every dropped column of the backup is now a dropped column of its table.
if ((HISTORY_STATEMENTS > 0)); then
  awk -F'\t' '$1 == "KEPT" && $2 == "TABLE" { print $3 "|" $4 }' "$WORK_DIR/summary.tsv" >"$WORK_DIR/kept-tables.txt"
  history_gaps "$WORK_DIR/kept-tables.txt" "$WORK_DIR/gaps.txt"
  if [[ -s $WORK_DIR/gaps.txt ]]; then
    sed 's/^/  schema history missing: /' "$WORK_DIR/gaps.txt" | head -n 20 >&2
    fail "the restored schema lacks $(wc -l <"$WORK_DIR/gaps.txt") dropped column(s) of the backup, e.g. $(head -n 1 "$WORK_DIR/gaps.txt")" \
      "drop the tables named above (they were just created and hold no data) and run the restore again"
  fi
fi
printf 'WIRE_BACKUP_RESULT {"keyspaces":[%s],"tables":%s,"statements":%s,"skipped":%s,"replicationWarnings":[%s],"dryRun":false}\n' \
  "$(for ks in "${KEYSPACES[@]}"; do printf '%s,' "$(json_str "$ks")"; done | sed 's/,$//')" "$TABLES" "$STATEMENTS" "$SKIPPED" "$WARNINGS_JSON" >&3
log "done in $((SECONDS - started)) s: schema of ${KEYSPACES[*]} ($TABLES table(s)) in place, one schema version in the cluster"

#!/usr/bin/env bash
# wire-backup host scripts: CQL helpers (row counts), sourced after lib/common.sh.
#
# Inlined into the SSM documents that source it, like lib/common.sh. Needs cqlsh on PATH. The node is
# reached at cqlsh's default (localhost), else at each of this host's addresses (Wire's nodes often
# listen on their own address only).
#
# Row counts: `SELECT COUNT(*)` of every table, a full scan. The counts file is TSV with a comment
# header: keyspace, table, rows, default_time_to_live (seconds; > 0 means rows expire by themselves).
CQL_TARGET=''
CQL_TARGET_FOUND=0

# cql_find_target: sets CQL_TARGET to the address cqlsh reaches this node at ('' = cqlsh's default).
cql_find_target() {
  if ((CQL_TARGET_FOUND)); then return 0; fi
  local target
  # shellcheck disable=SC2046 # one word per address
  for target in '' $(hostname -I 2>/dev/null); do
    if timeout 120 cqlsh ${target:+"$target"} -e 'SELECT release_version FROM system.local' >/dev/null 2>"$WORK_DIR/cql-probe.err"; then
      CQL_TARGET=$target
      CQL_TARGET_FOUND=1
      return 0
    fi
  done
  tail_of "$WORK_DIR/cql-probe.err" cqlsh
  fail "cqlsh cannot reach the Cassandra node on $HOST (tried localhost and $(hostname -I 2>/dev/null || echo 'no other address'))" \
    "check that the node is up and that cqlsh on $HOST connects without arguments (set its host in ~/.cassandra/cqlshrc)"
}

# cql_file <file> <timeout seconds>: runs the statements of a file, output on stdout. Callers that
# redirect its output or pipe it call cql_find_target first: a `fail` inside a redirected call would
# run the exit trap with that redirection (the failure message into the caller's file), and inside a
# pipeline it would only end the pipeline's subshell.
cql_file() {
  cql_find_target
  timeout "$2" cqlsh ${CQL_TARGET:+"$CQL_TARGET"} --request-timeout="$2" -f "$1"
}

# cql_tables <out.tsv> <keyspace>...: `keyspace<TAB>table<TAB>default_time_to_live` of every table of
# the keyspaces (materialized views and indexes excluded), sorted.
cql_tables() {
  local out=$1 ks list=''
  shift
  for ks in "$@"; do list+="${list:+, }'$ks'"; done
  cql_find_target
  printf 'SELECT keyspace_name, table_name, default_time_to_live FROM system_schema.tables WHERE keyspace_name IN (%s);\n' \
    "$list" >"$WORK_DIR/tables.cql"
  if ! cql_file "$WORK_DIR/tables.cql" 300 >"$WORK_DIR/tables.out" 2>"$WORK_DIR/tables.err"; then
    tail_of "$WORK_DIR/tables.err" cqlsh
    fail "cannot list the tables of keyspaces $* with cqlsh" "check that the node is up and cqlsh works on $HOST"
  fi
  # cqlsh prints ` ks | table | ttl` rows between a `---+---` line and a blank line.
  awk -F'|' -v OFS='\t' '
    /^-+\+/ { body = 1; next }
    body && NF == 3 {
      for (i = 1; i <= 3; i++) gsub(/^[ \t]+|[ \t\r]+$/, "", $i)
      if ($1 ~ /^[A-Za-z0-9_]+$/ && $2 ~ /^[A-Za-z0-9_]+$/ && $3 ~ /^[0-9]+$/) print $1, $2, $3
    }
    body && NF != 3 { body = 0 }' "$WORK_DIR/tables.out" | sort >"$out"
}

# cql_count_rows <tables.tsv> <out.tsv> <consistency> <timeout seconds>: counts the rows of every table
# listed (keyspace, table, default_time_to_live) at the consistency level and writes the counts file.
# One cqlsh run for all tables; if it does not yield one count per table, each table alone, so that
# the failure names the table.
cql_count_rows() {
  local tables=$1 out=$2 consistency=$3 limit=$4 ks table ttl n
  cql_find_target
  {
    printf 'CONSISTENCY %s;\n' "$consistency"
    while IFS=$'\t' read -r ks table _; do
      printf 'SELECT COUNT(*) FROM "%s"."%s";\n' "$ks" "$table"
    done <"$tables"
  } >"$WORK_DIR/count.cql"
  # A count is the number line under a `-------` line.
  cql_file "$WORK_DIR/count.cql" "$limit" 2>"$WORK_DIR/count.err" |
    awk '/^ *-+ *$/ { under = 1; next } under && /^ *[0-9]+ *$/ { print $1 } { under = 0 }' >"$WORK_DIR/counts.txt" || true
  if [[ $(wc -l <"$WORK_DIR/counts.txt") -ne $(wc -l <"$tables") ]]; then
    : >"$WORK_DIR/counts.txt"
    while IFS=$'\t' read -r ks table _; do
      printf 'CONSISTENCY %s;\nSELECT COUNT(*) FROM "%s"."%s";\n' "$consistency" "$ks" "$table" >"$WORK_DIR/count1.cql"
      n=$(cql_file "$WORK_DIR/count1.cql" "$limit" 2>"$WORK_DIR/count.err" |
        awk '/^ *-+ *$/ { under = 1; next } under && /^ *[0-9]+ *$/ { print $1; exit } { under = 0 }') || true
      if [[ -z $n ]]; then
        tail_of "$WORK_DIR/count.err" cqlsh
        fail "cannot count the rows of $ks.$table at consistency $consistency" \
          "read the cqlsh error above: the table must exist and enough replicas be up for $consistency"
      fi
      printf '%s\n' "$n" >>"$WORK_DIR/counts.txt"
    done <"$tables"
  fi
  {
    printf '# keyspace\ttable\trows\tdefault_time_to_live\n'
    paste "$tables" "$WORK_DIR/counts.txt" | while IFS=$'\t' read -r ks table ttl n; do
      printf '%s\t%s\t%s\t%s\n' "$ks" "$table" "$n" "$ttl"
    done
  } >"$out"
}

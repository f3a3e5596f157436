#!/usr/bin/env bash
# wire-backup host script: count the rows of the tables a backup counted, on a (restored) cluster.
#
# Run by SSM Run Command on one Cassandra node after a restore (document parameter `fooBar` arrives as
# the environment variable SSM_fooBar). Steps:
#   1. download the backup's row-counts.tsv (keyspace, table, rows, default_time_to_live), which names
#      the tables to count; keep those of the selected keyspaces (empty list = all);
#   2. SELECT COUNT(*) of each at the given consistency level (a table missing on this cluster fails,
#      naming it);
#   3. upload the counts, in the same format, to the output key.
# Writes nothing to Cassandra.
#
# Parameters (environment): SSM_vaultBucket, SSM_countsKey (the backup's row-counts.tsv, in SSM_countsBucket
#   when set, else in SSM_vaultBucket),
#   SSM_keyspaces (comma list, may be empty), SSM_outputKey, SSM_consistency (ONE|QUORUM|LOCAL_QUORUM|ALL).
# Output: log lines on stderr; one stdout line `WIRE_BACKUP_RESULT {"tables":N,"rows":N,"countsKey"}`.
#   On failure: exit non-zero, last stderr line `wire-backup: <host>: <what failed> — <how to fix>`.
set -euo pipefail

readonly SCRIPT=cassandra-count-rows
RERUN_HINT='run the command again'
INTERRUPT_HINT='run the command again (it only reads)'
# The helpers every host script shares, and the CQL ones; inlined into the SSM document at synth.
# lib/rules.sh is the validation rules (RULE_*, SYSTEM_KEYSPACES) that synth generates from
# functions/core/contract/rules.ts; it is no file.
# shellcheck source=/dev/null
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/rules.sh" # wire-backup:inline
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh" # wire-backup:inline
# shellcheck source-path=SCRIPTDIR source=lib/cql.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/cql.sh" # wire-backup:inline

# --- inputs ------------------------------------------------------------------------------------
VAULT_BUCKET=${SSM_vaultBucket-}
COUNTS_KEY=${SSM_countsKey-}
KEYSPACES_PARAM=${SSM_keyspaces-}
OUTPUT_KEY=${SSM_outputKey-}
CONSISTENCY=${SSM_consistency-}
COUNTS_BUCKET=${SSM_countsBucket-}
check_rule vaultBucket "$VAULT_BUCKET" BUCKET_NAME
check_rule countsKey "$COUNTS_KEY" VAULT_KEY
check_rule keyspaces "$KEYSPACES_PARAM" KEYSPACE_LIST
check_rule outputKey "$OUTPUT_KEY" VAULT_KEY
check_rule consistency "$CONSISTENCY" CONSISTENCY
check_rule countsBucket "$COUNTS_BUCKET" OPTIONAL_BUCKET_NAME
# The backup's counts are where the backup is read (the archive bucket on a restore from there).
COUNTS_BUCKET=${COUNTS_BUCKET:-$VAULT_BUCKET}

for tool in aws cqlsh; do
  if ! command -v -- "$tool" >/dev/null; then
    case $tool in
      aws) fail "required tool 'aws' is not installed or not on PATH" "install the AWS CLI (Debian/Ubuntu package awscli, or AWS CLI v2)" ;;
      *) fail "required tool 'cqlsh' is not installed or not on PATH" "install cqlsh (Debian/Ubuntu: the cassandra package, or pip install cqlsh)" ;;
    esac
  fi
done
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wire-backup-count-rows.XXXXXX")

# --- 1. the tables -----------------------------------------------------------------------------
if ! aws s3 cp --only-show-errors "s3://$COUNTS_BUCKET/$COUNTS_KEY" "$WORK_DIR/backup.tsv" >"$WORK_DIR/get.out" 2>&1; then
  tail_of "$WORK_DIR/get.out" aws
  fail "cannot read the backup's row counts s3://$COUNTS_BUCKET/$COUNTS_KEY" "check the vault is reachable from $HOST and the object exists"
fi
awk -F'\t' -v OFS='\t' -v list=",$KEYSPACES_PARAM," '
  /^#/ || NF < 4 { next }
  $1 !~ /^[A-Za-z0-9_]+$/ || $2 !~ /^[A-Za-z0-9_]+$/ || $4 !~ /^[0-9]+$/ { bad = NR; exit }
  list == ",," || index(list, "," $1 ",") { print $1, $2, $4 }
  END { if (bad) exit 1 }' "$WORK_DIR/backup.tsv" >"$WORK_DIR/tables.tsv" ||
  fail "s3://$VAULT_BUCKET/$COUNTS_KEY is malformed (keyspace, table, rows, default_time_to_live expected)" \
    "restore with row counts off (\"verifyRowCounts\": \"off\")"
TABLES=$(wc -l <"$WORK_DIR/tables.tsv")
log "counting the rows of $TABLES table(s) at $CONSISTENCY"

# --- 2, 3. count, upload -----------------------------------------------------------------------
cql_count_rows "$WORK_DIR/tables.tsv" "$WORK_DIR/counts.tsv" "$CONSISTENCY" 14400
ROWS=$(awk -F'\t' '!/^#/ { n += $3 } END { printf "%.0f", n }' "$WORK_DIR/counts.tsv")
if ! aws s3 cp --only-show-errors "$WORK_DIR/counts.tsv" "s3://$VAULT_BUCKET/$OUTPUT_KEY" >"$WORK_DIR/put.out" 2>&1; then
  tail_of "$WORK_DIR/put.out" aws
  fail "cannot write the row counts to s3://$VAULT_BUCKET/$OUTPUT_KEY" "check this host's access to the vault and run the command again"
fi
printf 'WIRE_BACKUP_RESULT {"tables":%s,"rows":%s,"countsKey":%s}\n' "$TABLES" "$ROWS" "$(json_str "$OUTPUT_KEY")" >&3
log "counted $ROWS row(s) in $TABLES table(s): s3://$VAULT_BUCKET/$OUTPUT_KEY"

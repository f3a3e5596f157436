#!/usr/bin/env bash
# wire-backup host script: PostgreSQL base backup, streamed into the vault.
#
# Runs on the host the preflight picked (a streaming standby, else the primary). Takes a
# non-exclusive base backup through PostgreSQL's own API — pg_backup_start in a session that stays
# open, the data directory streamed as `tar | gzip` straight into `aws s3 cp -` (SHA-256 and size taken
# on the way, no copy on the host), pg_backup_stop — which works with any psql against the server
# (pg_basebackup must be at least the server's major version). backup_label goes to its own object.
# Then the primary switches WAL and the script waits until the segment holding the backup's end is in
# the vault: a base backup is only restorable with the WAL from its start to its end.
# Row counts of every user table are taken right after the stop, with the LSN they belong to.
#
# Parameters: SSM_backupId, SSM_vaultBucket, SSM_baseKey, SSM_labelKey, SSM_rowCountsKey, SSM_walPrefix
#   (all keys from vault-layout.ts), SSM_secretName, SSM_database, SSM_host, SSM_port, SSM_dataDir (this
#   server), SSM_primaryHost, SSM_primaryPort, SSM_walWaitSeconds.
# Output: WIRE_BACKUP_RESULT {"baseKey","labelKey","rowCountsKey","bytes","sha256","startLsn","stopLsn",
#   "countsLsn","timeline","startTime","stopTime","startWalFile","stopWalFile","tables","rows","fromStandby"}
set -euo pipefail

readonly SCRIPT=postgresql-backup
RERUN_HINT='run the backup again'
INTERRUPT_HINT='run the backup again'
PSQL_PID=''
cleanup_hook() {
  if [[ -n $PSQL_PID ]]; then kill "$PSQL_PID" 2>/dev/null; fi   # ends the session: PostgreSQL aborts the backup
}
# shellcheck source=/dev/null # lib/rules.sh is generated at synth from functions/core/contract/rules.ts
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/rules.sh" # wire-backup:inline
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh" # wire-backup:inline
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/postgres.sh" # wire-backup:inline

BACKUP_ID=${SSM_backupId-}
VAULT_BUCKET=${SSM_vaultBucket-}
BASE_KEY=${SSM_baseKey-}
LABEL_KEY=${SSM_labelKey-}
COUNTS_KEY=${SSM_rowCountsKey-}
WAL_PREFIX=${SSM_walPrefix-}
SECRET=${SSM_secretName-}
DATABASE=${SSM_database-}
PG_ADDR=${SSM_host-}
PG_PORT_=${SSM_port-}
DATA_DIR=${SSM_dataDir-}
PRIMARY_HOST=${SSM_primaryHost-}
PRIMARY_PORT=${SSM_primaryPort-}
WAL_WAIT=${SSM_walWaitSeconds-}
check_rule backupId "$BACKUP_ID" BACKUP_ID
check_rule vaultBucket "$VAULT_BUCKET" BUCKET_NAME
check_rule baseKey "$BASE_KEY" VAULT_KEY
check_rule labelKey "$LABEL_KEY" VAULT_KEY
check_rule rowCountsKey "$COUNTS_KEY" VAULT_KEY
check_rule walPrefix "$WAL_PREFIX" VAULT_PREFIX
check_rule secretName "$SECRET" SECRET_NAME
check_rule database "$DATABASE" DATABASE_NAME
check_rule host "$PG_ADDR" HOST_NAME
check_rule port "$PG_PORT_" PORT
check_rule dataDir "$DATA_DIR" ABSOLUTE_PATH
check_rule primaryHost "$PRIMARY_HOST" HOST_NAME
check_rule primaryPort "$PRIMARY_PORT" PORT
check_rule walWaitSeconds "$WAL_WAIT" COUNT
for tool in psql aws tar gzip sha256sum python3; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool not found on this host" "install it (psql: postgresql-client; aws: awscli)"
done
[[ -f $DATA_DIR/PG_VERSION ]] || fail "$DATA_DIR is not a PostgreSQL data directory (no PG_VERSION)" "set postgresql dataDir of this server in the configuration"

WORK_DIR=$(mktemp -d)
pg_connect_setup "$SECRET" "$PG_ADDR" "$PG_PORT_" "$DATABASE"
IN_RECOVERY=$(pg_q 'SELECT pg_is_in_recovery()')

# On a standby, pg_backup_start waits for a restartpoint, and a standby can only make one where the
# primary's WAL has a checkpoint: without one it waits up to the primary's checkpoint_timeout (5 min by
# default). A CHECKPOINT on the primary (role pg_checkpoint) makes that point now.
if [[ $IN_RECOVERY == t ]]; then
  if PGHOST=$PRIMARY_HOST PGPORT=$PRIMARY_PORT psql -X -q -A -t -c 'CHECKPOINT' >/dev/null 2>"$WORK_DIR/checkpoint.err"; then
    log "checkpoint on the primary $PRIMARY_HOST:$PRIMARY_PORT, so that the standby can start the backup now"
  else
    log "WARNING: CHECKPOINT on the primary failed ($(head -c 200 "$WORK_DIR/checkpoint.err" | tr '\n' ' ')): the standby waits for the primary's next checkpoint (checkpoint_timeout); grant the backup role pg_checkpoint (README \"PostgreSQL\")"
  fi
fi

# --- start: one psql session held open through the copy (a non-exclusive backup ends with its session)
mkfifo "$WORK_DIR/to-psql" "$WORK_DIR/from-psql"
psql -X -q -A -t -v ON_ERROR_STOP=1 <"$WORK_DIR/to-psql" >"$WORK_DIR/from-psql" 2>"$WORK_DIR/session.err" &
PSQL_PID=$!
exec 5>"$WORK_DIR/to-psql" 6<"$WORK_DIR/from-psql"
printf "SELECT pg_backup_start('wire-backup %s', true);\n" "$BACKUP_ID" >&5
read -r -t 600 START_LSN <&6 || fail "pg_backup_start did not answer on $PG_ADDR:$PG_PORT_: $(head -c 300 "$WORK_DIR/session.err")" \
  "grant the backup role EXECUTE on pg_backup_start/pg_backup_stop (README \"PostgreSQL\")"
log "backup started at $START_LSN on $PG_ADDR:$PG_PORT_ ($([[ $IN_RECOVERY == t ]] && echo standby || echo primary))"

# --- the data directory, streamed. WAL, pid files and signal files stay out (PostgreSQL's own list).
mkfifo "$WORK_DIR/sha" "$WORK_DIR/count"
sha256sum <"$WORK_DIR/sha" | cut -d' ' -f1 >"$WORK_DIR/sha.out" &
READERS=($!)
wc -c <"$WORK_DIR/count" >"$WORK_DIR/count.out" &
READERS+=($!)
set +e
tar -C "$DATA_DIR" -cf - --warning=no-file-changed --warning=no-file-removed --warning=no-file-shrank \
  --exclude=./pg_wal/* --exclude=./postmaster.pid --exclude=./postmaster.opts --exclude=./standby.signal \
  --exclude=./recovery.signal --exclude=./pg_replslot/* --exclude=./pg_stat_tmp/* --exclude='./pgsql_tmp*' \
  --exclude=./backup_label --exclude=./tablespace_map --exclude=./pg_dynshmem/* --exclude=./pg_notify/* \
  --exclude=./pg_serial/* --exclude=./pg_snapshots/* --exclude=./pg_subtrans/* --exclude=./log/* . 2>"$WORK_DIR/tar.err" |
  gzip -1 | tee "$WORK_DIR/sha" "$WORK_DIR/count" |
  aws s3 cp - "s3://$VAULT_BUCKET/$BASE_KEY" --only-show-errors --expected-size 100000000000 2>"$WORK_DIR/s3.err"
codes=("${PIPESTATUS[@]}")
set -e
wait "${READERS[@]}"
# tar exits 1 when a file changed while read: expected for a live server (WAL replay repairs it).
if ((codes[0] > 1 || codes[1] != 0 || codes[2] != 0 || codes[3] != 0)); then
  aws s3 rm "s3://$VAULT_BUCKET/$BASE_KEY" --only-show-errors >/dev/null 2>&1 || true
  fail "streaming $DATA_DIR to s3://$VAULT_BUCKET/$BASE_KEY failed (tar ${codes[0]}, gzip ${codes[1]}, tee ${codes[2]}, upload ${codes[3]}): $(head -c 300 "$WORK_DIR/tar.err") $(head -c 300 "$WORK_DIR/s3.err")" \
    "check the data directory is readable by the SSM agent's user and the host's role may write the vault, then run the backup again"
fi
SHA=$(cat "$WORK_DIR/sha.out"); BYTES=$(tr -d ' ' <"$WORK_DIR/count.out")

# --- stop: the label file (base64, one line) and the stop LSN
printf "SELECT lsn || '|' || translate(encode(convert_to(labelfile, 'UTF8'), 'base64'), E'\\\\n', '') FROM pg_backup_stop(false);\n" >&5
read -r -t 600 STOP_LINE <&6 || fail "pg_backup_stop did not answer: $(head -c 300 "$WORK_DIR/session.err")" "run the backup again"
exec 5>&- 6<&-
wait "$PSQL_PID" || true
PSQL_PID=''
STOP_LSN=${STOP_LINE%%|*}
printf '%s' "${STOP_LINE#*|}" | base64 -d >"$WORK_DIR/backup_label"
aws s3 cp "$WORK_DIR/backup_label" "s3://$VAULT_BUCKET/$LABEL_KEY" --only-show-errors
START_WAL=$(sed -n 's/^START WAL LOCATION: .* (file \([0-9A-F]\{24\}\))$/\1/p' "$WORK_DIR/backup_label")
TIMELINE=$(sed -n 's/^START TIMELINE: \([0-9]*\)$/\1/p' "$WORK_DIR/backup_label")
START_TIME=$(sed -n 's/^START TIME: \(.*\)$/\1/p' "$WORK_DIR/backup_label")
STOP_TIME=$(date -u +%Y-%m-%dT%H:%M:%SZ)
START_TIME=$(date -u -d "$START_TIME" +%Y-%m-%dT%H:%M:%SZ)
log "backup stopped at $STOP_LSN (timeline $TIMELINE, started $START_LSN in $START_WAL); $BYTES bytes, sha256 $SHA"

# --- every user table's row count, with the LSN the counts belong to (one snapshot)
{
  printf 'BEGIN ISOLATION LEVEL REPEATABLE READ;\n'
  printf "SELECT 'lsn', CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END;\n"
  pg_q "SELECT format('SELECT %L, count(*) FROM %I.%I;', schemaname || '.' || relname, schemaname, relname) FROM pg_stat_user_tables ORDER BY 1"
  printf 'COMMIT;\n'
} >"$WORK_DIR/count.sql"
psql -X -q -A -t -F $'\t' -v ON_ERROR_STOP=1 -f "$WORK_DIR/count.sql" >"$WORK_DIR/counts.raw" 2>"$WORK_DIR/psql.err" ||
  fail "counting rows failed: $(head -c 300 "$WORK_DIR/psql.err")" "grant the backup role pg_read_all_data (README \"PostgreSQL\")"
COUNTS_LSN=$(awk -F'\t' '$1 == "lsn" {print $2}' "$WORK_DIR/counts.raw")
awk -F'\t' '$1 != "lsn" && NF == 2' "$WORK_DIR/counts.raw" >"$WORK_DIR/counts.tsv"
aws s3 cp "$WORK_DIR/counts.tsv" "s3://$VAULT_BUCKET/$COUNTS_KEY" --only-show-errors
TABLES=$(wc -l <"$WORK_DIR/counts.tsv"); ROWS=$(awk -F'\t' '{s += $2} END {print s + 0}' "$WORK_DIR/counts.tsv")

# --- the WAL up to the end of the backup (and the counts) must be in the vault before this is a backup.
export PGHOST=$PRIMARY_HOST PGPORT=$PRIMARY_PORT
# Recovery to the counts' LSN stops after replaying the first record at or after it: one is written
# now (a commit on the primary), then the segment is switched, and its archive is awaited. (A quiet
# server right after a switch has no such record: pg_switch_wal alone would switch nothing.)
pg_q 'SELECT pg_current_xact_id()' >/dev/null
SWITCH_LSN=$(pg_q 'SELECT pg_switch_wal()')
STOP_WAL=$(seg_name "$(printf '%08X' "$TIMELINE")" "$(lsn_end_seg_no "$SWITCH_LSN")")
deadline=$((SECONDS + WAL_WAIT))
until aws s3api head-object --bucket "$VAULT_BUCKET" --key "$WAL_PREFIX$STOP_WAL.gz" >/dev/null 2>&1; do
  if ((SECONDS > deadline)); then
    fail "WAL segment $STOP_WAL (end of the base backup) is not in the vault after $WAL_WAIT s" \
      "check the primary's archive_command works (pg_stat_archiver, the PostgreSQL log), then run the backup again"
  fi
  sleep 1
done
log "WAL up to $STOP_WAL is archived; $TABLES tables, $ROWS rows counted at $COUNTS_LSN"

printf 'WIRE_BACKUP_RESULT {"baseKey":%s,"labelKey":%s,"rowCountsKey":%s,"bytes":%d,"sha256":%s,"startLsn":%s,"stopLsn":%s,"countsLsn":%s,"timeline":%d,"startTime":%s,"stopTime":%s,"startWalFile":%s,"stopWalFile":%s,"tables":%d,"rows":%d,"fromStandby":%s}\n' \
  "$(json_str "$BASE_KEY")" "$(json_str "$LABEL_KEY")" "$(json_str "$COUNTS_KEY")" "$BYTES" "$(json_str "$SHA")" \
  "$(json_str "$START_LSN")" "$(json_str "$STOP_LSN")" "$(json_str "$COUNTS_LSN")" "$TIMELINE" "$(json_str "$START_TIME")" \
  "$(json_str "$STOP_TIME")" "$(json_str "$START_WAL")" "$(json_str "$STOP_WAL")" "$TABLES" "$ROWS" \
  "$([[ $IN_RECOVERY == t ]] && echo true || echo false)" >&3

#!/usr/bin/env bash
# wire-backup host script: restore PostgreSQL from a base backup and the archived WAL (point in time).
#
# Into a fresh data directory, or over an existing one (`overwrite`: the server on it is stopped and
# the directory kept aside as <dataDir>.before-restore-<restoreId>). The target is the end of the base
# backup (the LSN its row counts belong to) or `targetTime`.
# Refused (exit 3, RestoreRefusedError) before anything is written: a gap in the archived WAL between the backup's start and the
# target, a target time before the backup's end or past the last archived WAL, a non-empty target
# without overwrite. Then: base archive fetched and its SHA-256 checked, extracted, backup_label put
# back, recovery.signal + restore_command (the vault) + recovery target, server started as the OS user;
# PostgreSQL replays the WAL and promotes at the target. Verification: the server is up and out of
# recovery; every user table's row count, compared with the backup's (end of backup) or reported with
# the last replayed commit time (target time: what the WAL says).
#
# Parameters: SSM_restoreId, SSM_vaultBucket, SSM_baseKey, SSM_baseSha256, SSM_labelKey, SSM_rowCountsKey,
#   SSM_walPrefix, SSM_timeline, SSM_startWalFile, SSM_countsLsn, SSM_stopTime, SSM_targetTime ('' = end of
#   backup), SSM_dataDir, SSM_port, SSM_socketDir, SSM_osUser, SSM_binDir, SSM_overwrite, SSM_archive (keep WAL archiving on: the
#   restored server is the cluster's primary), SSM_checkOnly,
#   SSM_verifyRowCounts (fail|report|off).
set -euo pipefail

readonly SCRIPT=postgresql-restore
RERUN_HINT='run the restore again'
INTERRUPT_HINT='run the restore again'
ASIDE='' STARTED=0
cleanup_hook() {
  # A failed restore puts the previous data directory back where it was.
  if (($1 != 0)) && [[ -n $ASIDE && -d $ASIDE ]]; then
    ((STARTED)) && runuser -u "$OS_USER" -- "$BIN_DIR/pg_ctl" -D "$DATA_DIR" -m immediate stop >/dev/null 2>&1
    rm -rf -- "$DATA_DIR" && mv -- "$ASIDE" "$DATA_DIR" && log "put the previous data directory back in $DATA_DIR"
  fi
}
# shellcheck source=/dev/null # lib/rules.sh is generated at synth from functions/core/contract/rules.ts
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/rules.sh" # wire-backup:inline
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh" # wire-backup:inline
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/postgres.sh" # wire-backup:inline

RESTORE_ID=${SSM_restoreId-}; VAULT_BUCKET=${SSM_vaultBucket-}; BASE_KEY=${SSM_baseKey-}; BASE_SHA=${SSM_baseSha256-}
LABEL_KEY=${SSM_labelKey-}; COUNTS_KEY=${SSM_rowCountsKey-}; WAL_PREFIX=${SSM_walPrefix-}; TIMELINE=${SSM_timeline-}
START_WAL=${SSM_startWalFile-}; COUNTS_LSN=${SSM_countsLsn-}; STOP_TIME=${SSM_stopTime-}; TARGET_TIME=${SSM_targetTime-}
DATA_DIR=${SSM_dataDir-}; PORT=${SSM_port-}; SOCKET_DIR=${SSM_socketDir-}; OS_USER=${SSM_osUser-}; BIN_DIR=${SSM_binDir-}
OVERWRITE=${SSM_overwrite-}; ARCHIVE=${SSM_archive-false}; CHECK_ONLY=${SSM_checkOnly-}; VERIFY=${SSM_verifyRowCounts-}
check_rule restoreId "$RESTORE_ID" RESTORE_ID
check_rule vaultBucket "$VAULT_BUCKET" BUCKET_NAME
check_rule baseKey "$BASE_KEY" VAULT_KEY
check_rule labelKey "$LABEL_KEY" VAULT_KEY
check_rule rowCountsKey "$COUNTS_KEY" VAULT_KEY
check_rule walPrefix "$WAL_PREFIX" VAULT_PREFIX
check_rule baseSha256 "$BASE_SHA" SHA256
check_rule timeline "$TIMELINE" TIMELINE
check_rule startWalFile "$START_WAL" WAL_FILE_NAME
check_rule countsLsn "$COUNTS_LSN" LSN
check_rule stopTime "$STOP_TIME" UTC_TIME
check_rule targetTime "$TARGET_TIME" OPTIONAL_UTC_TIME
check_rule dataDir "$DATA_DIR" ABSOLUTE_PATH
check_rule socketDir "$SOCKET_DIR" ABSOLUTE_PATH
check_rule binDir "$BIN_DIR" ABSOLUTE_PATH
check_rule port "$PORT" PORT
check_rule osUser "$OS_USER" OS_USER
check_rule overwrite "$OVERWRITE" BOOLEAN
check_rule archive "$ARCHIVE" BOOLEAN
check_rule checkOnly "$CHECK_ONLY" BOOLEAN
check_rule verifyRowCounts "$VERIFY" VERIFY_MODE
[[ -x $BIN_DIR/pg_ctl && -x $BIN_DIR/postgres ]] || fail "no PostgreSQL server binaries in $BIN_DIR" "set postgresql.binDir to the directory of pg_ctl and postgres (Debian: /usr/lib/postgresql/17/bin)"
WORK_DIR=$(mktemp -d)
chmod 755 "$WORK_DIR"

# ================================================================ checks (nothing written yet)
TL=$(printf '%08X' "$TIMELINE")
aws s3api list-objects-v2 --bucket "$VAULT_BUCKET" --prefix "$WAL_PREFIX$TL" --query 'Contents[].[Key, LastModified]' --output text >"$WORK_DIR/wal.list" 2>"$WORK_DIR/s3.err" ||
  fail "cannot list the archived WAL under s3://$VAULT_BUCKET/$WAL_PREFIX: $(head -c 300 "$WORK_DIR/s3.err")" "check the host's role may list the vault"
declare -A ARCHIVED=()
while read -r key modified; do
  name=${key#"$WAL_PREFIX"}; name=${name%.gz}
  [[ $name =~ ^[0-9A-F]{24}$ ]] || continue
  ARCHIVED[$(seg_no "$name")]=$(date -u -d "$modified" +%s)
done <"$WORK_DIR/wal.list"
first=$(seg_no "$START_WAL"); last=$first
[[ -n ${ARCHIVED[$first]:-} ]] || refuse "the WAL where this backup starts ($START_WAL) is not in the vault" "restore from another backup"
while [[ -n ${ARCHIVED[$((last + 1))]:-} ]]; do last=$((last + 1)); done
LAST_WAL=$(seg_name "$TL" "$last")
COVERED_UNTIL=${ARCHIVED[$last]}
gap_note=''
for s in "${!ARCHIVED[@]}"; do
  if ((s > last + 1)); then gap_note=" (missing $(seg_name "$TL" $((last + 1))): a gap in the archive, later segments cannot be replayed)"; break; fi
done
if [[ -z $TARGET_TIME ]]; then
  need=$(lsn_seg_no "$COUNTS_LSN")
  ((need <= last)) || refuse "the archived WAL has a gap before the end of this backup: $(seg_name "$TL" $((last + 1))) is missing" \
    "restore from another backup, or put the missing segment back into s3://$VAULT_BUCKET/$WAL_PREFIX"
  TARGET_DESC="end of backup (LSN $COUNTS_LSN)"
else
  target=$(date -u -d "$TARGET_TIME" +%s); stop=$(date -u -d "$STOP_TIME" +%s)
  ((target >= stop)) || refuse "target time $TARGET_TIME is before the end of this base backup ($STOP_TIME)" "restore from an earlier backup"
  ((target <= COVERED_UNTIL)) || refuse "target time $TARGET_TIME is past the last archived WAL ($LAST_WAL, archived $(date -u -d "@$COVERED_UNTIL" +%Y-%m-%dT%H:%M:%SZ))$gap_note" \
    "choose a target time up to $(date -u -d "@$COVERED_UNTIL" +%Y-%m-%dT%H:%M:%SZ), or wait for the next WAL segment to be archived (archive_timeout)"
  TARGET_DESC="target time $TARGET_TIME"
fi
if [[ -d $DATA_DIR ]] && [[ -n $(ls -A "$DATA_DIR" 2>/dev/null) ]] && [[ $OVERWRITE != true ]]; then
  refuse "$DATA_DIR is not empty" "restore into an empty directory, or set \"overwrite\": true (the old one is kept aside)"
fi
log "checks passed: $TARGET_DESC; archived WAL $START_WAL … $LAST_WAL continuous"
if [[ $CHECK_ONLY == true ]]; then
  printf 'WIRE_BACKUP_RESULT {"checked":true,"lastArchivedWal":%s,"coveredUntil":%s}\n' "$(json_str "$LAST_WAL")" \
    "$(json_str "$(date -u -d "@$COVERED_UNTIL" +%Y-%m-%dT%H:%M:%SZ)")" >&3
  exit 0
fi

# ================================================================ restore
aws s3 cp "s3://$VAULT_BUCKET/$BASE_KEY" "$WORK_DIR/base.tar.gz" --only-show-errors
sha=$(sha256sum <"$WORK_DIR/base.tar.gz" | cut -d' ' -f1)
[[ $sha == "$BASE_SHA" ]] || fail "base backup $BASE_KEY has SHA-256 $sha, the manifest says $BASE_SHA" "restore from another backup"
aws s3 cp "s3://$VAULT_BUCKET/$LABEL_KEY" "$WORK_DIR/backup_label" --only-show-errors
if [[ -d $DATA_DIR ]] && [[ -n $(ls -A "$DATA_DIR" 2>/dev/null) ]]; then
  if [[ -f $DATA_DIR/postmaster.pid ]]; then
    log "stopping the server on $DATA_DIR"
    runuser -u "$OS_USER" -- "$BIN_DIR/pg_ctl" -D "$DATA_DIR" -m fast -w -t 120 stop >/dev/null 2>&1 || true
  fi
  ASIDE=$DATA_DIR.before-restore-$RESTORE_ID
  mv -- "$DATA_DIR" "$ASIDE"
  log "kept the previous data directory as $ASIDE"
fi
# The OS user must reach the data directory and the restore_command next to it.
(umask 022 && mkdir -p "$(dirname -- "$DATA_DIR")" "$(dirname -- "$SOCKET_DIR")")
mkdir -p "$DATA_DIR" "$SOCKET_DIR"
tar -xzf "$WORK_DIR/base.tar.gz" -C "$DATA_DIR"
cp "$WORK_DIR/backup_label" "$DATA_DIR/backup_label"
mkdir -p "$DATA_DIR/pg_wal/archive_status"
rm -f "$DATA_DIR/standby.signal" "$DATA_DIR/postmaster.pid"
touch "$DATA_DIR/recovery.signal"
FETCH=$(dirname -- "$DATA_DIR")/.wire-backup-fetch-wal.sh
cat >"$FETCH" <<FETCH_EOF
#!/usr/bin/env bash
# restore_command of a wire-backup restore: one archived WAL file from the vault (exit 1: not archived).
set -o pipefail
# One call per file (the AWS CLI's start-up dominates); a file not archived fails the copy. If a target
# is not reached because a fetch failed, PostgreSQL stops with "recovery ended before the configured
# recovery target was reached" and the restore fails: never a silent early stop.
aws s3 cp "s3://$VAULT_BUCKET/$WAL_PREFIX\$1.gz" - --only-show-errors 2>/dev/null | gunzip >"\$2.tmp" && mv "\$2.tmp" "\$2" || { rm -f "\$2.tmp"; exit 1; }
FETCH_EOF
chmod 755 "$FETCH"
{
  printf "\n# wire-backup restore %s\n" "$RESTORE_ID"
  printf "port = %s\nunix_socket_directories = '%s'\nprimary_conninfo = ''\n" "$PORT" "$SOCKET_DIR"
  # The restored server starts a new timeline. Restored as the cluster's primary (archive=true) it
  # archives it, so that later backups can be recovered; beside the cluster (a drill, a check) it must
  # not write into the cluster's WAL prefix.
  if [[ $ARCHIVE != true ]]; then printf "archive_mode = off\n"; fi
  printf "restore_command = '%s %%f %%p'\nrecovery_target_timeline = 'current'\nrecovery_target_action = 'promote'\n" "$FETCH"
  if [[ -z $TARGET_TIME ]]; then
    printf "recovery_target_lsn = '%s'\nrecovery_target_inclusive = true\n" "$COUNTS_LSN"
  else
    # recovery_target_time takes a numeric offset, not a zone abbreviation such as Z.
    t=${TARGET_TIME/T/ }
    printf "recovery_target_time = '%s+00'\nrecovery_target_inclusive = false\n" "${t%Z}"
  fi
} >>"$DATA_DIR/postgresql.auto.conf"
chown -R "$OS_USER:" "$DATA_DIR" "$SOCKET_DIR"
chmod 700 "$DATA_DIR"
LOG_FILE=$(dirname -- "$DATA_DIR")/postgres-restore-$RESTORE_ID.log
touch "$LOG_FILE"; chown "$OS_USER:" "$LOG_FILE"
log "starting PostgreSQL on $DATA_DIR (port $PORT): replaying WAL to the $TARGET_DESC (log: $LOG_FILE)"
STARTED=1
# fd 3 is the command's stdout (the result line): the server must not inherit it, or whoever reads the
# output (the SSM agent) waits for the server to exit.
runuser -u "$OS_USER" -- "$BIN_DIR/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t 600 start >/dev/null 2>&1 3>&- ||
  fail "PostgreSQL did not come up after the restore: $(grep -E 'FATAL|PANIC' "$LOG_FILE" | tail -2 | tr '\n' ' ')" \
    "read $LOG_FILE; the previous data directory is put back"
psql_local() { runuser -u "$OS_USER" -- psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PORT" -d postgres "$@"; }
for _ in $(seq 1 300); do
  [[ $(psql_local -c 'SELECT pg_is_in_recovery()' 2>/dev/null) == f ]] && break
  sleep 1
done
[[ $(psql_local -c 'SELECT pg_is_in_recovery()') == f ]] || fail "PostgreSQL is still in recovery after 300 s" "read $LOG_FILE"
STOPPED_AT=$(grep -oE 'recovery stopping (before|after) [^,]*' "$LOG_FILE" | tail -1 || true)
LAST_COMMIT=$(sed -n 's/.*last completed transaction was at log time \(.*\)$/\1/p' "$LOG_FILE" | tail -1)
log "server up and promoted (${STOPPED_AT:-recovery reached its target}; last replayed commit ${LAST_COMMIT:-none})"

# ================================================================ verify
DBS=$(psql_local -c "SELECT datname FROM pg_database WHERE datallowconn AND datname NOT IN ('postgres','template1') ORDER BY 1")
: >"$WORK_DIR/restored.tsv"
for db in $DBS; do
  sql=$(psql_local -d "$db" -c "SELECT format('SELECT %L, count(*) FROM %I.%I;', schemaname || '.' || relname, schemaname, relname) FROM pg_stat_user_tables ORDER BY 1")
  [[ -z $sql ]] || psql_local -d "$db" -F $'\t' -c "$sql" >>"$WORK_DIR/restored.tsv"
done
TABLES=$(wc -l <"$WORK_DIR/restored.tsv"); ROWS=$(awk -F'\t' '{s += $2} END {print s + 0}' "$WORK_DIR/restored.tsv")
MISMATCH=''
if [[ -z $TARGET_TIME && $VERIFY != off ]]; then
  aws s3 cp "s3://$VAULT_BUCKET/$COUNTS_KEY" "$WORK_DIR/expected.tsv" --only-show-errors
  MISMATCH=$(awk -F'\t' 'NR == FNR {got[$1] = $2; next} got[$1] != $2 {printf "%s: backup %s, restored %s; ", $1, $2, (($1 in got) ? got[$1] : "missing")}' \
    "$WORK_DIR/restored.tsv" "$WORK_DIR/expected.tsv")
  if [[ -n $MISMATCH && $VERIFY == fail ]]; then
    fail "row counts differ from the backup's: $MISMATCH" "read $LOG_FILE; restore again with \"verifyRowCounts\": \"report\" to keep this state"
  fi
fi
# The recovery settings did their work: without them a standby cloned from this server (repmgr standby
# clone) does not inherit a recovery target, and a restart does not look for the vault's WAL again.
psql_local -c 'ALTER SYSTEM RESET restore_command' -c 'ALTER SYSTEM RESET recovery_target_lsn' \
  -c 'ALTER SYSTEM RESET recovery_target_time' -c 'ALTER SYSTEM RESET recovery_target_inclusive' \
  -c 'ALTER SYSTEM RESET recovery_target_action' -c 'ALTER SYSTEM RESET recovery_target_timeline' \
  -c 'ALTER SYSTEM RESET primary_conninfo' >/dev/null ||
  log "WARNING: could not remove the recovery settings from $DATA_DIR/postgresql.auto.conf: remove restore_command and recovery_target_* there"
counts_json=$(awk -F'\t' '{printf "%s%s:%d", (NR > 1 ? "," : ""), "\"" $1 "\"", $2}' "$WORK_DIR/restored.tsv")
log "verified: $TABLES tables, $ROWS rows${MISMATCH:+ (differences: $MISMATCH)}"
printf 'WIRE_BACKUP_RESULT {"dataDir":%s,"keptAside":%s,"target":%s,"recoveryStopped":%s,"lastReplayedCommit":%s,"lastArchivedWal":%s,"tables":%d,"rows":%d,"rowCounts":{%s},"rowCountDifferences":%s,"logFile":%s}\n' \
  "$(json_str "$DATA_DIR")" "$(json_str "$ASIDE")" "$(json_str "$TARGET_DESC")" "$(json_str "$STOPPED_AT")" "$(json_str "$LAST_COMMIT")" \
  "$(json_str "$LAST_WAL")" "$TABLES" "$ROWS" "$counts_json" "$(json_str "$MISMATCH")" "$(json_str "$LOG_FILE")" >&3

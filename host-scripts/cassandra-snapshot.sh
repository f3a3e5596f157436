#!/usr/bin/env bash
# wire-backup host script: snapshot one Cassandra node and upload its files to the vault, differentially.
#
# Run by SSM Run Command on every Cassandra node of a backup (document parameter `fooBar` arrives as the
# environment variable SSM_fooBar). Steps:
#   1. check the keyspaces (empty list = every non-system keyspace directory in dataDir);
#   2. nodetool snapshot -t <backupId> -- <keyspaces> (all keyspaces when the list is empty);
#   3. record host id, address, datacenter, rack, tokens and version in node.json;
#   4. inventory every file of the snapshot (relpath = <keyspace>/<tableDir>/<path in the snapshot dir>)
#      with size and sha256 (on a differential, the sha256 of a file unchanged since the last backup of
#      this node — same relpath, size, device, inode and mtime — comes from the hash cache next to the
#      staging dir instead of a read of the file);
#   5. compare with the previous backup's file list of this node: same relpath, size and sha256 = reused
#      (its vault version id is carried), anything else = new;
#   6. upload the new files with one `aws s3 cp --recursive` from a staging dir of hardlinks next to dataDir
#      to s3://<vaultBucket>/<sstablePrefix><hostId>/<relpath>;
#   7. upload inventory.tsv (relpath, size, sha256, new|reused, versionId) to <inventoryKey> and node.json
#      to <nodeInfoKey>;
#   8. optionally the schema with its history (cqlsh DESCRIBE SCHEMA WITH INTERNALS: table ids, dropped
#      columns; else the snapshot's per-table schema.cql files, which hold the same) to
#      <schemaKey>, and with it (countRows) the row count of every table, taken with SELECT COUNT(*) at
#      QUORUM just before step 2, to <rowCountsKey>.
# Every vault key comes in as a parameter (functions/core/vault-layout.ts computes them); the only part
# this script adds is its own host id below sstablePrefix, which only the node knows.
# The snapshot stays on success (the state machine clears it with cassandra-clearsnapshot.sh once every
# node is done); on failure it is cleared here, with the staging dir.
#
# Parameters (environment): SSM_backupId, SSM_keyspaces (comma list, may be empty), SSM_dataDir,
#   SSM_vaultBucket, SSM_clusterName, SSM_instanceId, SSM_previousFilesKey (may be empty),
#   SSM_previousHostId (may be empty), SSM_sstablePrefix, SSM_inventoryKey, SSM_nodeInfoKey,
#   SSM_schemaKey, SSM_rowCountsKey, SSM_captureSchema (true|false), SSM_countRows (true|false),
#   SSM_uploadMaxBandwidthMBps (0 = no limit; unset = 0: the SSM document's default is 50).
# Output: log lines on stderr; one stdout line `WIRE_BACKUP_RESULT {"instanceId","hostId","address","files",
#   "bytes","newFiles","newBytes","reusedFiles","reusedBytes","inventoryKey","nodeKey","schemaKey",
#   "schemaSource","rowCountsKey"}`. On failure: exit non-zero, last stderr line
#   `wire-backup: <host>: <what failed> — <how to fix>`.
set -euo pipefail

readonly SCRIPT=cassandra-snapshot
RERUN_HINT='run the backup again'
INTERRUPT_HINT='run the backup again'
STAGING=''
SNAPSHOT_TAKEN=0
BACKUP_ID=''
BACKGROUND_PID=''
# cleanup_hook <rc>: run by the EXIT trap; after a failure, the snapshot taken is cleared.
cleanup_hook() {
  if [[ -n $BACKGROUND_PID ]]; then
    kill -- "$BACKGROUND_PID" 2>/dev/null
    wait -- "$BACKGROUND_PID" 2>/dev/null
  fi
  if [[ -n $STAGING && -e $STAGING ]]; then
    rm -rf -- "$STAGING"
    rmdir -- "${STAGING%/*}" 2>/dev/null
  fi
  if (($1 != 0 && SNAPSHOT_TAKEN)); then
    log "clearing snapshot $BACKUP_ID after the failure"
    if ! nodetool clearsnapshot -t "$BACKUP_ID" >&2 2>&1; then
      log "WARNING: could not clear snapshot $BACKUP_ID: run 'nodetool clearsnapshot -t $BACKUP_ID' on $HOST"
    fi
  fi
}
# The helpers every host script shares, and the CQL ones; inlined into the SSM document at synth.
# lib/rules.sh is the validation rules (RULE_*, SYSTEM_KEYSPACES) that synth generates from
# functions/core/contract/rules.ts; it is no file.
# shellcheck source=/dev/null
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/rules.sh" # wire-backup:inline
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh" # wire-backup:inline
# shellcheck source-path=SCRIPTDIR source=lib/snapshots.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/snapshots.sh" # wire-backup:inline
# shellcheck source-path=SCRIPTDIR source=lib/cql.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/cql.sh" # wire-backup:inline

# The state machine ends a backup by clearing its snapshots on every node (cassandra-clearsnapshot.sh),
# which leaves `<staging root>/<backupId>.cleared`. A snapshot script still running then (its SSM
# command is not cancelled with the execution) must not leave a snapshot behind: it stops at the next
# check, and the EXIT trap clears the snapshot it took. The script holds `<backupId>.lock` (flock) from
# before its first check to its exit; clearsnapshot waits for that lock, so that once it has returned
# no snapshot script of the backup is left running on this host.
check_not_ended() {
  if [[ -e $STAGING_ROOT/$BACKUP_ID.cleared ]]; then
    fail "backup $BACKUP_ID was ended while this script ran (its snapshots were cleared: another part of the backup failed)" \
      "nothing to do here: see the backup's failed marker in the vault for the cause"
  fi
}
# hold_backup_lock: take `<staging root>/<backupId>.lock` for the rest of the script (fd 9).
hold_backup_lock() {
  if ! command -v flock >/dev/null; then
    log "WARNING: flock is not installed (package util-linux): a clearsnapshot of $BACKUP_ID will not wait for this script"
    return
  fi
  if ! mkdir -p -- "$STAGING_ROOT" || ! exec 9>>"$STAGING_ROOT/$BACKUP_ID.lock"; then
    fail "cannot create $STAGING_ROOT/$BACKUP_ID.lock" "make $(dirname -- "$DATA_DIR") writable for the SSM command's user"
  fi
  if ! flock -w 60 9; then
    fail "another snapshot or clearsnapshot of backup $BACKUP_ID holds $STAGING_ROOT/$BACKUP_ID.lock on $HOST" \
      "wait for it to end (ps aux | grep wire-backup), then run the backup again"
  fi
}
# run_abortable <what> <command...>: runs a long command in the background (without the lock's fd) and
# stops it as soon as the backup has been ended elsewhere. Returns the command's exit status.
run_abortable() {
  local what=$1 rc=0
  shift
  "$@" 9>&- &
  BACKGROUND_PID=$!
  while kill -0 -- "$BACKGROUND_PID" 2>/dev/null; do
    if [[ -e $STAGING_ROOT/$BACKUP_ID.cleared ]]; then
      log "backup $BACKUP_ID was ended elsewhere: stopping the $what"
      kill -- "$BACKGROUND_PID" 2>/dev/null || true
      wait -- "$BACKGROUND_PID" 2>/dev/null || true
      BACKGROUND_PID=''
      check_not_ended
    fi
    sleep 0.5
  done
  wait -- "$BACKGROUND_PID" || rc=$?
  BACKGROUND_PID=''
  return "$rc"
}

# package_of <tool>: how to install the tool.
package_of() {
  case $1 in
    nodetool) printf 'Cassandra (put its bin directory, e.g. /opt/cassandra/bin, on PATH)' ;;
    aws) printf 'the AWS CLI (Debian/Ubuntu package awscli, or AWS CLI v2)' ;;
    find) printf 'the findutils package' ;;
    sha256sum | df) printf 'the coreutils package' ;;
    *) printf 'the package that provides it' ;;
  esac
}

# --- inputs ------------------------------------------------------------------------------------
BACKUP_ID=${SSM_backupId-}
KEYSPACES_PARAM=${SSM_keyspaces-}
DATA_DIR=${SSM_dataDir-}
VAULT_BUCKET=${SSM_vaultBucket-}
CLUSTER_NAME=${SSM_clusterName-}
INSTANCE_ID=${SSM_instanceId-}
PREVIOUS_FILES_KEY=${SSM_previousFilesKey-}
PREVIOUS_HOST_ID=${SSM_previousHostId-}
SST_PREFIX=${SSM_sstablePrefix-}
INVENTORY_KEY=${SSM_inventoryKey-}
NODE_KEY=${SSM_nodeInfoKey-}
SCHEMA_KEY=${SSM_schemaKey-}
ROW_COUNTS_KEY=${SSM_rowCountsKey-}
CAPTURE_SCHEMA=${SSM_captureSchema-}
COUNT_ROWS=${SSM_countRows-false}
UPLOAD_MBPS=${SSM_uploadMaxBandwidthMBps-0}
check_rule backupId "$BACKUP_ID" BACKUP_ID
check_rule keyspaces "$KEYSPACES_PARAM" KEYSPACE_LIST
check_rule dataDir "$DATA_DIR" ABSOLUTE_PATH
check_rule vaultBucket "$VAULT_BUCKET" BUCKET_NAME
check_rule clusterName "$CLUSTER_NAME" CLUSTER_NAME
check_rule instanceId "$INSTANCE_ID" INSTANCE_ID
check_rule previousFilesKey "$PREVIOUS_FILES_KEY" OPTIONAL_VAULT_KEY
check_rule previousHostId "$PREVIOUS_HOST_ID" OPTIONAL_HOST_ID
check_rule sstablePrefix "$SST_PREFIX" VAULT_PREFIX
check_rule inventoryKey "$INVENTORY_KEY" VAULT_KEY
check_rule nodeInfoKey "$NODE_KEY" VAULT_KEY
check_rule schemaKey "$SCHEMA_KEY" VAULT_KEY
check_rule rowCountsKey "$ROW_COUNTS_KEY" VAULT_KEY
check_rule captureSchema "$CAPTURE_SCHEMA" BOOLEAN
check_rule countRows "$COUNT_ROWS" BOOLEAN
check_rule uploadMaxBandwidthMBps "$UPLOAD_MBPS" BANDWIDTH_MBPS
if [[ $CAPTURE_SCHEMA != true ]]; then COUNT_ROWS=false; fi
DATA_DIR=${DATA_DIR%/}
DATA_DIR=${DATA_DIR:-/}

# Wire's Ansible installs Cassandra's tools in /opt/cassandra/bin, which the SSM agent's PATH lacks.
if [[ -d /opt/cassandra/bin ]]; then PATH="$PATH:/opt/cassandra/bin"; fi
for tool in nodetool aws find sha256sum df; do
  if ! command -v -- "$tool" >/dev/null; then
    fail "required tool '$tool' is not installed or not on PATH" "install $(package_of "$tool")"
  fi
done
if [[ ! -d $DATA_DIR || ! -r $DATA_DIR || ! -x $DATA_DIR ]]; then
  fail "Cassandra data directory $DATA_DIR does not exist or is not readable" \
    "set dataDir to the data_file_directories entry of cassandra.yaml (Wire's Ansible uses /mnt/cassandra/data)"
fi

STAGING_ROOT="$(dirname -- "$DATA_DIR")/wire-backup-staging"
hold_backup_lock
check_not_ended
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wire-backup-snapshot.XXXXXX")
log "backup $BACKUP_ID of $INSTANCE_ID ($HOST), data directory $DATA_DIR"

# --- 1. keyspaces ------------------------------------------------------------------------------
# Cassandra's own keyspaces (SYSTEM_KEYSPACES, from lib/rules.sh) are never part of "all keyspaces".
KEYSPACES=()
declare -A SEEN_KEYSPACE=()
if [[ -z $KEYSPACES_PARAM ]]; then
  while IFS= read -r -d '' dir; do
    name=${dir##*/}
    if [[ $SYSTEM_KEYSPACES == *" $name "* ]]; then continue; fi
    if ! [[ $name =~ $RULE_KEYSPACE_NAME ]]; then
      log "skipping $dir: not a keyspace directory"
      continue
    fi
    KEYSPACES+=("$name")
  done < <(find "$DATA_DIR" -mindepth 1 -maxdepth 1 -type d -print0 | sort -z)
  if ((${#KEYSPACES[@]} == 0)); then
    fail "no non-system keyspace found in $DATA_DIR" \
      "check dataDir (Wire's Ansible uses /mnt/cassandra/data), or name the keyspaces to back up"
  fi
else
  IFS=, read -r -a REQUESTED <<<"$KEYSPACES_PARAM"
  for ks in "${REQUESTED[@]}"; do
    if [[ -z $ks || -n ${SEEN_KEYSPACE[$ks]-} ]]; then continue; fi
    SEEN_KEYSPACE[$ks]=1
    if [[ ! -d $DATA_DIR/$ks ]]; then
      fail "keyspace '$ks' does not exist on $HOST (no $DATA_DIR/$ks)" "remove it from the keyspaces list or create it"
    fi
    KEYSPACES+=("$ks")
  done
fi
log "keyspaces: ${KEYSPACES[*]}"

# --- 2. snapshot -------------------------------------------------------------------------------
# (security) First clear snapshots of earlier backups that no clean-up reached (lib/snapshots.sh).
STALE_CLEARED=$(sweep_stale_snapshots "$DATA_DIR" "$STAGING_ROOT" "$BACKUP_ID")
if [[ -n $STALE_CLEARED ]]; then log "cleared $(wc -l <<<"$STALE_CLEARED") stale snapshot(s) of earlier backups"; fi
# A snapshot with this tag can only be left from an earlier, killed attempt of this same backup.
if [[ -n $(find "$DATA_DIR" -mindepth 4 -maxdepth 4 -type d -path "*/snapshots/$BACKUP_ID" -print -quit) ]]; then
  log "a snapshot tagged $BACKUP_ID is left from an earlier attempt: clearing it first"
  if ! nodetool clearsnapshot -t "$BACKUP_ID" >"$WORK_DIR/clear.out" 2>&1; then
    tail_of "$WORK_DIR/clear.out" nodetool
    fail "could not clear the snapshot $BACKUP_ID left from an earlier attempt" \
      "run 'nodetool clearsnapshot -t $BACKUP_ID' on $HOST and run the backup again"
  fi
fi
# Without a keyspace list, snapshot every keyspace Cassandra knows and inventory the non-system ones:
# naming directories would fail on those a DROP KEYSPACE leaves behind. System keyspaces get a snapshot
# too (hardlinks only), cleared with the rest by `nodetool clearsnapshot -t <backupId>`.
SNAPSHOT_ARGS=()
if [[ -n $KEYSPACES_PARAM ]]; then SNAPSHOT_ARGS=(-- "${KEYSPACES[@]}"); fi
check_not_ended
# Row counts, for the restore's verification: taken just before the snapshot, so that on a cluster
# that only gains rows meanwhile the snapshot holds at least as many.
if [[ $COUNT_ROWS == true ]]; then
  if ! command -v cqlsh >/dev/null; then
    fail "required tool 'cqlsh' is not installed or not on PATH (row counts are on)" \
      "install cqlsh on $HOST (pip install cqlsh), or set cassandra.countRows to false in the configuration"
  fi
  cql_tables "$WORK_DIR/count-tables.tsv" "${KEYSPACES[@]}"
  log "counting the rows of $(wc -l <"$WORK_DIR/count-tables.tsv") table(s) (SELECT COUNT(*) at QUORUM)"
  count_tables() { cql_count_rows "$WORK_DIR/count-tables.tsv" "$WORK_DIR/row-counts.tsv" QUORUM 14400; }
  if ! run_abortable 'row count' count_tables; then
    fail "counting the rows of keyspaces ${KEYSPACES[*]} failed" "read the cqlsh error above, or set cassandra.countRows to false"
  fi
  log "counted $(awk -F'\t' '!/^#/ { n += $3 } END { printf "%.0f", n }' "$WORK_DIR/row-counts.tsv") row(s)"
  check_not_ended
fi
# Node facts (step 3) come from three more nodetool JVMs: started now, beside the snapshot's, so their
# start-up costs no extra wall time; read after it.
declare -A FACT_PIDS=()
nodetool info -T >"$WORK_DIR/info.out" 2>"$WORK_DIR/info.err" 3>&- &
FACT_PIDS[info]=$!
nodetool status >"$WORK_DIR/status.out" 2>"$WORK_DIR/status.err" 3>&- &
FACT_PIDS[status]=$!
nodetool version >"$WORK_DIR/version.out" 2>"$WORK_DIR/version.err" 3>&- &
FACT_PIDS[version]=$!
SNAPSHOT_TAKEN=1
log "nodetool snapshot -t $BACKUP_ID ${SNAPSHOT_ARGS[*]+${SNAPSHOT_ARGS[*]}}"
if ! nodetool snapshot -t "$BACKUP_ID" ${SNAPSHOT_ARGS[@]+"${SNAPSHOT_ARGS[@]}"} >"$WORK_DIR/snapshot.out" 2>&1; then
  tail_of "$WORK_DIR/snapshot.out" nodetool
  fail "'nodetool snapshot' failed for keyspaces ${KEYSPACES[*]}" \
    "read the nodetool output above: check that Cassandra is running and that every keyspace exists (cqlsh -e 'DESCRIBE KEYSPACES')"
fi
tail_of "$WORK_DIR/snapshot.out" nodetool
check_not_ended

# --- 3. node facts -----------------------------------------------------------------------------
# The three nodetool commands (one JVM each) were started beside the snapshot; their outcomes in order.
for what in 'info -T' status version; do
  name=${what%% *}
  if ! wait "${FACT_PIDS[$name]}"; then
    tail_of "$WORK_DIR/$name.err" nodetool
    fail "'nodetool $what' failed" "check that Cassandra is running on $HOST and JMX is reachable"
  fi
done
# info_field <key>: the value of the first `<key>   : <value>` line of `nodetool info`.
info_field() {
  awk -v key="$1" '{ k = $0; sub(/[ \t]*:.*$/, "", k); v = $0; sub(/^[^:]*:[ \t]*/, "", v); sub(/[ \t\r]+$/, "", v) }
    k == key { print v; exit }' "$WORK_DIR/info.out"
}
HOST_ID=$(info_field ID)
DATACENTER=$(info_field 'Data Center')
RACK=$(info_field Rack)
CASSANDRA_VERSION=$(awk -F': *' '/^ReleaseVersion/ { print $2; exit }' "$WORK_DIR/version.out")
if ! [[ $HOST_ID =~ $RULE_HOST_ID ]]; then
  tail_of "$WORK_DIR/info.out" nodetool
  fail "'nodetool info' shows no host id (ID: $(shown "$HOST_ID"))" "check that the nodetool on PATH talks to this host's Cassandra node"
fi
ADDRESS=$(awk -v id="$HOST_ID" '$1 ~ /^[UD?][NLJM]$/ { for (i = 3; i <= NF; i++) if ($i == id) { print $2; exit } }' "$WORK_DIR/status.out")
if [[ -z $ADDRESS ]]; then
  tail_of "$WORK_DIR/status.out" nodetool
  fail "host id $HOST_ID is not in the output of 'nodetool status'" "check that the nodetool on PATH talks to this host's Cassandra node"
fi
TOKENS_JSON=''
while IFS= read -r token; do
  TOKENS_JSON+="${TOKENS_JSON:+,}$(json_str "$token")"
done < <(awk '{ k = $0; sub(/[ \t]*:.*$/, "", k); v = $0; sub(/^[^:]*:[ \t]*/, "", v); sub(/[ \t\r]+$/, "", v) }
  k == "Token" && v !~ /^\(/ && v != "" { print v }' "$WORK_DIR/info.out")
if [[ -z $TOKENS_JSON ]]; then
  fail "'nodetool info -T' lists no tokens" "check that the node has joined the ring ('nodetool status' shows it UN)"
fi
printf '{"instanceId":%s,"hostname":%s,"hostId":%s,"address":%s,"datacenter":%s,"rack":%s,"clusterName":%s,"cassandraVersion":%s,"tokens":[%s]}\n' \
  "$(json_str "$INSTANCE_ID")" "$(json_str "$HOST")" "$(json_str "$HOST_ID")" "$(json_str "$ADDRESS")" \
  "$(json_str "$DATACENTER")" "$(json_str "$RACK")" "$(json_str "$CLUSTER_NAME")" "$(json_str "$CASSANDRA_VERSION")" \
  "$TOKENS_JSON" >"$WORK_DIR/node.json"
log "host id $HOST_ID, address $ADDRESS, datacenter $DATACENTER, rack $RACK, Cassandra $CASSANDRA_VERSION"
SST_PREFIX="$SST_PREFIX$HOST_ID"

# --- 4. inventory ------------------------------------------------------------------------------
# list.tsv: relpath, size, absolute path, identity for the hash cache (device:inode:mtime; a snapshot's
# hardlink shares the live SSTable's inode and mtime, which never change once Cassandra has written it).
: >"$WORK_DIR/list.tsv"
for ks in "${KEYSPACES[@]}"; do
  tables=0
  for snap in "$DATA_DIR/$ks"/*/snapshots/"$BACKUP_ID"; do
    if [[ ! -d $snap ]]; then continue; fi
    table_dir=${snap#"$DATA_DIR/$ks/"}
    table_dir=${table_dir%%/*}
    if ! [[ $table_dir =~ ^[A-Za-z0-9_.-]+$ ]]; then
      fail "unexpected table directory name $(shown "$table_dir") in $DATA_DIR/$ks" "move the directory out of the data directory"
    fi
    tables=$((tables + 1))
    find "$snap" -type f -printf "$ks/$table_dir/%P\t%s\t%p\t%D:%i:%T@\n" >>"$WORK_DIR/list.tsv"
  done
  read -r ks_files ks_bytes < <(awk -F'\t' -v p="$ks/" 'index($1, p) == 1 { n++; b += $2 } END { printf "%d %.0f\n", n, b }' "$WORK_DIR/list.tsv")
  if ((tables == 0)); then
    log "keyspace $ks: nothing in the snapshot (no tables, or a directory left by DROP KEYSPACE)"
  else
    log "keyspace $ks: $tables table(s), $ks_files file(s), $ks_bytes bytes in the snapshot"
  fi
done
sort -t $'\t' -k1,1 -o "$WORK_DIR/list.tsv" "$WORK_DIR/list.tsv"
BAD_NAME=$(awk -F'\t' '$1 !~ /^[A-Za-z0-9._+=\/-]+$/ || $2 !~ /^[0-9]+$/ { print $1; exit }' "$WORK_DIR/list.tsv")
if [[ -n $BAD_NAME ]]; then
  fail "unexpected file name in the snapshot: $(shown "$BAD_NAME")" "move the file out of the Cassandra data directory"
fi
FILE_COUNT=$(wc -l <"$WORK_DIR/list.tsv")
# Hash cache (scale: an hourly differential must not re-read every SSTable of the node): the sha256 of
# a file whose relpath, size, device, inode and mtime are those recorded at an earlier backup of this
# node is taken from $HASH_CACHE; only the other files are read. A full backup, or one whose previous
# file list is not usable, reads every file. The cache is rewritten with this snapshot's files only.
HASH_CACHE="$STAGING_ROOT/hash-cache.tsv"
USE_HASH_CACHE=false
if [[ -n $PREVIOUS_FILES_KEY && ( -z $PREVIOUS_HOST_ID || $PREVIOUS_HOST_ID == "$HOST_ID" ) ]]; then USE_HASH_CACHE=true; fi
# cached.tsv: the cached sha256 (or "-") and the absolute path of each file of list.tsv, in its order.
awk -F'\t' -v OFS='\t' -v cache="$HASH_CACHE" -v use="$USE_HASH_CACHE" '
  BEGIN { if (use == "true") while ((getline line < cache) > 0) { n = split(line, f, "\t"); if (n == 4 && length(f[4]) == 64 && f[4] ~ /^[0-9a-f]+$/) h[f[1] "\t" f[2] "\t" f[3]] = f[4] } }
  { k = $1 "\t" $2 "\t" $4; print ((k in h) ? h[k] : "-"), $3 }' "$WORK_DIR/list.tsv" >"$WORK_DIR/cached.tsv"
TO_HASH=$(awk -F'\t' '$1 == "-"' "$WORK_DIR/cached.tsv" | wc -l)
if [[ $USE_HASH_CACHE == true ]]; then
  log "hashing $TO_HASH of $FILE_COUNT file(s): $((FILE_COUNT - TO_HASH)) unchanged since the last backup of this node (hashes from $HASH_CACHE)"
else
  log "hashing $FILE_COUNT file(s)"
fi
# hash_files: the sha256 of every file of list.tsv, in its order, one per line (cached or read).
hash_files() {
  awk -F'\t' '$1 == "-" { print $2 }' "$WORK_DIR/cached.tsv" | xargs -r -d '\n' sha256sum -- | awk '{ print $1 }' >"$WORK_DIR/fresh.txt" &&
    awk -F'\t' -v fresh="$WORK_DIR/fresh.txt" '
      $1 == "-" { if ((getline h < fresh) <= 0) exit 1; print h; next }
      { print $1 }' "$WORK_DIR/cached.tsv" >"$WORK_DIR/hashes.txt"
}
if ! run_abortable hashing hash_files; then
  fail "could not hash every snapshot file" "check that $DATA_DIR is readable and run the backup again"
fi
if [[ $(wc -l <"$WORK_DIR/hashes.txt") -ne $FILE_COUNT || $(wc -l <"$WORK_DIR/fresh.txt") -ne $TO_HASH ]]; then
  fail "could not hash every snapshot file" "check that $DATA_DIR is readable and run the backup again"
fi
if ! paste "$WORK_DIR/list.tsv" "$WORK_DIR/hashes.txt" |
  awk -F'\t' -v OFS='\t' '{ print $1, $2, $4, $5 }' >"$HASH_CACHE.$$" || ! mv -f -- "$HASH_CACHE.$$" "$HASH_CACHE"; then
  rm -f -- "$HASH_CACHE.$$"
  log "WARNING: could not write the hash cache $HASH_CACHE: the next backup reads every file again"
fi

# --- 5. differential ---------------------------------------------------------------------------
: >"$WORK_DIR/previous.tsv"
# A replaced node (new host id) keeps its files under a new vault prefix: nothing of the old one is reused.
if [[ -n $PREVIOUS_FILES_KEY && -n $PREVIOUS_HOST_ID && $PREVIOUS_HOST_ID != "$HOST_ID" ]]; then
  log "host id changed since the previous backup ($PREVIOUS_HOST_ID → $HOST_ID): uploading every file"
  PREVIOUS_FILES_KEY=
fi
if [[ -n $PREVIOUS_FILES_KEY ]]; then
  if ! aws s3 cp --only-show-errors "s3://$VAULT_BUCKET/$PREVIOUS_FILES_KEY" "$WORK_DIR/previous.tsv" >"$WORK_DIR/prev.out" 2>&1; then
    tail_of "$WORK_DIR/prev.out" aws
    fail "cannot read the previous file list s3://$VAULT_BUCKET/$PREVIOUS_FILES_KEY" \
      "check the vault is reachable and the object exists; to upload every file again, start a full backup ({\"full\": true})"
  fi
  log "previous file list: $(wc -l <"$WORK_DIR/previous.tsv") file(s)"
fi
# plan.tsv: relpath, size, sha256, new|reused, absolute path, versionId (last: `read` collapses empty
# tab-separated fields).
paste "$WORK_DIR/list.tsv" "$WORK_DIR/hashes.txt" |
  awk -F'\t' -v OFS='\t' -v prev="$WORK_DIR/previous.tsv" '
    FILENAME == prev { if ($0 !~ /^#/ && NF >= 3) { seen[$1] = $2 "\t" $3; version[$1] = $4 } next }
    { if (($1 in seen) && seen[$1] == $2 "\t" $5) print $1, $2, $5, "reused", $3, version[$1]
      else print $1, $2, $5, "new", $3, "" }' "$WORK_DIR/previous.tsv" - >"$WORK_DIR/plan.tsv"
cut -f1-4,6 "$WORK_DIR/plan.tsv" >"$WORK_DIR/inventory.tsv"
read -r FILES BYTES NEW_FILES NEW_BYTES REUSED_FILES REUSED_BYTES < <(awk -F'\t' '
  { n++; b += $2; if ($4 == "new") { nn++; nb += $2 } else { rn++; rb += $2 } }
  END { printf "%d %.0f %d %.0f %d %.0f\n", n, b, nn, nb, rn, rb }' "$WORK_DIR/plan.tsv")
log "$FILES file(s), $BYTES bytes: $NEW_FILES new ($NEW_BYTES bytes), $REUSED_FILES already in the vault ($REUSED_BYTES bytes)"

# staging_space <bytes needed>: "<needed> needed, <free> free in <staging dir>", for a failure (whose
# message names the host).
staging_space() { printf '%s needed, %s free in %s' "$(human "$1")" "$(human "$(free_bytes "$STAGING")")" "$STAGING"; }
# --- 6. stage and upload the new files ---------------------------------------------------------
if ((NEW_FILES > 0)); then
  STAGING="$STAGING_ROOT/$BACKUP_ID"
  rm -rf -- "$STAGING"
  if ! mkdir -p -- "$STAGING"; then
    fail "cannot create the staging directory $STAGING" "make $(dirname -- "$DATA_DIR") writable for the SSM command's user"
  fi
  last_dir=''
  copied=0
  space_checked=false
  while IFS=$'\t' read -r rel size _ status abs _; do
    if [[ $status != new ]]; then continue; fi
    dir=${rel%/*}
    if [[ $dir != "$last_dir" ]]; then
      if ! mkdir -p -- "$STAGING/$dir" 2>"$WORK_DIR/stage.err"; then
        tail_of "$WORK_DIR/stage.err" mkdir
        fail "cannot create $STAGING/$dir: $(staging_space "$NEW_BYTES")" "free disk space there and run the backup again"
      fi
      last_dir=$dir
    fi
    if ! ln -- "$abs" "$STAGING/$rel" 2>/dev/null; then
      # No hardlink (the staging root is on another filesystem than the data): the new files are
      # copied, so they must fit there. Checked once, before the first copy: nothing half-staged.
      if [[ $space_checked == false ]]; then
        space_checked=true
        if (($(free_bytes "$STAGING") < NEW_BYTES)); then
          fail "not enough space to stage the snapshot's new files: $(staging_space "$NEW_BYTES") (hardlinks from $DATA_DIR are not possible: another filesystem)" \
            "free that much space in $STAGING_ROOT, or make it a directory on the filesystem of $DATA_DIR, and run the backup again"
        fi
      fi
      if ! cp -p -- "$abs" "$STAGING/$rel" 2>"$WORK_DIR/stage.err"; then
        tail_of "$WORK_DIR/stage.err" cp
        fail "cannot stage $abs ($size bytes) in $STAGING: $(staging_space "$NEW_BYTES")" "free disk space there and run the backup again"
      fi
      copied=$((copied + 1))
    fi
  done <"$WORK_DIR/plan.tsv"
  if ((copied > 0)); then log "staged $copied file(s) by copying (hardlinks not possible)"; fi
  # The upload's bandwidth limit (AWS CLI s3.max_bandwidth) lives in a copy of this host's AWS config
  # that only the upload reads: the host's own config is left as it is.
  upload_files() { aws s3 cp --recursive --only-show-errors "$STAGING/" "s3://$VAULT_BUCKET/$SST_PREFIX/" >"$WORK_DIR/upload.out" 2>&1; }
  if ((UPLOAD_MBPS > 0)); then
    host_config=${AWS_CONFIG_FILE:-~/.aws/config}
    if [[ -f $host_config ]]; then cp -- "$host_config" "$WORK_DIR/aws-upload.config"; else : >"$WORK_DIR/aws-upload.config"; fi
    AWS_CONFIG_FILE=$WORK_DIR/aws-upload.config aws configure set s3.max_bandwidth "${UPLOAD_MBPS}MB/s" --profile "${AWS_PROFILE:-default}" ||
      fail "cannot write the upload's AWS CLI settings to $WORK_DIR/aws-upload.config" "free disk space in $WORK_DIR and run the backup again"
    upload_files() { AWS_CONFIG_FILE=$WORK_DIR/aws-upload.config aws s3 cp --recursive --only-show-errors "$STAGING/" "s3://$VAULT_BUCKET/$SST_PREFIX/" >"$WORK_DIR/upload.out" 2>&1; }
    log "uploading $NEW_FILES new file(s) ($NEW_BYTES bytes) to s3://$VAULT_BUCKET/$SST_PREFIX/ at most $UPLOAD_MBPS MB/s (cassandra.uploadMaxBandwidthMBps)"
  else
    log "uploading $NEW_FILES new file(s) ($NEW_BYTES bytes) to s3://$VAULT_BUCKET/$SST_PREFIX/ (no bandwidth limit)"
  fi
  if ! run_abortable upload upload_files; then
    tail_of "$WORK_DIR/upload.out" aws
    fail "upload of the snapshot files to s3://$VAULT_BUCKET/$SST_PREFIX/ failed" \
      "check this host's network path and credentials to the vault (aws s3api head-bucket --bucket $VAULT_BUCKET) and run the backup again"
  fi
  rm -rf -- "$STAGING"
  rmdir -- "${STAGING%/*}" 2>/dev/null || true
  STAGING=''
  log "uploaded $NEW_FILES file(s)"
else
  log "nothing new to upload"
fi

# --- 7, 8. inventory, node facts and schema, to the keys they were given -------------------------
PUT_FILES=("$WORK_DIR/inventory.tsv" "$INVENTORY_KEY" "$WORK_DIR/node.json" "$NODE_KEY")
SCHEMA_KEY_JSON=null
SCHEMA_SOURCE_JSON=null
ROW_COUNTS_KEY_JSON=null
if [[ $COUNT_ROWS == true ]]; then
  PUT_FILES+=("$WORK_DIR/row-counts.tsv" "$ROW_COUNTS_KEY")
  ROW_COUNTS_KEY_JSON=$(json_str "$ROW_COUNTS_KEY")
fi
if [[ $CAPTURE_SCHEMA == true ]]; then
  # The schema with its history: without the columns a table has dropped, a fresh cluster cannot load
  # the SSTables written before the drop. Cassandra >= 4.0 describes it server-side: `DESCRIBE SCHEMA
  # WITH INTERNALS` gives each CREATE TABLE its `WITH ID`, every column it ever dropped, then
  # `ALTER TABLE … DROP … USING TIMESTAMP <drop time>` (and `ADD` for a re-added one). An older cqlsh
  # (Cassandra 3.11 describes client-side) refuses WITH INTERNALS: then its keyspaces come from `DESCRIBE
  # SCHEMA` and the rest from the snapshot's per-table schema.cql files, which hold the same history.
  schema_source=''
  # snapshot_schemas: appends the snapshot's per-table schema.cql files to schema.cql.
  snapshot_schemas() {
    while IFS=$'\t' read -r rel _ _ _ abs _; do
      if [[ $rel =~ ^[^/]+/[^/]+/schema\.cql$ ]]; then
        {
          printf -- '-- %s\n' "${rel%/schema.cql}"
          cat -- "$abs"
          printf '\n'
        } >>"$WORK_DIR/schema.cql"
      fi
    done <"$WORK_DIR/plan.tsv"
  }
  # describe <target> <statement>: the statement's output, without cqlsh's warnings, in schema.cql.
  describe() {
    # cqlsh prints warnings (e.g. "WARNING: cqlsh was built against 5.0.0") on stdout, before the schema.
    timeout 180 cqlsh ${1:+"$1"} -e "$2" >"$WORK_DIR/describe.out" 2>"$WORK_DIR/cqlsh.err" &&
      awk 'started || ($0 !~ /^WARNING: / && $0 !~ /^[ \t]*$/) { started = 1; print }' "$WORK_DIR/describe.out" >"$WORK_DIR/schema.cql" &&
      grep -q '^CREATE ' "$WORK_DIR/schema.cql"
  }
  if command -v cqlsh >/dev/null; then
    # cqlsh defaults to localhost; Wire's nodes often listen on their own address only.
    for target in '' "$ADDRESS"; do
      if describe "$target" 'DESCRIBE SCHEMA WITH INTERNALS'; then
        schema_source=cqlsh
        break
      fi
      tail_of "$WORK_DIR/cqlsh.err" cqlsh
      if describe "$target" 'DESCRIBE SCHEMA'; then
        log "cqlsh refused DESCRIBE SCHEMA WITH INTERNALS: keyspaces from DESCRIBE SCHEMA, tables with their history from the snapshot's schema.cql files"
        # DESCRIBE prints each CREATE KEYSPACE on one line.
        grep -E '^CREATE KEYSPACE .*;[[:space:]]*$' "$WORK_DIR/schema.cql" >"$WORK_DIR/keyspaces.cql" || true
        mv -- "$WORK_DIR/keyspaces.cql" "$WORK_DIR/schema.cql"
        snapshot_schemas
        schema_source=cqlsh+snapshot
        break
      fi
      tail_of "$WORK_DIR/cqlsh.err" cqlsh
    done
    if [[ -z $schema_source ]]; then log "WARNING: cqlsh DESCRIBE SCHEMA failed: using the snapshot's per-table schema.cql files"; fi
  else
    log "WARNING: cqlsh is not installed: using the snapshot's per-table schema.cql files (no CREATE KEYSPACE statements)"
  fi
  if [[ -z $schema_source ]]; then
    : >"$WORK_DIR/schema.cql"
    snapshot_schemas
    if [[ ! -s $WORK_DIR/schema.cql ]]; then
      fail "could not capture the schema: cqlsh is unavailable and the snapshot holds no schema.cql" \
        "install cqlsh on $HOST (Debian/Ubuntu: the cassandra package, or pip install cqlsh)"
    fi
    schema_source=snapshot
  fi
  PUT_FILES+=("$WORK_DIR/schema.cql" "$SCHEMA_KEY")
  SCHEMA_KEY_JSON=$(json_str "$SCHEMA_KEY")
  SCHEMA_SOURCE_JSON=$(json_str "$schema_source")
  log "schema captured with $schema_source"
fi
# One AWS CLI start for the small objects: laid out below the folder their keys share, copied with one
# `aws s3 cp --recursive`. The snapshot files they describe are already uploaded.
OUT_DIR="$WORK_DIR/out"
COMMON=${PUT_FILES[1]%/*}/
for ((i = 1; i < ${#PUT_FILES[@]}; i += 2)); do
  while [[ -n $COMMON && ${PUT_FILES[i]} != "$COMMON"* ]]; do
    COMMON=${COMMON%/}
    if [[ $COMMON == */* ]]; then COMMON=${COMMON%/*}/; else COMMON=''; fi
  done
done
for ((i = 0; i < ${#PUT_FILES[@]}; i += 2)); do
  dest="$OUT_DIR/${PUT_FILES[i + 1]#"$COMMON"}"
  mkdir -p -- "${dest%/*}"
  cp -- "${PUT_FILES[i]}" "$dest"
done
if ! aws s3 cp --recursive --only-show-errors "$OUT_DIR/" "s3://$VAULT_BUCKET/$COMMON" >"$WORK_DIR/put.out" 2>&1; then
  tail_of "$WORK_DIR/put.out" aws
  fail "upload of the inventory, node facts and schema to s3://$VAULT_BUCKET/$COMMON failed" \
    "check this host's network path and credentials to the vault and run the backup again"
fi
if [[ $CAPTURE_SCHEMA == true ]]; then
  log "wrote s3://$VAULT_BUCKET/$INVENTORY_KEY, node.json and s3://$VAULT_BUCKET/$SCHEMA_KEY"
else
  log "wrote s3://$VAULT_BUCKET/$INVENTORY_KEY and node.json"
fi
check_not_ended

printf 'WIRE_BACKUP_RESULT {"instanceId":%s,"hostId":%s,"address":%s,"files":%s,"bytes":%s,"newFiles":%s,"newBytes":%s,"reusedFiles":%s,"reusedBytes":%s,"inventoryKey":%s,"nodeKey":%s,"schemaKey":%s,"schemaSource":%s,"rowCountsKey":%s}\n' \
  "$(json_str "$INSTANCE_ID")" "$(json_str "$HOST_ID")" "$(json_str "$ADDRESS")" "$FILES" "$BYTES" "$NEW_FILES" \
  "$NEW_BYTES" "$REUSED_FILES" "$REUSED_BYTES" "$(json_str "$INVENTORY_KEY")" "$(json_str "$NODE_KEY")" \
  "$SCHEMA_KEY_JSON" "$SCHEMA_SOURCE_JSON" "$ROW_COUNTS_KEY_JSON" >&3
log "done: $FILES file(s), $NEW_FILES uploaded, $REUSED_FILES reused; the snapshot $BACKUP_ID stays until clearsnapshot"

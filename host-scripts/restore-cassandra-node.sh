#!/usr/bin/env bash
# wire-backup host script: restore the SSTables of one backed-up Cassandra node.
#
# Run by SSM Run Command (document parameter `fooBar` arrives as the environment variable SSM_fooBar) on
# a node of the target cluster (mode import: the node that takes over the source node's token ranges) or
# on any host that reaches the target cluster (mode load). The schema must be in place first
# (restore-cassandra-schema.sh). Steps:
#   1. read the source node's files.tsv (`relpath\tsize\tsha256\tversionId`, relpath =
#      `<keyspace>/<table>-<table id>/<file or .<index>/file>`) and keep the files of the selected keyspaces
#      (empty list = every non-system keyspace in it); the snapshots' own manifest.json and schema.cql are
#      not needed to load data and are left out;
#   2. check, before anything is written: the target tables exist (import: `nodetool tablestats`; load:
#      cqlsh against the first reachable load target when cqlsh is available), and the staging
#      filesystem has room;
#   3. download the files into `<stagingDir>/<run>/<keyspace>/<table>/…`: one `aws s3 cp --recursive` per
#      keyspace from the node's vault prefix, restricted to the listed files, then every file's size and
#      SHA-256 are checked and the ones that differ (a newer version at the same key) are fetched by their
#      exact version id (`aws s3api get-object --version-id`, in parallel); a file still wrong fails the
#      restore, naming it, before anything is loaded;
#   4. unless dryRun, per table: mode import → `nodetool import <keyspace> <table> <dir>` (the node moves
#      the files into its data directory; run as root, the staging files are handed to the user Cassandra
#      runs as) where the node reports Cassandra >= 4.0 (`nodetool version`), else the refresh path: mode
#      refresh (also forced by the parameter) → the SSTables are moved into the live table folder
#      `<dataDir>/<keyspace>/<table>-<id>/` under generation numbers no file there uses, then
#      `nodetool refresh <keyspace> <table>` (Cassandra 3.11 has no import); mode load →
#      `sstableloader -d <loadTargets> <dir>` (streams to the replicas owning each range, in any topology);
#   5. remove the staging run directory (also on failure).
#
# Parameters (environment): SSM_vaultBucket, SSM_sourceHostId, SSM_sstablePrefix, SSM_filesKey,
#   SSM_keyspaces (comma list, may be empty), SSM_mode (import|refresh|load), SSM_loadTargets (comma list
#   of addresses, required for load), SSM_stagingDir, SSM_dataDir (this node's data directory, used by
#   refresh), SSM_dryRun (true|false), SSM_readFrom (vault|archive; archive: SSM_vaultBucket is the archive
#   bucket, SSM_filesKey the archived files.tsv, and each file is at <sstablePrefix><sha256[0:2]>/<sha256>).
# Output: log lines on stderr, one per table; one stdout line `WIRE_BACKUP_RESULT {"tables","files","bytes",
#   "mode","keyspaces","emptyTables","dryRun","cassandraVersion"}` (mode = how the files were loaded:
#   import, refresh or load; tables = tables loaded, emptyTables = tables whose backup holds no SSTable;
#   cassandraVersion = this node's, null for load). On failure: exit non-zero, last stderr line
#   `wire-backup: <host>: <what failed> — <how to fix>`.
set -euo pipefail

readonly SCRIPT=restore-cassandra-node
RERUN_HINT='run the restore again'
INTERRUPT_HINT='run the restore again (loading the same SSTables twice is harmless)'
RUN_DIR=''
CREATED_STAGING=''
# cleanup_hook <rc>: run by the EXIT trap.
cleanup_hook() {
  if [[ -n $RUN_DIR ]]; then rm -rf -- "$RUN_DIR"; fi
  if [[ -n $CREATED_STAGING ]]; then rmdir -- "$CREATED_STAGING" 2>/dev/null; fi
}
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
    nodetool | sstableloader) printf 'Cassandra (put its bin directory, e.g. /opt/cassandra/bin, on PATH)' ;;
    aws) printf 'the AWS CLI (Debian/Ubuntu package awscli, or AWS CLI v2)' ;;
    sha256sum | df | stat) printf 'the coreutils package' ;;
    xargs | find) printf 'the findutils package' ;;
    *) printf 'the package that provides it' ;;
  esac
}

# --- inputs ------------------------------------------------------------------------------------
VAULT_BUCKET=${SSM_vaultBucket-}
SSTABLE_PREFIX=${SSM_sstablePrefix-}
SOURCE_HOST_ID=${SSM_sourceHostId-}
FILES_KEY=${SSM_filesKey-}
KEYSPACES_PARAM=${SSM_keyspaces-}
MODE=${SSM_mode-}
LOAD_TARGETS=${SSM_loadTargets-}
STAGING_DIR=${SSM_stagingDir-}
DATA_DIR=${SSM_dataDir:-/mnt/cassandra/data}
DRY_RUN=${SSM_dryRun-}
READ_FROM=${SSM_readFrom:-vault}
check_rule vaultBucket "$VAULT_BUCKET" BUCKET_NAME
check_rule sstablePrefix "$SSTABLE_PREFIX" VAULT_PREFIX
check_rule sourceHostId "$SOURCE_HOST_ID" HOST_ID
check_rule filesKey "$FILES_KEY" VAULT_KEY
check_rule keyspaces "$KEYSPACES_PARAM" KEYSPACE_LIST
check_rule mode "$MODE" RESTORE_MODE
check_rule dataDir "$DATA_DIR" ABSOLUTE_PATH
check_rule loadTargets "$LOAD_TARGETS" ADDRESS_LIST
check_rule stagingDir "$STAGING_DIR" ABSOLUTE_PATH
check_rule dryRun "$DRY_RUN" BOOLEAN
check_rule readFrom "$READ_FROM" BACKUP_SOURCE
while [[ $STAGING_DIR == */ && $STAGING_DIR != / ]]; do STAGING_DIR=${STAGING_DIR%/}; done
if [[ $STAGING_DIR == / ]]; then
  fail "parameter stagingDir is invalid: '/'" "set SSM_stagingDir to a folder for temporary files, e.g. /var/tmp/wire-backup-restore"
fi
LOAD_TARGET_LIST=()
if [[ $MODE == load ]]; then
  IFS=, read -r -a LOAD_TARGET_LIST <<<"$LOAD_TARGETS"
  if ((${#LOAD_TARGET_LIST[@]} == 0)) || [[ $LOAD_TARGETS == ,* || $LOAD_TARGETS == *, || $LOAD_TARGETS == *,,* ]]; then
    fail "parameter loadTargets is empty or has an empty entry: $(shown "$LOAD_TARGETS")" \
      "set SSM_loadTargets to the addresses of one or more nodes of the target cluster, e.g. 10.0.0.11,10.0.0.12"
  fi
fi

if [[ -d /opt/cassandra/bin ]]; then PATH="$PATH:/opt/cassandra/bin"; fi
TOOLS=(aws sha256sum xargs find df stat)
if [[ $MODE == load ]]; then TOOLS+=(sstableloader); else TOOLS+=(nodetool); fi
for tool in "${TOOLS[@]}"; do
  if ! command -v -- "$tool" >/dev/null; then
    fail "required tool '$tool' is not installed or not on PATH" "install $(package_of "$tool")"
  fi
done
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wire-backup-restore-node.XXXXXX")
# How this node loads its own files is taken from the version it reports, never assumed: `nodetool import`
# exists from Cassandra 4.0 on; 3.x loads files placed in the live table folder with `nodetool refresh`.
NODE_VERSION=''
if [[ $MODE != load ]]; then
  if ! nodetool version >"$WORK_DIR/version.out" 2>&1; then
    tail_of "$WORK_DIR/version.out" nodetool
    fail "'nodetool version' failed" "check that Cassandra is running on $HOST and JMX is reachable"
  fi
  NODE_VERSION=$(awk -F': *' '/^ReleaseVersion/ { print $2; exit }' "$WORK_DIR/version.out")
  if ! [[ $NODE_VERSION =~ ^([0-9]+)\.[0-9]+ ]]; then
    tail_of "$WORK_DIR/version.out" nodetool
    fail "'nodetool version' printed no ReleaseVersion" "check that the nodetool on PATH belongs to this node's Cassandra"
  fi
  if [[ $MODE == import ]] && ((BASH_REMATCH[1] < 4)); then
    log "Cassandra $NODE_VERSION has no 'nodetool import': loading with 'nodetool refresh' from the live table folders"
    MODE=refresh
  fi
  if [[ $MODE == refresh && ! -d $DATA_DIR ]]; then
    fail "Cassandra data directory $DATA_DIR does not exist" "set dataDir to the data_file_directories entry of this node's cassandra.yaml"
  fi
fi
PREFIX=${SSTABLE_PREFIX%/}
STARTED=$SECONDS
log "restore of node $SOURCE_HOST_ID ($PREFIX) by $MODE${LOAD_TARGETS:+ to $LOAD_TARGETS}, keyspaces ${KEYSPACES_PARAM:-(all in files.tsv)}, dryRun $DRY_RUN"

# --- 1. the file list --------------------------------------------------------------------------
if ! aws s3 cp --only-show-errors "s3://$VAULT_BUCKET/$FILES_KEY" "$WORK_DIR/files.tsv" >"$WORK_DIR/get.out" 2>&1; then
  tail_of "$WORK_DIR/get.out" aws
  fail "download of s3://$VAULT_BUCKET/$FILES_KEY failed" \
    "check the node's files key (its manifest names it) and that this host can read the vault"
fi
# plan.tsv: keyspace, table dir, table, path in the table dir, size, sha256, versionId.
if ! awk -F'\t' -v OFS='\t' '
  /^[ \t]*$/ || /^#/ { next }
  {
    bad = ""
    if (NF < 4) bad = "fewer than 4 fields"
    else if ($1 !~ /^[A-Za-z0-9._+=\/-]+$/ || ("/" $1 "/") ~ /\/\.?\.?\// ) bad = "bad path"
    else if ($2 !~ /^[0-9]+$/) bad = "bad size"
    else if ($3 !~ /^[0-9a-f]+$/ || length($3) != 64) bad = "bad sha256"
    else if ($4 !~ /^[A-Za-z0-9._+\/=-]+$/) bad = "bad version id"
    if (bad == "") {
      n = split($1, p, "/")
      if (n < 3) bad = "path has no keyspace/table/file"
      else if (p[1] !~ /^[A-Za-z][A-Za-z0-9_]*$/ || p[2] !~ /^[A-Za-z0-9_]+(-[0-9a-f]+)?$/) bad = "bad keyspace or table folder"
    }
    if (bad != "") { printf "line %d: %s: %s\n", NR, bad, substr($0, 1, 200) > "/dev/stderr"; exit 1 }
    table = p[2]; sub(/-[0-9a-f]+$/, "", table)
    rest = substr($1, length(p[1]) + length(p[2]) + 3)
    print p[1], p[2], table, rest, $2, $3, $4
  }' "$WORK_DIR/files.tsv" >"$WORK_DIR/all.tsv" 2>"$WORK_DIR/parse.err"; then
  tail_of "$WORK_DIR/parse.err" files.tsv
  fail "s3://$VAULT_BUCKET/$FILES_KEY is not a valid files.tsv" "check the key: it must be a node's files.tsv written by wire-backup"
fi
ALL_KEYSPACES=()
while IFS= read -r ks; do ALL_KEYSPACES+=("$ks"); done < <(cut -f1 "$WORK_DIR/all.tsv" | sort -u)
KEYSPACES=()
declare -A SELECTED=()
if [[ -z $KEYSPACES_PARAM ]]; then
  for ks in "${ALL_KEYSPACES[@]}"; do
    if [[ $SYSTEM_KEYSPACES == *" $ks "* ]]; then continue; fi
    KEYSPACES+=("$ks")
    SELECTED[$ks]=1
  done
else
  IFS=, read -r -a REQUESTED <<<"$KEYSPACES_PARAM"
  for ks in "${REQUESTED[@]}"; do
    if [[ -z $ks || -n ${SELECTED[$ks]-} ]]; then continue; fi
    if ! printf '%s\n' "${ALL_KEYSPACES[@]}" | grep -qxF -- "$ks"; then
      fail "keyspace '$ks' is not in the node's backup (s3://$VAULT_BUCKET/$FILES_KEY)" \
        "remove it from the keyspaces list; this backup holds: ${ALL_KEYSPACES[*]:-nothing}"
    fi
    KEYSPACES+=("$ks")
    SELECTED[$ks]=1
  done
fi
if ((${#KEYSPACES[@]} == 0)); then
  fail "the node's backup holds no non-system keyspace" "check the files key, or name the keyspaces to restore"
fi
# Keep the selected keyspaces' files; a snapshot's manifest.json and schema.cql are not SSTable files.
awk -F'\t' -v list=" ${KEYSPACES[*]} " 'index(list, " " $1 " ")' "$WORK_DIR/all.tsv" >"$WORK_DIR/selected.tsv"
awk -F'\t' '$4 != "manifest.json" && $4 != "schema.cql"' "$WORK_DIR/selected.tsv" >"$WORK_DIR/plan.tsv"
DUPLICATE=$(cut -f1-3 "$WORK_DIR/selected.tsv" | sort -u | awk -F'\t' 'seen[$1 "." $3]++ { print $1 "." $3; exit }')
if [[ -n $DUPLICATE ]]; then
  fail "files.tsv holds two table folders for table $DUPLICATE" "restore that keyspace by hand, or leave it out of the keyspaces list"
fi
# tables.tsv: keyspace, table dir, table, files, bytes, SSTables (Data.db files outside index folders); a
# table whose snapshot held no SSTable (an empty table) has 0 of each.
awk -F'\t' -v OFS='\t' '{ k = $1 "\t" $2 "\t" $3; if (!(k in n)) { o[++m] = k; n[k] = 0 } }
  $4 != "manifest.json" && $4 != "schema.cql" { n[k]++; b[k] += $5; if ($4 ~ /^[^\/]*-Data\.db$/) d[k]++ }
  END { for (i = 1; i <= m; i++) print o[i], n[o[i]], sprintf("%.0f", b[o[i]]), d[o[i]] + 0 }' "$WORK_DIR/selected.tsv" >"$WORK_DIR/tables.tsv"
read -r FILES BYTES < <(awk -F'\t' '{ n++; b += $5 } END { printf "%d %.0f\n", n, b }' "$WORK_DIR/plan.tsv")
TABLE_COUNT=$(wc -l <"$WORK_DIR/tables.tsv")
log "keyspaces ${KEYSPACES[*]}: $TABLE_COUNT table(s), $FILES file(s), $(human "$BYTES")"

# --- 2. refusals -------------------------------------------------------------------------------
LOADABLE=()
while IFS=$'\t' read -r ks _ table _ _ sstables; do
  if ((sstables > 0)); then LOADABLE+=("$ks.$table"); fi
done <"$WORK_DIR/tables.tsv"
if ((${#LOADABLE[@]} > 0)); then
  if [[ $MODE != load ]]; then
    if ! nodetool tablestats -- "${LOADABLE[@]}" >"$WORK_DIR/tablestats.out" 2>&1; then
      tail_of "$WORK_DIR/tablestats.out" nodetool
      fail "not every table to import exists on this node (see nodetool's message above)" \
        "restore the schema first (restore-cassandra-schema), check that Cassandra runs on $HOST, and run the restore again"
    fi
  elif command -v cqlsh >/dev/null; then
    checked=''
    for target in "${LOAD_TARGET_LIST[@]}"; do
      if CQLSH_HOST=$target cqlsh --connect-timeout=20 --request-timeout=60 \
        -e 'SELECT keyspace_name, table_name FROM system_schema.tables' >"$WORK_DIR/tables.out" 2>&1; then
        checked=$target
        break
      fi
    done
    if [[ -n $checked ]]; then
      awk '/^-+(\+-+)*$/ { body = 1; next } body && /^[ \t]*$/ { body = 0 }
        body { gsub(/[ \t]+\|[ \t]+/, "."); gsub(/^[ \t]+|[ \t]+$/, ""); print }' "$WORK_DIR/tables.out" >"$WORK_DIR/target-tables.txt"
      ABSENT=$(printf '%s\n' "${LOADABLE[@]}" | grep -vxF -f "$WORK_DIR/target-tables.txt" | head -n 10 | tr '\n' ' ' || true)
      if [[ -n $ABSENT ]]; then
        fail "tables missing in the target cluster ($checked): $ABSENT" \
          "restore the schema on the target cluster first (restore-cassandra-schema) and run the restore again"
      fi
    else
      tail_of "$WORK_DIR/tables.out" cqlsh
      log "WARNING: cannot check the target tables with cqlsh; sstableloader's output is checked instead"
    fi
  fi
fi
existing=$STAGING_DIR
while [[ ! -e $existing ]]; do existing=$(dirname -- "$existing"); done
if [[ ! -d $existing || ! -w $existing ]]; then
  fail "cannot create the staging folder $STAGING_DIR ($existing is not a writable folder)" \
    "set stagingDir to a folder on a filesystem with room for $(human "$BYTES"), writable by the SSM command's user"
fi
AVAILABLE=$(free_bytes "$existing")
NEEDED=$((BYTES + BYTES / 20 + 64 * 1024 * 1024))
if ((AVAILABLE < NEEDED)); then
  fail "not enough room to stage the files: $(human "$BYTES") needed, $(human "$AVAILABLE") free in $existing" \
    "free space there or set stagingDir to a filesystem with more room"
fi

# --- 3. download and verify --------------------------------------------------------------------
if [[ ! -d $STAGING_DIR ]]; then
  # Traversable by the Cassandra daemon's user (nodetool import reads from here), not listable.
  (umask 022 && mkdir -p -- "$STAGING_DIR")
  chmod 0711 -- "$STAGING_DIR"
  CREATED_STAGING=$STAGING_DIR
fi
RUN_DIR=$(mktemp -d "$STAGING_DIR/run-$(date -u +%Y%m%dT%H%M%SZ).XXXXXX")
log "staging in $RUN_DIR"
download_started=$SECONDS
# The archive keeps each file at its content address (no folder per table to copy in bulk): every file
# is fetched one by one below, by the address of the SHA-256 files.tsv records.
if [[ $READ_FROM == archive ]]; then KEYSPACES_TO_COPY=(); else KEYSPACES_TO_COPY=("${KEYSPACES[@]}"); fi
for ks in "${KEYSPACES_TO_COPY[@]}"; do
  # One include pattern per SSTable (`<table dir>/[.<index>/]<version>-<id>-<format>-*`), the exact path
  # for any other file: the CLI matches every listed key against every pattern, so fewer patterns keep
  # it fast. Names in files.tsv hold none of the * ? [ wildcards. A stray file the patterns also match is
  # removed below.
  count=$(awk -F'\t' -v ks="$ks" '$1 == ks { n++ } END { print n + 0 }' "$WORK_DIR/plan.tsv")
  if ((count == 0)); then continue; fi
  awk -F'\t' -v ks="$ks" '$1 != ks { next }
    { n = split($4, part, "/"); base = part[n]; dir = substr($4, 1, length($4) - length(base))
      pattern = $2 "/" $4
      if (match(base, /^[a-z]+-[^-]+-[a-z]+-/)) pattern = $2 "/" dir substr(base, 1, RLENGTH) "*"
      if (!(pattern in seen)) { seen[pattern] = 1; print pattern } }' "$WORK_DIR/plan.tsv" >"$WORK_DIR/includes.txt"
  split -l 2000 -d -a 4 -- "$WORK_DIR/includes.txt" "$WORK_DIR/includes."
  for chunk in "$WORK_DIR"/includes.[0-9]*; do
    args=()
    while IFS= read -r path; do args+=(--include "$path"); done <"$chunk"
    rm -f -- "$chunk"
    if ! aws s3 cp --recursive --only-show-errors "s3://$VAULT_BUCKET/$PREFIX/$ks/" "$RUN_DIR/$ks/" --exclude '*' "${args[@]}" \
      >"$WORK_DIR/cp.out" 2>&1; then
      tail_of "$WORK_DIR/cp.out" aws
      log "WARNING: the bulk download of keyspace $ks reported errors; the files it missed are fetched one by one"
    fi
  done
  log "keyspace $ks: bulk download of $count file(s) done ($((SECONDS - download_started)) s so far)"
done
# Table folders lose their id suffix: sstableloader takes keyspace and table from the last two names.
while IFS=$'\t' read -r ks dir table _; do
  if [[ $dir != "$table" && -d $RUN_DIR/$ks/$dir ]]; then mv -T -- "$RUN_DIR/$ks/$dir" "$RUN_DIR/$ks/$table"; fi
  mkdir -p -- "$RUN_DIR/$ks/$table"
done <"$WORK_DIR/tables.tsv"
# expected.tsv: local path, size, sha256, vault key, versionId, relpath.
# The key is the vault's (prefix/relpath) or, from the archive, the content address (prefix/<ab>/<sha256>,
# as vault-layout.ts archiveObjectKey names it).
awk -F'\t' -v OFS='\t' -v run="$RUN_DIR" -v prefix="$PREFIX" -v archive="$([[ $READ_FROM == archive ]] && echo 1)" \
  '{ key = archive ? prefix "/" substr($6, 1, 2) "/" $6 : prefix "/" $1 "/" $2 "/" $4
     print run "/" $1 "/" $3 "/" $4, $5, $6, key, $7, $1 "/" $2 "/" $4 }' \
  "$WORK_DIR/plan.tsv" >"$WORK_DIR/expected.tsv"
# verify <expected.tsv> <bad.tsv>: the lines of files that are missing or differ in size or SHA-256, with
# what was found as a 7th field.
verify() {
  find "$RUN_DIR" -type f -printf '%p\t%s\n' >"$WORK_DIR/found.tsv"
  awk -F'\t' 'FILENAME == ARGV[1] { size[$1] = $2; next } ($1 in size) && size[$1] == $2 { print $1 }' \
    "$WORK_DIR/found.tsv" "$1" >"$WORK_DIR/present.txt"
  : >"$WORK_DIR/hashes.txt"
  if [[ -s $WORK_DIR/present.txt ]]; then
    xargs -r -d '\n' -P "$(nproc 2>/dev/null || echo 2)" -n 32 sha256sum -- <"$WORK_DIR/present.txt" >"$WORK_DIR/hashes.txt"
  fi
  awk -F'\t' -v OFS='\t' 'FILENAME == ARGV[1] { got[substr($0, 67)] = substr($0, 1, 64); next }
    !($1 in got) { print $0, "missing or of another size"; next }
    got[$1] != $3 { print $0, "SHA-256 " got[$1] }' "$WORK_DIR/hashes.txt" "$1" >"$2"
}
# The staging folder must hold exactly the listed files: a component of an older SSTable that reused a
# generation number would otherwise be loaded with the new one.
find "$RUN_DIR" -type f -printf '%p\n' |
  awk -F'\t' 'FILENAME == ARGV[1] { want[$1] = 1; next } !($0 in want)' "$WORK_DIR/expected.tsv" - >"$WORK_DIR/extra.txt"
if [[ -s $WORK_DIR/extra.txt ]]; then
  xargs -r -d '\n' rm -f -- <"$WORK_DIR/extra.txt"
  log "removed $(wc -l <"$WORK_DIR/extra.txt") downloaded file(s) that files.tsv does not list"
fi
verify "$WORK_DIR/expected.tsv" "$WORK_DIR/bad.tsv"
REFETCH=$(wc -l <"$WORK_DIR/bad.tsv")
if ((REFETCH > 0)); then
  if [[ $READ_FROM == archive ]]; then
    log "fetching $REFETCH file(s) from the archive by their content address"
    # shellcheck disable=SC2016 # the sh -c script expands its own arguments
    awk -F'\t' '{ print $4; print $1 }' "$WORK_DIR/bad.tsv" |
      xargs -r -d '\n' -n 2 -P 8 sh -c 'mkdir -p -- "$(dirname -- "$2")" && aws s3api get-object --bucket "$0" --key "$1" "$2" >/dev/null' \
        "$VAULT_BUCKET" 2>"$WORK_DIR/refetch.err" || tail_of "$WORK_DIR/refetch.err" aws
  else
    log "$REFETCH file(s) differ from the latest object at their key: fetching their exact versions"
    # shellcheck disable=SC2016 # the sh -c script expands its own arguments
    awk -F'\t' '{ print $4; print $5; print $1 }' "$WORK_DIR/bad.tsv" |
      xargs -r -d '\n' -n 3 -P 8 sh -c 'mkdir -p -- "$(dirname -- "$3")" && aws s3api get-object --bucket "$0" --key "$1" --version-id "$2" "$3" >/dev/null' \
        "$VAULT_BUCKET" 2>"$WORK_DIR/refetch.err" || tail_of "$WORK_DIR/refetch.err" aws
  fi
  cut -f1-6 "$WORK_DIR/bad.tsv" >"$WORK_DIR/again.tsv"
  verify "$WORK_DIR/again.tsv" "$WORK_DIR/bad.tsv"
fi
if [[ -s $WORK_DIR/bad.tsv ]]; then
  awk -F'\t' '{ printf "  bad file: %s (version %s): expected %s bytes, SHA-256 %s; found %s\n", $6, $5, $2, $3, $7 }' \
    "$WORK_DIR/bad.tsv" | head -n 20 >&2
  fail "$(wc -l <"$WORK_DIR/bad.tsv") file(s) of the backup do not match files.tsv, e.g. $(head -n 1 "$WORK_DIR/bad.tsv" | cut -f6) (version $(head -n 1 "$WORK_DIR/bad.tsv" | cut -f5)); nothing was loaded" \
    "the vault copy is damaged or missing: restore this node from another backup (and run a deep-verified backup soon)"
fi
log "downloaded and verified $FILES file(s), $(human "$BYTES"), in $((SECONDS - download_started)) s ($REFETCH fetched by version)"

keyspaces_json=$(for ks in "${KEYSPACES[@]}"; do printf '%s,' "$(json_str "$ks")"; done)
keyspaces_json=${keyspaces_json%,}
VERSION_JSON=null
if [[ -n $NODE_VERSION ]]; then VERSION_JSON=$(json_str "$NODE_VERSION"); fi
EMPTY_TABLES=$((TABLE_COUNT - ${#LOADABLE[@]}))
if [[ $DRY_RUN == true ]]; then
  printf 'WIRE_BACKUP_RESULT {"tables":%s,"files":%s,"bytes":%s,"mode":"%s","keyspaces":[%s],"emptyTables":%s,"dryRun":true,"cassandraVersion":%s}\n' \
    "${#LOADABLE[@]}" "$FILES" "$BYTES" "$MODE" "$keyspaces_json" "$EMPTY_TABLES" "$VERSION_JSON" >&3
  log "dry run: every file of the backup is in the vault and intact; nothing was loaded"
  exit 0
fi

# --- 4. load -----------------------------------------------------------------------------------
# live_table_dir <keyspace> <table>: the folder of the table as it exists now (`<dataDir>/<ks>/<table>-<id>`).
# A dropped and re-created table leaves older folders beside it: then the id comes from system_schema.
live_table_dir() {
  local ks=$1 table=$2 dirs=() id
  for d in "$DATA_DIR/$ks/$table"-*; do
    if [[ -d $d && ${d##*/} =~ ^${table}-[0-9a-f]{32}$ ]]; then dirs+=("$d"); fi
  done
  if ((${#dirs[@]} == 1)); then printf '%s' "${dirs[0]}"; return 0; fi
  if ((${#dirs[@]} > 1)) && command -v cqlsh >/dev/null &&
    cqlsh -e "SELECT id FROM system_schema.tables WHERE keyspace_name = '$ks' AND table_name = '$table'" >"$WORK_DIR/id.out" 2>&1; then
    id=$(grep -oE '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' "$WORK_DIR/id.out" | head -n 1 | tr -d -)
    if [[ -n $id && -d $DATA_DIR/$ks/$table-$id ]]; then printf '%s' "$DATA_DIR/$ks/$table-$id"; return 0; fi
  fi
  return 1
}
# place_in_live_table <keyspace> <table> <staged dir>: moves the staged SSTables into the live table folder
# (sets LIVE_DIR). Sequential generations (`md-5-big-…`, `nb-5-big-…`) get numbers far above every one in
# the folder, so no live file is overwritten and a flush running meanwhile cannot take the same number;
# refresh then renames them into the table's own sequence. UUID identifiers (5.0) are unique already.
place_in_live_table() {
  local ks=$1 table=$2 staged=$3 max base
  if ! LIVE_DIR=$(live_table_dir "$ks" "$table"); then
    fail "no live table folder for $ks.$table under $DATA_DIR/$ks (or several, and cqlsh could not tell which is current)" \
      "restore the schema first (restore-cassandra-schema) and check dataDir ($DATA_DIR) is this node's data_file_directories entry"
  fi
  max=$(find "$LIVE_DIR" -maxdepth 1 -type f -name '*-Data.db' -printf '%f\n' |
    awk -F- '$2 ~ /^[0-9]+$/ && $2 + 0 > m { m = $2 + 0 } END { print m + 0 }')
  base=$((max + 1000000))
  # rename.tsv: staged path, path in the live folder.
  find "$staged" -type f -printf '%P\n' | awk -F'\t' -v OFS='\t' -v src="$staged" -v dst="$LIVE_DIR" -v base="$base" '{
      n = split($0, part, "/"); name = part[n]; dir = substr($0, 1, length($0) - length(name))
      if (match(name, /^[a-z]+-[0-9]+-[a-z]+-/)) {
        split(name, f, "-"); rest = substr(name, length(f[1]) + length(f[2]) + 3)
        name = f[1] "-" (base + f[2]) "-" rest
      }
      print src "/" $0, dst "/" dir name
    }' >"$WORK_DIR/rename.tsv"
  while IFS=$'\t' read -r from to; do
    if [[ -e $to ]]; then
      fail "$to already exists in the live table folder of $ks.$table; nothing of this table was moved" \
        "this SSTable is already loaded on $HOST: leave $ks out of the keyspaces, or restore into a fresh cluster"
    fi
  done <"$WORK_DIR/rename.tsv"
  local owner
  owner=$(stat -c %u -- "$LIVE_DIR")
  while IFS=$'\t' read -r from to; do
    mkdir -p -- "$(dirname -- "$to")"
    mv -- "$from" "$to"
    if [[ $(id -u) == 0 && $owner != 0 ]]; then chown -- "$owner" "$to"; fi
  done <"$WORK_DIR/rename.tsv"
  log "$ks.$table: $(wc -l <"$WORK_DIR/rename.tsv") file(s) placed in $LIVE_DIR"
}
if [[ $MODE != load && $(id -u) == 0 ]]; then
  # The daemon reads and moves the staged files: hand them to the user Cassandra runs as.
  mapfile -t OWNERS < <(ps -eo uid=,args= | awk '/org\.apache\.cassandra\.service\.CassandraDaemon/ && !/awk/ { print $1 }' | sort -u)
  if ((${#OWNERS[@]} == 1)) && [[ ${OWNERS[0]} != 0 ]]; then
    chown -R -- "${OWNERS[0]}" "$RUN_DIR"
    log "staged files handed to uid ${OWNERS[0]} (the Cassandra daemon)"
  elif ((${#OWNERS[@]} > 1)); then
    log "WARNING: Cassandra daemons of several users run here (uids ${OWNERS[*]}); the staged files stay owned by root"
  fi
fi
done_tables=0
i=0
while IFS=$'\t' read -r ks _ table files bytes sstables; do
  i=$((i + 1))
  dir="$RUN_DIR/$ks/$table"
  if ((sstables == 0)); then
    log "table $i/$TABLE_COUNT $ks.$table: no SSTable in the backup (empty table), skipped"
    continue
  fi
  t0=$SECONDS
  if [[ $MODE == refresh ]]; then
    log "table $i/$TABLE_COUNT $ks.$table: nodetool refresh of $sstables SSTable(s), $files file(s), $(human "$bytes")"
    place_in_live_table "$ks" "$table" "$dir"
    if ! nodetool refresh -- "$ks" "$table" >"$WORK_DIR/load.out" 2>&1; then
      tail_of "$WORK_DIR/load.out" nodetool
      fail "nodetool refresh of $ks.$table failed ($done_tables of ${#LOADABLE[@]} table(s) were restored before it; its files are in $LIVE_DIR)" \
        "read Cassandra's system.log on $HOST for the cause, fix it and run 'nodetool refresh $ks $table' (or the restore) again"
    fi
  elif [[ $MODE == import ]]; then
    log "table $i/$TABLE_COUNT $ks.$table: nodetool import of $sstables SSTable(s), $files file(s), $(human "$bytes")"
    if ! nodetool import -- "$ks" "$table" "$dir" >"$WORK_DIR/load.out" 2>&1; then
      tail_of "$WORK_DIR/load.out" nodetool
      fail "nodetool import of $ks.$table failed ($done_tables of ${#LOADABLE[@]} table(s) were restored before it)" \
        "read Cassandra's system.log on $HOST for the cause (a table of another schema, tokens this node does not own: use mode load), fix it and run the restore again: importing the same SSTables again is harmless"
    fi
  else
    log "table $i/$TABLE_COUNT $ks.$table: sstableloader of $sstables SSTable(s), $files file(s), $(human "$bytes") to $LOAD_TARGETS"
    if ! sstableloader --no-progress -d "$LOAD_TARGETS" "$dir" >"$WORK_DIR/load.out" 2>&1; then
      tail_of "$WORK_DIR/load.out" sstableloader
      fail "sstableloader of $ks.$table failed ($done_tables of ${#LOADABLE[@]} table(s) were restored before it)" \
        "check that the load targets are up and reachable on the native and storage ports, and run the restore again: loading the same SSTables again is harmless"
    fi
    # sstableloader skips the files of a table the target cluster lacks, and still exits 0.
    if grep -q "^Skipping file" "$WORK_DIR/load.out"; then
      tail_of "$WORK_DIR/load.out" sstableloader
      fail "sstableloader skipped the files of $ks.$table ($done_tables of ${#LOADABLE[@]} table(s) were restored before it)" \
        "restore the schema on the target cluster first (restore-cassandra-schema) and run the restore again"
    fi
  fi
  done_tables=$((done_tables + 1))
  log "table $i/$TABLE_COUNT $ks.$table: done in $((SECONDS - t0)) s"
  rm -rf -- "$dir"
done <"$WORK_DIR/tables.tsv"

printf 'WIRE_BACKUP_RESULT {"tables":%s,"files":%s,"bytes":%s,"mode":"%s","keyspaces":[%s],"emptyTables":%s,"dryRun":false,"cassandraVersion":%s}\n' \
  "$done_tables" "$FILES" "$BYTES" "$MODE" "$keyspaces_json" "$EMPTY_TABLES" "$VERSION_JSON" >&3
log "done in $((SECONDS - STARTED)) s: $done_tables table(s) of ${KEYSPACES[*]} restored by $MODE ($FILES file(s), $(human "$BYTES")); check row counts, then run 'nodetool repair' when the cluster has several replicas"

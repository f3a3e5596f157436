#!/usr/bin/env bash
# wire-backup host script: restore the wire-server deployment folder from its archive in the vault.
#
# Run by SSM Run Command on the wire-server deploy host (document parameter `fooBar` arrives as the
# environment variable SSM_fooBar). Steps:
#   1. refuse when targetPath exists, is not empty and overwrite is false (nothing is downloaded);
#   2. download that exact version of the archive (`aws s3api get-object --version-id`) to a temp file;
#   3. check its SHA-256 against the one the backup recorded, that it is a gzip'd TAR, and that it holds
#      one root folder and nothing outside it (wire-server-archive.sh writes `<basename of the folder>/…`);
#   4. unless dryRun: extract it into a temp folder next to targetPath, move an existing targetPath aside to
#      `<targetPath>.before-restore-<UTC timestamp>`, and rename the extracted root folder to targetPath
#      (its basename may differ from the archive's root entry). Owners and modes come from the archive
#      when run as root. Refused in step 3, before anything is written: device nodes, FIFOs, sockets,
#      setuid/setgid files, entries below a symbolic link of the archive, hard links leaving the root
#      folder (as are absolute names, `..` segments and entries beside the root folder).
# Until step 4 nothing on the host is changed; dryRun stops after step 3.
#
# Parameters (environment): SSM_vaultBucket, SSM_archiveKey, SSM_versionId (the vault version id, `null`
#   for an object written before versioning), SSM_readFrom (vault|archive; archive: the archive bucket's
#   content-addressed copy, fetched without a version id), SSM_sha256, SSM_targetPath, SSM_overwrite (true|false),
#   SSM_dryRun (true|false), SSM_restoreOwnership (true|false; unset = false: the restoring user owns
#   the files, not the uids/gids the archive records).
# Output: log lines on stderr; one stdout line `WIRE_BACKUP_RESULT {"targetPath","previousMovedTo","files",
#   "bytes","sha256","rootEntry","dryRun"}` (files = regular files in the archive, bytes = archive size,
#   previousMovedTo = null when nothing was moved aside). On failure: exit non-zero, last stderr line
#   `wire-backup: <host>: <what failed> — <how to fix>`.
set -euo pipefail

readonly SCRIPT=restore-wire-server
RERUN_HINT='run the restore again'
INTERRUPT_HINT='check targetPath and run the restore again'
EXTRACT_DIR=''
# cleanup_hook <rc>: run by the EXIT trap.
cleanup_hook() {
  if [[ -n $EXTRACT_DIR ]]; then rm -rf -- "$EXTRACT_DIR"; fi
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
    aws) printf 'the AWS CLI (Debian/Ubuntu package awscli, or AWS CLI v2)' ;;
    sha256sum | stat | mktemp) printf 'the coreutils package' ;;
    tar) printf 'the tar package' ;;
    gzip) printf 'the gzip package' ;;
    *) printf 'the package that provides it' ;;
  esac
}

# --- inputs ------------------------------------------------------------------------------------
VAULT_BUCKET=${SSM_vaultBucket-}
ARCHIVE_KEY=${SSM_archiveKey-}
VERSION_ID=${SSM_versionId-}
EXPECTED_SHA=${SSM_sha256-}
TARGET_PATH=${SSM_targetPath-}
OVERWRITE=${SSM_overwrite-}
DRY_RUN=${SSM_dryRun-}
RESTORE_OWNERSHIP=${SSM_restoreOwnership-false}
READ_FROM=${SSM_readFrom:-vault}
check_rule vaultBucket "$VAULT_BUCKET" BUCKET_NAME
check_rule archiveKey "$ARCHIVE_KEY" VAULT_KEY
# S3 version ids are opaque, URL-ready strings of up to 1024 bytes (AWS documents one with '+').
check_rule versionId "$VERSION_ID" VERSION_ID
check_rule sha256 "$EXPECTED_SHA" SHA256
check_rule targetPath "$TARGET_PATH" RESTORE_TARGET_PATH
check_rule overwrite "$OVERWRITE" BOOLEAN
check_rule dryRun "$DRY_RUN" BOOLEAN
check_rule restoreOwnership "$RESTORE_OWNERSHIP" BOOLEAN
check_rule readFrom "$READ_FROM" BACKUP_SOURCE

# Normalise repeated slashes, single-dot segments and trailing slashes so that dirname/basename name the
# folder itself and `//etc/./` is seen as /etc.
TARGET=$TARGET_PATH
while [[ $TARGET == *//* ]]; do TARGET=${TARGET//\/\//\/}; done
while [[ $TARGET == */./* ]]; do TARGET=${TARGET//\/.\//\/}; done
while [[ $TARGET == */ && $TARGET != / ]]; do TARGET=${TARGET%/}; done
while [[ $TARGET == */. ]]; do TARGET=${TARGET%/.}; done
if [[ -z $TARGET ]]; then TARGET=/; fi
PARENT=$(dirname -- "$TARGET")
TARGET_NAME=$(basename -- "$TARGET")
if [[ $TARGET == / || -z $TARGET_NAME || $TARGET_NAME == . ]]; then
  fail "parameter targetPath is invalid: $(shown "$TARGET_PATH") is not a folder below /" \
    "set SSM_targetPath to the wire-server deployment folder"
fi

for tool in aws tar gzip sha256sum stat mktemp; do
  if ! command -v -- "$tool" >/dev/null; then
    fail "required tool '$tool' is not installed or not on PATH" "install $(package_of "$tool")"
  fi
done

# --- 1. refusals -------------------------------------------------------------------------------
TARGET_STATE=absent
if [[ -L $TARGET ]]; then
  fail "$TARGET is a symbolic link" "set targetPath to the real folder the link points to ($(shown "$(readlink -- "$TARGET")"))"
elif [[ -e $TARGET ]]; then
  if [[ ! -d $TARGET ]]; then
    fail "$TARGET exists and is not a folder" "move it away or choose another targetPath"
  fi
  if [[ ! -r $TARGET || ! -x $TARGET ]] || ! first_entry=$(find "$TARGET" -mindepth 1 -maxdepth 1 -print -quit); then
    fail "cannot list $TARGET" "run the SSM command as root or as the folder's owner"
  fi
  if [[ -n $first_entry ]]; then
    TARGET_STATE=nonEmpty
    if [[ $OVERWRITE != true ]]; then
      refuse "$TARGET exists and is not empty; refusing to replace it without overwrite" \
        "restore into another targetPath, or set overwrite to true (the current folder is then kept as $TARGET.before-restore-<UTC timestamp>)"
    fi
  else
    TARGET_STATE=empty
  fi
fi
# The nearest existing ancestor of the target must let us create the folder (and the folder aside).
ancestor=$PARENT
while [[ ! -e $ancestor ]]; do ancestor=$(dirname -- "$ancestor"); done
if [[ ! -d $ancestor || ! -w $ancestor || ! -x $ancestor ]]; then
  fail "cannot write in $ancestor (to create or replace $TARGET)" "run the SSM command as root or choose a targetPath in a writable folder"
fi
log "restore of s3://$VAULT_BUCKET/$ARCHIVE_KEY (version $VERSION_ID) into $TARGET (currently ${TARGET_STATE}, overwrite $OVERWRITE, dryRun $DRY_RUN)"

# --- 2. download -------------------------------------------------------------------------------
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wire-backup-restore-ws.XXXXXX")
ARCHIVE="$WORK_DIR/archive.tar.gz"
started=$SECONDS
# From the archive bucket: its content-addressed copy (no vault version there; the SHA-256 below checks it).
VERSION_ARGS=(--version-id "$VERSION_ID")
if [[ $READ_FROM == archive ]]; then
  VERSION_ARGS=()
  VERSION_ID='(archive copy)'
fi
if ! aws s3api get-object --bucket "$VAULT_BUCKET" --key "$ARCHIVE_KEY" "${VERSION_ARGS[@]}" "$ARCHIVE" \
  >"$WORK_DIR/get.out" 2>&1; then
  tail_of "$WORK_DIR/get.out" aws
  fail "download of s3://$VAULT_BUCKET/$ARCHIVE_KEY version $VERSION_ID failed" \
    "check that the backup's archive key and version id are right and that this host can read the vault (aws s3api head-object --bucket $VAULT_BUCKET --key $ARCHIVE_KEY --version-id $VERSION_ID)"
fi
BYTES=$(stat -c %s -- "$ARCHIVE")
log "downloaded $BYTES bytes in $((SECONDS - started)) s"

# --- 3. checks ---------------------------------------------------------------------------------
SHA256=$(sha256sum -- "$ARCHIVE" | awk '{ print $1 }')
if [[ $SHA256 != "$EXPECTED_SHA" ]]; then
  fail "the archive s3://$VAULT_BUCKET/$ARCHIVE_KEY version $VERSION_ID has SHA-256 $SHA256, the backup recorded $EXPECTED_SHA; nothing was changed" \
    "do not use this archive: restore from another backup, or check that the version id belongs to this backup's manifest"
fi
if ! gzip -t -- "$ARCHIVE" 2>"$WORK_DIR/gzip.err"; then
  tail_of "$WORK_DIR/gzip.err" gzip
  fail "the archive is not a valid gzip file; nothing was changed" "restore from another backup"
fi
if ! tar -tzf "$ARCHIVE" >"$WORK_DIR/names.txt" 2>"$WORK_DIR/tar.err" ||
  ! tar -tvzf "$ARCHIVE" >"$WORK_DIR/verbose.txt" 2>>"$WORK_DIR/tar.err"; then
  tail_of "$WORK_DIR/tar.err" tar
  fail "the archive cannot be listed as a gzip'd TAR; nothing was changed" "restore from another backup"
fi
# One root folder; no absolute names, no '..' segments, nothing beside the root.
ROOT_ENTRY=$(awk 'NR == 1 { sub(/\/.*$/, ""); print; exit }' "$WORK_DIR/names.txt")
BAD_ENTRY=$(awk -v root="$ROOT_ENTRY" '
  { n = $0; sub(/\/+$/, "", n) }
  n != root && index(n, root "/") != 1 { print; exit }
  ("/" n "/") ~ /\/\.\.\// { print; exit }' "$WORK_DIR/names.txt")
if [[ -z $ROOT_ENTRY || $ROOT_ENTRY == . || $ROOT_ENTRY == .. || $ROOT_ENTRY == /* ]]; then
  fail "the archive has no root folder (first entry $(shown "$(head -n 1 "$WORK_DIR/names.txt")")); nothing was changed" \
    "check that this is a wire-server archive written by wire-backup"
fi
if [[ -n $BAD_ENTRY ]]; then
  fail "the archive holds $(shown "$BAD_ENTRY") outside its root folder $(shown "$ROOT_ENTRY"); nothing was changed" \
    "check that this is a wire-server archive written by wire-backup"
fi
# `tar -t` and `tar -tv` list the entries in the same order: the root folder's entry comes first.
first_name=$(head -n 1 "$WORK_DIR/names.txt")
if [[ ${first_name%/} != "$ROOT_ENTRY" || $(head -c 1 "$WORK_DIR/verbose.txt") != d ]]; then
  fail "the archive's root entry $(shown "$ROOT_ENTRY") is not a folder; nothing was changed" \
    "check that this is a wire-server archive written by wire-backup"
fi
# What tar would create as root with -p but a deployment folder never holds: device nodes, FIFOs, sockets,
# setuid/setgid files; and what would write outside the folder: an entry below a symbolic link of the
# archive, a hard link to a name outside the root folder. `tar -t` and `tar -tv` list the same entries in
# the same order (names escaped the same way), so line i of one is line i of the other.
HOSTILE=$(awk -v root="$ROOT_ENTRY" '
  NR == FNR { name[FNR] = $0; next }
  { line[FNR] = $0; n = name[FNR]; sub(/\/+$/, "", n); clean[FNR] = n; count = FNR
    if (substr($0, 1, 1) == "l") link[n] = 1 }
  function outside(t) { return t != root && index(t, root "/") != 1 || ("/" t "/") ~ /\/\.\.\// }
  END {
    for (i = 1; i <= count; i++) {
      n = clean[i]; type = substr(line[i], 1, 1); mode = substr(line[i], 1, 10)
      if (type == "c" || type == "b") { print "a device node\t" n; exit }
      if (type == "p") { print "a FIFO\t" n; exit }
      if (type == "s") { print "a socket\t" n; exit }
      if (substr(mode, 4, 1) ~ /[sS]/) { print "a setuid file\t" n; exit }
      if (substr(mode, 7, 1) ~ /[sS]/) { print "a setgid file\t" n; exit }
      for (l in link) if (index(n, l "/") == 1) { print "an entry below the symbolic link " l "\t" n; exit }
      if (type == "h") {
        at = index(line[i], " " name[i] " link to ")
        target = at ? substr(line[i], at + length(name[i]) + 10) : ""
        if (target == "" || outside(target)) { print "a hard link to " target " (outside the root folder)\t" n; exit }
      }
    }
  }' "$WORK_DIR/names.txt" "$WORK_DIR/verbose.txt")
if [[ -n $HOSTILE ]]; then
  fail "the archive holds ${HOSTILE%%$'\t'*}: $(shown "${HOSTILE#*$'\t'}"), which a wire-server folder never holds and this restore refuses to create; nothing was changed" \
    "check where this archive came from (a wire-server archive written by wire-backup holds only folders, files and links inside its root folder) and restore from another backup"
fi
FILES=$(grep -c '^-' "$WORK_DIR/verbose.txt" || true)
log "archive checked: SHA-256 $SHA256, root folder $ROOT_ENTRY, $FILES file(s), $(wc -l <"$WORK_DIR/names.txt") entries"

result() {
  printf 'WIRE_BACKUP_RESULT {"targetPath":%s,"previousMovedTo":%s,"files":%s,"bytes":%s,"sha256":"%s","rootEntry":%s,"dryRun":%s}\n' \
    "$(json_str "$TARGET")" "$1" "$FILES" "$BYTES" "$SHA256" "$(json_str "$ROOT_ENTRY")" "$DRY_RUN" >&3
}
if [[ $DRY_RUN == true ]]; then
  result null
  log "dry run: the archive is sound; $TARGET was not changed (it is $TARGET_STATE$([[ $TARGET_STATE == nonEmpty ]] && printf ' and would be moved aside'))"
  exit 0
fi

# --- 4. extract and swap -----------------------------------------------------------------------
if ! mkdir -p -- "$PARENT"; then
  fail "cannot create $PARENT" "run the SSM command as root or choose a targetPath in a writable folder"
fi
# Extract next to the target: the final rename stays on one filesystem.
EXTRACT_DIR=$(mktemp -d "$PARENT/.wire-backup-restore.XXXXXX")
started=$SECONDS
# --no-same-permissions is not used: modes are the folder's (secrets stay 0600); setuid/setgid bits were
# refused above. Owners: the restoring user's, unless restoreOwnership asks for the archive's (tar run
# as root would otherwise take them from the archive).
OWNER_FLAG=--no-same-owner
if [[ $RESTORE_OWNERSHIP == true ]]; then OWNER_FLAG=--same-owner; fi
log "owners: $([[ $RESTORE_OWNERSHIP == true ]] && echo "as the archive records them (restoreOwnership)" || echo "the restoring user ($(id -un)), not the archive's")"
if ! tar -xpzf "$ARCHIVE" "$OWNER_FLAG" -C "$EXTRACT_DIR" >"$WORK_DIR/extract.out" 2>&1; then
  tail_of "$WORK_DIR/extract.out" tar
  if grep -qiE 'No space left on device|Disk quota exceeded' "$WORK_DIR/extract.out"; then
    fail "extracting the archive into $EXTRACT_DIR ran out of disk space; $TARGET was not changed" \
      "free disk space in $PARENT (the archive holds $FILES files, $BYTES bytes compressed) and run the restore again"
  fi
  # Anything else is tar refusing an entry (an escape, a name it cannot create): say what it refused.
  refused=$(grep -m 1 -E '^tar: ' "$WORK_DIR/extract.out" || head -n 1 "$WORK_DIR/extract.out")
  fail "tar refused to extract the archive: $(shown "${refused#tar: }"); $TARGET was not changed" \
    "check that this is a wire-server archive written by wire-backup, or restore from another backup"
fi
if [[ ! -d $EXTRACT_DIR/$ROOT_ENTRY || -L $EXTRACT_DIR/$ROOT_ENTRY ]]; then
  fail "the extracted archive has no folder $ROOT_ENTRY; $TARGET was not changed" "check the archive and run the restore again"
fi
log "extracted in $((SECONDS - started)) s"
MOVED_TO=''
case $TARGET_STATE in
  nonEmpty)
    aside="$TARGET.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
    MOVED_TO=$aside
    n=1
    while [[ -e $MOVED_TO || -L $MOVED_TO ]]; do
      MOVED_TO="$aside-$n"
      n=$((n + 1))
    done
    if ! mv -T -- "$TARGET" "$MOVED_TO" 2>"$WORK_DIR/mv.err"; then
      tail_of "$WORK_DIR/mv.err" mv
      fail "cannot move the current $TARGET aside to $MOVED_TO; nothing was changed" \
        "check the permissions of $PARENT and that no process holds $TARGET as its working directory, then run the restore again"
    fi
    log "moved the current folder aside to $MOVED_TO"
    ;;
  empty)
    if ! rmdir -- "$TARGET" 2>"$WORK_DIR/mv.err"; then
      tail_of "$WORK_DIR/mv.err" rmdir
      fail "cannot replace the empty folder $TARGET" "check the permissions of $PARENT"
    fi
    ;;
esac
if ! mv -T -- "$EXTRACT_DIR/$ROOT_ENTRY" "$TARGET" 2>"$WORK_DIR/mv.err"; then
  tail_of "$WORK_DIR/mv.err" mv
  if [[ -n $MOVED_TO ]] && mv -T -- "$MOVED_TO" "$TARGET"; then
    fail "cannot move the restored folder into place at $TARGET; the previous folder was put back" \
      "check the permissions of $PARENT and run the restore again"
  fi
  fail "cannot move the restored folder into place at $TARGET${MOVED_TO:+ (the previous folder is at $MOVED_TO)}" \
    "check the permissions of $PARENT and run the restore again"
fi
rmdir -- "$EXTRACT_DIR" 2>/dev/null || rm -rf -- "$EXTRACT_DIR"
EXTRACT_DIR=''

if [[ -n $MOVED_TO ]]; then result "$(json_str "$MOVED_TO")"; else result null; fi
log "restored $TARGET from s3://$VAULT_BUCKET/$ARCHIVE_KEY ($FILES files, $BYTES bytes)${MOVED_TO:+; the previous folder is kept at $MOVED_TO: remove it once Wire runs}"

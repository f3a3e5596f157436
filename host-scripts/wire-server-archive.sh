#!/usr/bin/env bash
# wire-backup host script: stream the wire-server deployment folder to the vault as a gzip'd TAR.
#
# Run by SSM Run Command on the wire-server deploy host (document parameter `fooBar` arrives as the
# environment variable SSM_fooBar). `tar -C <parent> -cf - <basename> | gzip -<level>` is streamed
# straight into `aws s3 cp - s3://<vaultBucket>/<archiveKey>`, encrypted with the archive's own KMS key
# (`--sse aws:kms --sse-kms-key-id <kmsKeyArn>`: the vault refuses the archive under any other key, and
# only the restore path and Verify wire-server Archive may decrypt it): no copy of the archive is written
# on the host. Its SHA-256 and byte count are taken on the way, through fifos. Any failing stage fails the
# script (pipefail); an object uploaded from a broken stream is deleted again.
#
# Parameters (environment): SSM_wireServerPath, SSM_vaultBucket, SSM_archiveKey, SSM_kmsKeyArn,
# SSM_compressionLevel (1-9).
# Output: log lines on stderr; one stdout line
#   `WIRE_BACKUP_RESULT {"key","bytes","sha256","rootEntry"}` (rootEntry = the folder's basename, the
#   archive's top-level entry). On failure: exit non-zero, last stderr line
#   `wire-backup: <host>: <what failed> — <how to fix>`.
set -euo pipefail

readonly SCRIPT=wire-server-archive
RERUN_HINT='run the backup again'
INTERRUPT_HINT='run the backup again'
READER_PIDS=()
# cleanup_hook <rc>: run by the EXIT trap.
cleanup_hook() {
  if ((${#READER_PIDS[@]} > 0)); then kill "${READER_PIDS[@]}" 2>/dev/null; fi
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
    sha256sum | wc) printf 'the coreutils package' ;;
    tar) printf 'the tar package' ;;
    gzip) printf 'the gzip package' ;;
    *) printf 'the package that provides it' ;;
  esac
}

# --- inputs ------------------------------------------------------------------------------------
WIRE_SERVER_PATH=${SSM_wireServerPath-}
VAULT_BUCKET=${SSM_vaultBucket-}
ARCHIVE_KEY=${SSM_archiveKey-}
KMS_KEY_ARN=${SSM_kmsKeyArn-}
COMPRESSION_LEVEL=${SSM_compressionLevel-}
check_rule wireServerPath "$WIRE_SERVER_PATH" ABSOLUTE_PATH
check_rule vaultBucket "$VAULT_BUCKET" BUCKET_NAME
check_rule archiveKey "$ARCHIVE_KEY" VAULT_KEY
check_rule kmsKeyArn "$KMS_KEY_ARN" KMS_KEY_ARN
check_rule compressionLevel "$COMPRESSION_LEVEL" COMPRESSION_LEVEL

# Normalise trailing slashes and single-dot segments so that dirname/basename name the folder itself.
FOLDER=$WIRE_SERVER_PATH
while [[ $FOLDER == */ && $FOLDER != / ]]; do FOLDER=${FOLDER%/}; done
while [[ $FOLDER == */. ]]; do FOLDER=${FOLDER%/.}; done
PARENT=$(dirname -- "$FOLDER")
ROOT_ENTRY=$(basename -- "$FOLDER")
if [[ $FOLDER == / || -z $ROOT_ENTRY || $ROOT_ENTRY == . ]]; then
  fail "parameter wireServerPath is invalid: $(shown "$WIRE_SERVER_PATH") is not a folder below /" \
    "set SSM_wireServerPath to the wire-server deployment folder"
fi

for tool in tar gzip aws sha256sum wc; do
  if ! command -v -- "$tool" >/dev/null; then
    fail "required tool '$tool' is not installed or not on PATH" "install $(package_of "$tool")"
  fi
done
if [[ ! -d $FOLDER ]]; then
  fail "wire-server folder $FOLDER does not exist" "set wireServerPath to the wire-server deployment folder on this host"
fi
if [[ ! -r $FOLDER || ! -x $FOLDER ]]; then
  fail "wire-server folder $FOLDER is not readable by $(id -un)" "run the SSM command as root or as the folder's owner"
fi

# --- stream ------------------------------------------------------------------------------------
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wire-backup-archive.XXXXXX")
mkfifo -m 600 "$WORK_DIR/hash.fifo" "$WORK_DIR/count.fifo"
sha256sum <"$WORK_DIR/hash.fifo" >"$WORK_DIR/sha256.out" &
READER_PIDS+=($!)
wc -c <"$WORK_DIR/count.fifo" >"$WORK_DIR/bytes.out" &
READER_PIDS+=($!)

DESTINATION="s3://$VAULT_BUCKET/$ARCHIVE_KEY"
log "streaming tar of $FOLDER | gzip -$COMPRESSION_LEVEL to $DESTINATION"
set +e
tar -C "$PARENT" -cf - -- "$ROOT_ENTRY" 2>"$WORK_DIR/tar.err" |
  gzip "-$COMPRESSION_LEVEL" 2>"$WORK_DIR/gzip.err" |
  tee -- "$WORK_DIR/hash.fifo" "$WORK_DIR/count.fifo" 2>"$WORK_DIR/tee.err" |
  aws s3 cp --only-show-errors --sse aws:kms --sse-kms-key-id "$KMS_KEY_ARN" - "$DESTINATION" >"$WORK_DIR/aws.out" 2>&1
STATUSES=("${PIPESTATUS[@]}")
wait "${READER_PIDS[0]}"
HASH_RC=$?
wait "${READER_PIDS[1]}"
COUNT_RC=$?
READER_PIDS=()
set -e
TAR_RC=${STATUSES[0]}
GZIP_RC=${STATUSES[1]}
TEE_RC=${STATUSES[2]}
AWS_RC=${STATUSES[3]}
sed 's/^/  tar: /' "$WORK_DIR/tar.err" | tail -n 15 >&2

# An upload failure comes first: tar, gzip and tee then die of SIGPIPE as a consequence.
if ((AWS_RC != 0)); then
  sed 's/^/  aws: /' "$WORK_DIR/aws.out" | tail -n 15 >&2
  fail "upload of the archive to $DESTINATION failed" \
    "check this host's network path and credentials to the vault (aws s3api head-bucket --bucket $VAULT_BUCKET), that its role may use the archive key $KMS_KEY_ARN (kms:GenerateDataKey, kms:Decrypt; AccessDenied above), and run the backup again"
fi
if ((TAR_RC != 0 || GZIP_RC != 0 || TEE_RC != 0 || HASH_RC != 0 || COUNT_RC != 0)); then
  sed 's/^/  gzip: /' "$WORK_DIR/gzip.err" | tail -n 5 >&2
  sed 's/^/  tee: /' "$WORK_DIR/tee.err" | tail -n 5 >&2
  # The upload completed from a broken stream. Hosts may not delete in the vault (their role has no
  # s3:DeleteObject), so the truncated archive stays as a version under this backup's folder; this run
  # fails, writes no manifest and is never listed as a backup.
  log "the archive uploaded to $DESTINATION is incomplete: this backup fails and is never listed as complete"
  if ((TAR_RC != 0)); then
    fail "tar of $FOLDER failed (exit $TAR_RC)" "read tar's messages above: make every file in the folder readable for the SSM command's user, or stop what is changing it"
  fi
  fail "compressing or hashing the archive failed (gzip $GZIP_RC, tee $TEE_RC, sha256sum $HASH_RC, wc $COUNT_RC)" \
    "check free memory and the tools on this host, and run the backup again"
fi

SHA256=$(awk '{ print $1; exit }' "$WORK_DIR/sha256.out")
BYTES=$(awk '{ print $1; exit }' "$WORK_DIR/bytes.out")
if ! [[ $SHA256 =~ $RULE_SHA256 && $BYTES =~ ^[0-9]+$ ]]; then
  fail "could not read the archive's sha256 or size" "run the backup again"
fi
printf 'WIRE_BACKUP_RESULT {"key":%s,"bytes":%s,"sha256":"%s","rootEntry":%s}\n' \
  "$(json_str "$ARCHIVE_KEY")" "$BYTES" "$SHA256" "$(json_str "$ROOT_ENTRY")" >&3
log "uploaded $BYTES bytes (sha256 $SHA256) to $DESTINATION"

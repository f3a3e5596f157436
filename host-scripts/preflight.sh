#!/usr/bin/env bash
# wire-backup host script: preflight.
#
# Run by SSM Run Command (document parameter `fooBar` arrives as the environment variable SSM_fooBar)
# on a Cassandra node (role=cassandra) or on the wire-server deploy host (role=wireServer) before a
# backup. Checks that the tools the backup scripts need are installed, that the vault bucket is
# reachable with this host's credentials, and that the data to back up is there and readable.
#
# Parameters (environment):
#   SSM_role            cassandra | wireServer
#   SSM_dataDir         Cassandra data directory (role cassandra), e.g. /mnt/cassandra/data
#   SSM_wireServerPath  the wire-server deployment folder (role wireServer)
#   SSM_vaultBucket     the vault bucket
#
# Output: log lines on stderr; one stdout line
#   WIRE_BACKUP_RESULT {"hostname","role","tools":{name:path},"cassandraVersion","nodetoolStatusB64"}
# (`nodetool status` output, base64; null for role wireServer). On failure: exit non-zero, and the
# last stderr line is `wire-backup: <host>: <what failed> — <how to fix>`.
set -euo pipefail

readonly SCRIPT=preflight
RERUN_HINT='run the backup again'
INTERRUPT_HINT='run the backup again'
# The helpers every host script shares; inlined into the SSM document at synth.
# lib/rules.sh is the validation rules (RULE_*, SYSTEM_KEYSPACES) that synth generates from
# functions/core/contract/rules.ts; it is no file.
# shellcheck source=/dev/null
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/rules.sh" # wire-backup:inline
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh" # wire-backup:inline

# --- inputs ------------------------------------------------------------------------------------
ROLE=${SSM_role-}
VAULT_BUCKET=${SSM_vaultBucket-}
check_rule role "$ROLE" ROLE
check_rule vaultBucket "$VAULT_BUCKET" BUCKET_NAME
DATA_DIR=${SSM_dataDir-}
WIRE_SERVER_PATH=${SSM_wireServerPath-}
# The role's own folder must be given; the other one is checked too when given (SSM passes both, one
# of them its default), so that no parameter reaches the host unchecked.
if [[ $ROLE == cassandra || -v SSM_dataDir ]]; then
  check_rule dataDir "$DATA_DIR" ABSOLUTE_PATH
fi
if [[ $ROLE == wireServer || -v SSM_wireServerPath ]]; then
  check_rule wireServerPath "$WIRE_SERVER_PATH" ABSOLUTE_PATH
fi

# Wire's Ansible installs Cassandra's tools in /opt/cassandra/bin, which the SSM agent's PATH lacks.
if [[ -d /opt/cassandra/bin ]]; then PATH="$PATH:/opt/cassandra/bin"; fi

WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wire-backup-preflight.XXXXXX")
log "role $ROLE on $HOST"

# --- tools -------------------------------------------------------------------------------------
# package_of <tool>: how to install the tool.
package_of() {
  case $1 in
    nodetool) printf 'Cassandra (put its bin directory, e.g. /opt/cassandra/bin, on PATH)' ;;
    aws) printf 'the AWS CLI (Debian/Ubuntu package awscli, or AWS CLI v2)' ;;
    find) printf 'the findutils package' ;;
    sha256sum | base64) printf 'the coreutils package' ;;
    tar) printf 'the tar package' ;;
    gzip) printf 'the gzip package' ;;
    *) printf 'the package that provides it' ;;
  esac
}
if [[ $ROLE == cassandra ]]; then
  TOOLS=(nodetool aws find sha256sum)
else
  TOOLS=(tar gzip aws sha256sum)
fi
TOOLS_JSON=''
for tool in "${TOOLS[@]}"; do
  if ! tool_path=$(command -v -- "$tool"); then
    fail "required tool '$tool' is not installed or not on PATH" "install $(package_of "$tool")"
  fi
  TOOLS_JSON+="${TOOLS_JSON:+,}$(json_str "$tool"):$(json_str "$tool_path")"
  log "tool $tool: $tool_path"
done

# --- vault -------------------------------------------------------------------------------------
if ! aws s3api head-bucket --bucket "$VAULT_BUCKET" >"$WORK_DIR/head-bucket.out" 2>&1; then
  sed 's/^/  aws: /' "$WORK_DIR/head-bucket.out" | tail -n 5 >&2
  if grep -qE '\(404\)|Not Found|NoSuchBucket' "$WORK_DIR/head-bucket.out"; then
    fail "vault bucket '$VAULT_BUCKET' does not exist (aws s3api head-bucket: 404)" \
      "set vaultBucket to the vault bucket of the deployed stack, or check the S3 endpoint and region this host uses"
  elif grep -qE '\(403\)|Forbidden|AccessDenied' "$WORK_DIR/head-bucket.out"; then
    fail "vault bucket '$VAULT_BUCKET' denies this host's credentials (aws s3api head-bucket: 403)" \
      "give this host the stack's host role (output HostRoleName): aws ssm update-managed-instance-role --instance-id <this host's mi-…> --iam-role <HostRoleName>"
  elif grep -qE 'Unable to locate credentials|NoCredentialsError' "$WORK_DIR/head-bucket.out"; then
    fail "this host has no AWS credentials to reach vault bucket '$VAULT_BUCKET'" \
      "register this host as an SSM managed instance with the stack's host role (output HostRoleName): aws ssm create-activation --iam-role <HostRoleName>"
  fi
  fail "vault bucket '$VAULT_BUCKET' is not reachable from this host (aws s3api head-bucket failed)" \
    "check that the S3 endpoint is reachable from this host (proxy, firewall, VPC endpoint) and that the host's credentials are valid"
fi
log "vault bucket $VAULT_BUCKET reachable"

# --- data --------------------------------------------------------------------------------------
CASSANDRA_VERSION_JSON=null
STATUS_JSON=null
if [[ $ROLE == cassandra ]]; then
  if [[ ! -d $DATA_DIR ]]; then
    fail "Cassandra data directory $DATA_DIR does not exist" "set dataDir to the data_file_directories entry of cassandra.yaml (Wire's Ansible uses /mnt/cassandra/data)"
  fi
  if [[ ! -r $DATA_DIR || ! -x $DATA_DIR ]]; then
    fail "Cassandra data directory $DATA_DIR is not readable by $(id -un)" "run the SSM command as root or as the cassandra user"
  fi
  if ! nodetool status >"$WORK_DIR/status.out" 2>"$WORK_DIR/status.err"; then
    sed 's/^/  nodetool: /' "$WORK_DIR/status.err" "$WORK_DIR/status.out" | tail -n 10 >&2
    fail "'nodetool status' failed" "start Cassandra on this host and check that JMX is reachable (newer installs need 'nodetool -h ::FFFF:127.0.0.1')"
  fi
  if ! nodetool version >"$WORK_DIR/version.out" 2>"$WORK_DIR/version.err"; then
    sed 's/^/  nodetool: /' "$WORK_DIR/version.err" | tail -n 10 >&2
    fail "'nodetool version' failed" "start Cassandra on this host and check that JMX is reachable"
  fi
  CASSANDRA_VERSION=$(awk -F': *' '/^ReleaseVersion/ { print $2; exit }' "$WORK_DIR/version.out")
  if [[ -z $CASSANDRA_VERSION ]]; then
    fail "'nodetool version' printed no ReleaseVersion" "check the nodetool on PATH belongs to this node's Cassandra"
  fi
  CASSANDRA_VERSION_JSON=$(json_str "$CASSANDRA_VERSION")
  # Keep the result under SSM's stdout limit: squeeze column padding (the parser splits on blanks).
  STATUS_B64=$(base64 -w0 <"$WORK_DIR/status.out")
  if ((${#STATUS_B64} > 16000)); then
    STATUS_B64=$(tr -s ' ' <"$WORK_DIR/status.out" | base64 -w0)
  fi
  if ((${#STATUS_B64} > 18000)); then
    fail "'nodetool status' output is too large for the SSM result (${#STATUS_B64} base64 characters)" \
      "report this to the wire-backup maintainers (clusters of more than about 150 nodes need the status in the vault)"
  fi
  STATUS_JSON=$(json_str "$STATUS_B64")
  log "Cassandra $CASSANDRA_VERSION, data directory $DATA_DIR, nodetool status: $(grep -cE '^[UD?][NLJM] ' "$WORK_DIR/status.out" || true) node(s)"
else
  if [[ ! -d $WIRE_SERVER_PATH ]]; then
    fail "wire-server folder $WIRE_SERVER_PATH does not exist" "set wireServerPath to the wire-server deployment folder on this host"
  fi
  if [[ ! -r $WIRE_SERVER_PATH || ! -x $WIRE_SERVER_PATH ]]; then
    fail "wire-server folder $WIRE_SERVER_PATH is not readable by $(id -un)" "run the SSM command as root or as the folder's owner"
  fi
  log "wire-server folder $WIRE_SERVER_PATH readable"
fi

printf 'WIRE_BACKUP_RESULT {"hostname":%s,"role":%s,"tools":{%s},"cassandraVersion":%s,"nodetoolStatusB64":%s}\n' \
  "$(json_str "$HOST")" "$(json_str "$ROLE")" "$TOOLS_JSON" "$CASSANDRA_VERSION_JSON" "$STATUS_JSON" >&3
log "ok"

#!/usr/bin/env bash
# wire-backup host script: clear the snapshot of a backup on one Cassandra node.
#
# Run by SSM Run Command on every Cassandra node when a backup ends, successfully or not (document
# parameter `fooBar` arrives as the environment variable SSM_fooBar). Runs
# `nodetool clearsnapshot -t <backupId>` (a no-op when there is none) and removes the backup's staging
# directory next to the data directory. First it leaves `<backupId>.cleared` there and waits (up to
# 300 s) for a snapshot script of the backup still running on the host to notice it and stop.
# Then it clears stale snapshots of earlier backups that no clean-up reached (lib/snapshots.sh).
# Idempotent.
#
# Parameters (environment): SSM_backupId, SSM_dataDir.
# Output: log lines on stderr; one stdout line `WIRE_BACKUP_RESULT {"cleared":true,"backupId","staleCleared"}`
#   (staleCleared: tags of earlier backups' snapshots swept).
# On failure: exit non-zero, last stderr line `wire-backup: <host>: <what failed> — <how to fix>`.
set -euo pipefail

readonly SCRIPT=cassandra-clearsnapshot
RERUN_HINT='run the command again'
INTERRUPT_HINT='run the command again'
# The helpers every host script shares; inlined into the SSM document at synth.
# lib/rules.sh is the validation rules (RULE_*, SYSTEM_KEYSPACES) that synth generates from
# functions/core/contract/rules.ts; it is no file.
# shellcheck source=/dev/null
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/rules.sh" # wire-backup:inline
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh" # wire-backup:inline
# shellcheck source-path=SCRIPTDIR source=lib/snapshots.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/snapshots.sh" # wire-backup:inline

# --- inputs ------------------------------------------------------------------------------------
BACKUP_ID=${SSM_backupId-}
DATA_DIR=${SSM_dataDir-}
check_rule backupId "$BACKUP_ID" BACKUP_ID
check_rule dataDir "$DATA_DIR" ABSOLUTE_PATH
if [[ /$DATA_DIR/ == */../* ]]; then
  fail "parameter dataDir is invalid: $(shown "$DATA_DIR") has a '..' segment" "set SSM_dataDir to a path without '..'"
fi
DATA_DIR=${DATA_DIR%/}
DATA_DIR=${DATA_DIR:-/}

# Wire's Ansible installs Cassandra's tools in /opt/cassandra/bin, which the SSM agent's PATH lacks.
if [[ -d /opt/cassandra/bin ]]; then PATH="$PATH:/opt/cassandra/bin"; fi
if ! command -v nodetool >/dev/null; then
  fail "required tool 'nodetool' is not installed or not on PATH" "install Cassandra (put its bin directory, e.g. /opt/cassandra/bin, on PATH)"
fi
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wire-backup-clearsnapshot.XXXXXX")

# --- clear -------------------------------------------------------------------------------------
# Mark the backup ended first: a snapshot script of it still running stops and clears its own snapshot.
STAGING_ROOT="$(dirname -- "$DATA_DIR")/wire-backup-staging"
if mkdir -p -- "$STAGING_ROOT" 2>/dev/null; then
  touch -- "$STAGING_ROOT/$BACKUP_ID.cleared"
  find "$STAGING_ROOT" -maxdepth 1 -name '*.cleared' -mtime +7 -delete 2>/dev/null || true
else
  log "WARNING: cannot write $STAGING_ROOT: a snapshot script of $BACKUP_ID still running would not notice the end of the backup"
fi
# A snapshot script of this backup still running holds <backupId>.lock: it sees the marker at its next
# check (within a second while it hashes or uploads) and clears its own snapshot. Wait for it, so that
# when this script returns no snapshot of the backup is being taken or uploaded on this host.
LOCK="$STAGING_ROOT/$BACKUP_ID.lock"
if [[ -e $LOCK ]] && command -v flock >/dev/null && exec 9>>"$LOCK"; then
  if ! flock -n 9; then
    log "a snapshot script of $BACKUP_ID is still running on $HOST: waiting up to 300 s for it to stop"
    if flock -w 300 9; then
      log "the snapshot script of $BACKUP_ID has stopped"
    else
      log "WARNING: the snapshot script of $BACKUP_ID is still running after 300 s: it clears its own snapshot when it stops"
    fi
  fi
fi
log "nodetool clearsnapshot -t $BACKUP_ID"
if ! nodetool clearsnapshot -t "$BACKUP_ID" >"$WORK_DIR/clear.out" 2>&1; then
  sed 's/^/  nodetool: /' "$WORK_DIR/clear.out" | tail -n 15 >&2
  fail "'nodetool clearsnapshot -t $BACKUP_ID' failed" "check that Cassandra is running on $HOST and JMX is reachable, then run the command again"
fi
sed 's/^/  nodetool: /' "$WORK_DIR/clear.out" >&2

rm -f -- "$LOCK"
if [[ -e $STAGING_ROOT/$BACKUP_ID ]]; then
  log "removing staging directory $STAGING_ROOT/$BACKUP_ID"
  if ! rm -rf -- "${STAGING_ROOT:?}/$BACKUP_ID"; then
    fail "cannot remove the staging directory $STAGING_ROOT/$BACKUP_ID" "remove it by hand (it only holds hardlinks or copies of snapshot files)"
  fi
  rmdir -- "$STAGING_ROOT" 2>/dev/null || true
fi

# Cassandra skips snapshot directories it cannot delete without failing the command: check.
if [[ -d $DATA_DIR ]]; then
  left=$(find "$DATA_DIR" -mindepth 4 -maxdepth 4 -type d -path "*/snapshots/$BACKUP_ID" -print -quit 2>/dev/null || true)
  if [[ -n $left ]]; then
    fail "snapshot $BACKUP_ID is still on disk after clearsnapshot ($left)" \
      "check the Cassandra log for the reason and remove the directory by hand, or run the command again"
  fi
else
  log "WARNING: data directory $DATA_DIR does not exist: could not check that the snapshot files are gone"
fi

# Snapshots of earlier backups that no clean-up reached (lib/snapshots.sh says when one counts as such).
STALE=$(sweep_stale_snapshots "$DATA_DIR" "$STAGING_ROOT" "$BACKUP_ID")
STALE_JSON=$(if [[ -n $STALE ]]; then printf '%s\n' "$STALE" | sed 's/.*/"&"/' | paste -sd, -; fi)

printf 'WIRE_BACKUP_RESULT {"cleared":true,"backupId":"%s","staleCleared":[%s]}\n' "$BACKUP_ID" "$STALE_JSON" >&3
log "snapshot $BACKUP_ID cleared"

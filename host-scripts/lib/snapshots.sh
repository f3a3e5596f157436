#!/usr/bin/env bash
# wire-backup host scripts: the sweep of snapshots no clean-up reached, sourced after lib/common.sh.
#
# A backup's snapshot is cleared by its own script (EXIT trap) and by the state machine's Catch
# (cassandra-clearsnapshot.sh). Neither runs when the execution ends where no Catch sees it (execution
# timeout, StopExecution) or the host dies mid-script: the snapshot would stay on the node forever and pin
# its SSTables on disk. sweep_stale_snapshots clears such snapshots of earlier backups.
#
# A snapshot is cleared only when all of these hold, so that a running backup never loses its snapshot:
#   - its tag is a backup id (`YYYYMMDDTHHMMSSZ`, the UTC start of its backup) other than the current one;
#   - no snapshot script of it holds `<staging root>/<tag>.lock` on this host (`flock -n` succeeds);
#   - and either that start is more than STALE_SNAPSHOT_HOURS ago (the backup state machine's timeout is
#     12 h, lib/wire-backup-stack.ts; test/unit/stack.test.ts keeps the two in step, so no execution that
#     started then can still run), or it is earlier than the current backup's start and flock is
#     installed: every snapshot script takes that lock before its snapshot and holds it to its end, so a
#     free (or removed) lock means the script that took the snapshot is gone (its node was down during
#     the clean-up, or the host died), and nothing after that script reads the snapshot. Such a snapshot
#     is cleared by the next backup's first script on the node instead of 13 h later.
# Snapshots whose tag is no backup id (an operator's own) are never touched.

# Hours after its start when a backup's snapshot counts as left behind (backup timeout 12 h + 1 h).
readonly STALE_SNAPSHOT_HOURS=13

# sweep_stale_snapshots <dataDir> <stagingRoot> <currentBackupId>: clears the stale snapshots and prints
# each cleared tag on stdout, one per line; logs what it did. Never fails the calling script: a
# snapshot it cannot clear is logged and left for the next run.
sweep_stale_snapshots() {
  local data_dir=$1 staging_root=$2 current=$3 tag started now cutoff lock why
  [[ -d $data_dir ]] || return 0
  now=$(date -u +%s)
  cutoff=$((now - STALE_SNAPSHOT_HOURS * 3600))
  while IFS= read -r tag; do
    [[ $tag =~ ^[0-9]{8}T[0-9]{6}Z$ && $tag != "$current" ]] || continue
    started=$(date -u -d "${tag:0:4}-${tag:4:2}-${tag:6:2} ${tag:9:2}:${tag:11:2}:${tag:13:2}" +%s 2>/dev/null) || continue
    if ((started <= cutoff)); then
      why="its backup started more than $STALE_SNAPSHOT_HOURS h ago and no clean-up of it ran"
    elif [[ $tag < $current ]] && command -v flock >/dev/null; then
      why="its snapshot script no longer runs on this host (its lock is free) and a later backup ($current) started: the clean-up of $tag did not reach this node"
    else
      continue
    fi
    lock="$staging_root/$tag.lock"
    if [[ -e $lock ]] && command -v flock >/dev/null; then
      if ! flock -n "$lock" true 2>/dev/null; then
        if ((started <= cutoff)); then
          log "snapshot $tag is older than $STALE_SNAPSHOT_HOURS h but a snapshot script of it still holds $lock: left"
        fi
        continue
      fi
    fi
    if nodetool clearsnapshot -t "$tag" >/dev/null 2>&1; then
      rm -f -- "$lock"
      if [[ -d $staging_root/$tag ]]; then rm -rf -- "${staging_root:?}/$tag"; fi
      log "cleared snapshot $tag: $why"
      printf '%s\n' "$tag"
    else
      log "WARNING: 'nodetool clearsnapshot -t $tag' failed: the stale snapshot stays until the next backup"
    fi
  done < <(find "$data_dir" -mindepth 4 -maxdepth 4 -type d -path '*/snapshots/*' -printf '%f\n' 2>/dev/null | sort -u)
}

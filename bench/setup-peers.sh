#!/usr/bin/env bash
# Installs the peers `npm run bench` measures wire-backup against, into the tool cache
# ($WIRE_BACKUP_CACHE, default <repo>/.cache, ignored by git). Idempotent: a peer already there is kept.
# - rclone v1.71.0 built with `go install` (Debian's rclone 1.60 fails against S3 here: "unsupported transport");
# - mc: built by `local-stack/bin/wire-stack install` (the bench uses that one);
# - aws CLI: Debian's awscli package if no `aws` is on PATH (the bench skips `aws s3 sync` without it).
# Opt-in, `bench/setup-peers.sh postgresql` (`npm run bench:setup -- postgresql`): also the peers of
# `npm run bench -- postgresql` from Debian 12 with apt-get: postgresql-15 (server binaries under
# /usr/lib/postgresql/15/bin, pg_basebackup 15) and pgbackrest (2.45: supports PostgreSQL up to 15).
# Opt-in, `bench/setup-peers.sh cassandra` (`npm run bench:setup -- cassandra`): cassandra-medusa 0.31.0
# from PyPI into a venv at $CACHE/medusa-venv (the peer of `npm run bench -- cassandra`).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${WIRE_BACKUP_CACHE:-$here/../.cache}
BIN=$CACHE/bin
RCLONE_VERSION=v1.71.0
mkdir -p "$BIN"
say() { printf 'bench setup: %s\n' "$*" >&2; }

if [[ -x $BIN/rclone ]] && "$BIN/rclone" version 2>/dev/null | head -1 | grep -q "rclone $RCLONE_VERSION"; then
  say "rclone $RCLONE_VERSION already in $BIN"
else
  command -v go >/dev/null || { say "go not found: install Go >= 1.24 to build rclone"; exit 2; }
  say "rclone: go install github.com/rclone/rclone@$RCLONE_VERSION (a cold build takes 5-15 min on 2 cores; log $CACHE/rclone-build.log)"
  GOBIN=$BIN GOFLAGS="${GOFLAGS:--buildvcs=false}" go install "github.com/rclone/rclone@$RCLONE_VERSION" >"$CACHE/rclone-build.log" 2>&1 \
    || { say "rclone build failed (log: $CACHE/rclone-build.log)"; exit 1; }
fi

[[ -x $BIN/mc ]] || say "mc missing: run 'local-stack/bin/wire-stack install' first"

if command -v aws >/dev/null; then
  say "aws CLI present: $(aws --version 2>&1 | head -1)"
else
  say "aws CLI: apt-get install -y awscli"
  { apt-get install -y awscli >"$CACHE/apt-awscli.log" 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y awscli >"$CACHE/apt-awscli.log" 2>&1; }; } \
    || say "awscli not installable (log $CACHE/apt-awscli.log): the bench leaves 'aws s3 sync' out"
fi
if [[ ${1:-} == postgresql ]]; then
  for pkg in postgresql-15 pgbackrest; do
    if dpkg -s "$pkg" >/dev/null 2>&1; then say "$pkg already installed"; continue; fi
    say "$pkg: apt-get install -y $pkg (log $CACHE/apt-$pkg.log)"
    { DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg" >"$CACHE/apt-$pkg.log" 2>&1 ||
      { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg" >"$CACHE/apt-$pkg.log" 2>&1; }; } ||
      { say "$pkg not installable (log $CACHE/apt-$pkg.log)"; exit 1; }
  done
  # The bench runs its own PostgreSQL 15 server (its port, data under the stack dir), not a Debian cluster.
  say "postgresql: $(/usr/lib/postgresql/15/bin/postgres --version), $(pgbackrest version)"
fi
if [[ ${1:-} == cassandra ]]; then
  MEDUSA_VERSION=0.31.0
  # pip's output is read whole (grep -q closing the pipe early would fail the pipeline under pipefail).
  have=$("$CACHE/medusa-venv/bin/pip" show cassandra-medusa 2>/dev/null || true)
  if [[ -x $CACHE/medusa-venv/bin/medusa && $have == *$'\nVersion: '"$MEDUSA_VERSION"$'\n'* ]]; then
    say "cassandra-medusa $MEDUSA_VERSION already in $CACHE/medusa-venv"
  else
    say "cassandra-medusa $MEDUSA_VERSION: python3 -m venv $CACHE/medusa-venv + pip install (log $CACHE/medusa-install.log)"
    { python3 -m venv "$CACHE/medusa-venv" && "$CACHE/medusa-venv/bin/pip" install "cassandra-medusa==$MEDUSA_VERSION"; } \
      >"$CACHE/medusa-install.log" 2>&1 || { say "cassandra-medusa install failed (log $CACHE/medusa-install.log)"; exit 1; }
  fi
  # The bench runs medusa with CASS_DRIVER_NO_EXTENSIONS=1 (the driver's pure-Python path).
  CASS_DRIVER_NO_EXTENSIONS=1 "$CACHE/medusa-venv/bin/medusa" --version >/dev/null 2>&1 \
    || { say "cassandra-medusa in $CACHE/medusa-venv does not start (reinstall: rm -rf $CACHE/medusa-venv)"; exit 1; }
  say "cassandra: $(CASS_DRIVER_NO_EXTENSIONS=1 "$CACHE/medusa-venv/bin/medusa" --version 2>&1 | tail -1)"
fi
say "ready: $(ls "$BIN" | tr '\n' ' ')"

#!/usr/bin/env bash
# A private, throwaway PostgreSQL server for Pulumi's DIY postgres state backend (tests, demos).
#
# Usage:
#   scripts/postgres.sh ensure            # install PostgreSQL if missing; print its bin directory
#   scripts/postgres.sh start DIR PORT    # new cluster in DIR on 127.0.0.1:PORT; print the URL
#   scripts/postgres.sh url DIR           # print the URL of the cluster in DIR
#   scripts/postgres.sh stop DIR          # stop the cluster in DIR (DIR itself is left alone)
#
# The URL is `postgres://pulumi:<password>@127.0.0.1:PORT/pulumi?sslmode=disable`, ready for
# PULUMI_BACKEND_URL (append `&table=NAME` for a table other than pulumi_state).
#
# Why the details:
# * CI machines are fresh, so a missing server is installed from Debian's packages (as root,
#   with apt-get) instead of being a prerequisite someone has to remember.
# * PostgreSQL refuses to run as root; as root the cluster runs as the `postgres` system user
#   that the Debian package creates (DIR is handed to it), otherwise as the calling user.
# * The cluster listens on loopback TCP only (no Unix socket: no path-length or permission
#   surprises) and uses a random password with scram auth, so the URL form with user:password
#   is the one exercised. fsync is off: the data is thrown away with DIR.
set -euo pipefail

PG_LIB=${POSTGRES_LIB_DIR:-/usr/lib/postgresql}
DB_USER=pulumi
DB_NAME=pulumi

log() { echo "postgres.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

find_bin() {  # the newest installed server's bin directory, or nothing
  local initdb
  initdb=$(ls -d "$PG_LIB"/*/bin/initdb 2>/dev/null | sort -V | tail -n1 || true)
  [ -n "$initdb" ] && dirname "$initdb"
  return 0
}

ensure() {  # print the bin directory, installing the server first when it is missing
  local bin
  bin=$(find_bin)
  if [ -z "$bin" ]; then
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed ($PG_LIB/*/bin/initdb missing) and \
installing it needs root: apt-get install postgresql"
    command -v apt-get >/dev/null || die "PostgreSQL is missing and apt-get is not available"
    log "PostgreSQL not found under $PG_LIB: installing it with apt-get (one-time)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql >&2
    bin=$(find_bin)
    [ -n "$bin" ] || die "apt-get installed postgresql but $PG_LIB/*/bin/initdb is still missing"
  fi
  echo "$bin"
}

as_owner() {  # run a command as the cluster's owner (postgres when we are root)
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' system user (it comes with Debian's package)"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

url_of() {  # url_of DIR: the connection URL recorded by `start`
  local dir=$1
  [ -f "$dir/port" ] && [ -f "$dir/password" ] || die "no cluster in $dir (run start first)"
  echo "postgres://$DB_USER:$(cat "$dir/password")@127.0.0.1:$(cat "$dir/port")/$DB_NAME?sslmode=disable"
}

is_running() {  # is_running BIN DIR
  [ -d "$2/data" ] && as_owner "$1/pg_ctl" -D "$2/data" status >/dev/null 2>&1
}

start() {  # start DIR PORT
  local dir=${1:?usage: postgres.sh start DIR PORT} port=${2:?usage: postgres.sh start DIR PORT}
  local bin
  bin=$(ensure)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if is_running "$bin" "$dir"; then
    log "already running in $dir"
    url_of "$dir"
    return
  fi
  if [ ! -d "$dir/data" ]; then
    # Only the password file is readable by root; the owner needs it for initdb --pwfile.
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$dir/password")
    echo "$port" >"$dir/port"
    [ "$(id -u)" = 0 ] && chown -R postgres: "$dir"
    as_owner test -w "$dir" || die "the postgres user cannot write $dir (a parent directory is \
not searchable by it; use a directory under /tmp)"
    as_owner "$bin/initdb" -D "$dir/data" -U "$DB_USER" --pwfile="$dir/password" \
      --auth-host=scram-sha-256 --auth-local=reject -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  fi
  echo "$port" >"$dir/port"
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off" \
    start >&2 || { tail -n 20 "$dir/postgres.log" >&2 || true; die "pg_ctl start failed"; }
  # The database is created once; a restarted cluster already has it.
  PGPASSWORD=$(cat "$dir/password") "$bin/psql" -h 127.0.0.1 -p "$port" -U "$DB_USER" -d postgres \
    -Atqc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1 \
    || PGPASSWORD=$(cat "$dir/password") "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$DB_USER" "$DB_NAME"
  url_of "$dir"
}

stop() {  # stop DIR
  local dir=${1:?usage: postgres.sh stop DIR} bin
  bin=$(find_bin)
  [ -n "$bin" ] || die "PostgreSQL is not installed"
  if is_running "$bin" "$dir"; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2
  else
    log "not running in $dir"
  fi
}

case "${1:-}" in
  ensure) ensure ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  url) shift; url_of "${1:?usage: postgres.sh url DIR}" ;;
  *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Run a command against a throw-away PostgreSQL server on loopback.
#
#   scripts/with-postgres.sh make test
#
# Starts the newest PostgreSQL found under /usr/lib/postgresql (Debian's packages; installs
# `postgresql` with apt-get when none is there and we are root), creates a database, exports
# TEST_DATABASE_URL and DATABASE_URL for the command, and always stops the server afterwards.
set -euo pipefail

# A fixed port unless SHOP_PG_PORT says otherwise; when it is taken (another server, a run that
# did not clean up), start_server below moves on to a free one.
PORT="${SHOP_PG_PORT:-55432}"
DB_NAME="shop_test"
DB_USER="shop"

find_pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

PGBIN="$(find_pg_bin || true)"
if [[ -z "$PGBIN" || ! -x "$PGBIN/initdb" ]]; then
  if [[ "$(id -u)" -eq 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    PGBIN="$(find_pg_bin)"
  else
    echo "PostgreSQL server binaries not found; install Debian's postgresql package" >&2
    exit 1
  fi
fi

WORK="$(mktemp -d)"
DATA="$WORK/data"
LOG="$WORK/server.log"
# PostgreSQL refuses to run as root: use the postgres system user then.
if [[ "$(id -u)" -eq 0 ]]; then
  chown -R postgres: "$WORK"
  chmod 755 "$WORK"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

cleanup() {
  as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_taken() {
  python3 -c 'import socket, sys; s = socket.socket(); sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0)' "$1"
}

start_server() {
  as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 120 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $WORK -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
}

as_pg "$PGBIN/initdb" -D "$DATA" -U "$DB_USER" -A trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
if port_taken "$PORT"; then
  echo "port $PORT is taken; using another" >&2
  PORT="$(free_port)"
fi
# A server that does not come up shows its log and gets a second try on a fresh port.
for attempt in 1 2; do
  start_server && break
  echo "PostgreSQL did not start on port $PORT; its log:" >&2
  tail -n 30 "$LOG" >&2 || true
  ((attempt == 2)) && exit 1
  PORT="$(free_port)"
  echo "trying again on port $PORT" >&2
done
as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$DB_USER" "$DB_NAME"

export TEST_DATABASE_URL="postgresql+psycopg://$DB_USER@127.0.0.1:$PORT/$DB_NAME"
export DATABASE_URL="$TEST_DATABASE_URL"
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT ($TEST_DATABASE_URL)"
"$@"

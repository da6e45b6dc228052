#!/usr/bin/env bash
# Run a command with a shared rate-limit store, for servers with several workers.
#
#   scripts/with-redis.sh gunicorn --workers 4 wsgi:app
#
# With RATELIMIT_STORAGE_URI already set (e.g. redis://cache.internal:6379/0) the command runs as
# it is. Otherwise a private Redis is started on 127.0.0.1 (Debian's redis-server, no persistence),
# RATELIMIT_STORAGE_URI points at it for the command, and it is stopped afterwards. Without
# redis-server the script refuses: counts kept in each worker's memory would let an attacker
# multiply every limit by the number of workers.
set -euo pipefail

if [[ -n "${RATELIMIT_STORAGE_URI:-}" && "${RATELIMIT_STORAGE_URI}" != memory://* ]]; then
  exec "$@"
fi

REDIS="$(command -v redis-server || true)"
if [[ -z "$REDIS" ]]; then
  echo "Several workers need a shared store for sign-in and sign-up limits: set" >&2
  echo "RATELIMIT_STORAGE_URI=redis://host:6379/0, or install redis-server so one is started here." >&2
  exit 1
fi

PORT="${SHOP_REDIS_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
WORK="$(mktemp -d)"
"$REDIS" --bind 127.0.0.1 --port "$PORT" --save "" --appendonly no --dir "$WORK" \
  --daemonize yes --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log"

cleanup() {
  if [[ -f "$WORK/redis.pid" ]]; then
    kill "$(cat "$WORK/redis.pid")" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

for _ in $(seq 50); do
  [[ -f "$WORK/redis.pid" ]] && break
  sleep 0.1
done
export RATELIMIT_STORAGE_URI="redis://127.0.0.1:$PORT/0"
echo "Rate limits in a private Redis on 127.0.0.1:$PORT"
"$@"

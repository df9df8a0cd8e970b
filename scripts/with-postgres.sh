#!/usr/bin/env bash
# Runs a command with WABRIDGE_TEST_POSTGRES_URL pointing at a throwaway PostgreSQL cluster,
# made with this machine's initdb/pg_ctl on a free port, and stopped afterwards.
# Without PostgreSQL it skips, unless WABRIDGE_REQUIRE_POSTGRES=1 (set by CI) makes that a failure.
set -euo pipefail

if ! command -v initdb >/dev/null 2>&1 || ! command -v pg_ctl >/dev/null 2>&1; then
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && PATH="$dir:$PATH"
  done
fi
if ! command -v initdb >/dev/null 2>&1 || ! command -v pg_ctl >/dev/null 2>&1; then
  if [ "${WABRIDGE_REQUIRE_POSTGRES:-0}" = "1" ]; then
    echo "with-postgres: initdb/pg_ctl not found, and WABRIDGE_REQUIRE_POSTGRES=1" >&2
    exit 1
  fi
  echo "with-postgres: PostgreSQL not installed here; skipping the PostgreSQL run" >&2
  exit 0
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
work=$(mktemp -d /tmp/wabridge-pg.XXXXXX)
chmod 755 "$work"
as_pg=()
if [ "$(id -u)" = "0" ]; then
  # initdb refuses to run as root: the cluster belongs to the postgres user.
  chown postgres "$work"
  as_pg=(runuser -u postgres --)
fi

cleanup() {
  "${as_pg[@]}" pg_ctl -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"${as_pg[@]}" initdb -D "$work/data" -A trust -U postgres >"$work/initdb.log" 2>&1 \
  || { cat "$work/initdb.log" >&2; exit 1; }
"${as_pg[@]}" pg_ctl -D "$work/data" -l "$work/server.log" -w -t 60 \
  -o "-p $port -k $work -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null \
  || { cat "$work/server.log" >&2; exit 1; }

export WABRIDGE_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
echo "with-postgres: cluster on port $port" >&2
"$@"

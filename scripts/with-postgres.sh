#!/usr/bin/env bash
# Run a command with TEST_POSTGRES_URL naming a PostgreSQL server whose user may CREATE DATABASE.
#
#   scripts/with-postgres.sh .venv/bin/python -m pytest -q        (make test runs it this way)
#
# With TEST_POSTGRES_URL already set, the command simply runs against that server. Otherwise a
# throw-away cluster is made for it: Debian's `postgresql` package (installed when missing; CI is
# root on a clean Debian machine), initdb in a temporary directory owned by the `postgres` user
# (initdb refuses to run as root), a server on 127.0.0.1 and a free port, without fsync (nothing
# in it outlives the run). The server is stopped and the directory deleted when the command ends,
# however it ends; the command's exit status is the script's.
set -euo pipefail

if [[ -n "${TEST_POSTGRES_URL:-}" ]]; then
  exec "$@"
fi

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

BIN=$(pg_bin)
if [[ -z "$BIN" ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "with-postgres: PostgreSQL is not installed. Run 'apt-get install postgresql' as root," >&2
    echo "or set TEST_POSTGRES_URL=postgresql+psycopg://user@host:port/db for a server you have." >&2
    exit 2
  fi
  echo "with-postgres: installing Debian's postgresql package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  BIN=$(pg_bin)
fi

AS=()
if [[ $(id -u) -eq 0 ]]; then
  DIR=$(mktemp -d /tmp/union-test-pg.XXXXXX)  # not $TMPDIR: the postgres user must reach it
  chown postgres: "$DIR"
  AS=(runuser -u postgres --)
else
  DIR=$(mktemp -d "${TMPDIR:-/tmp}/union-test-pg.XXXXXX")
fi

stop() {
  "${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap stop EXIT
trap 'exit 143' INT TERM  # a signal still stops the server, through the EXIT trap

"${AS[@]}" "$BIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --no-locale --no-sync >"$DIR/initdb.log" 2>&1 \
  || { cat "$DIR/initdb.log" >&2; exit 2; }

started=""
for _ in 1 2 3 4 5; do  # a free port can be taken between choosing it and binding it: try another
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if "${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 -o \
      "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null; then
    started=1
    break
  fi
done
if [[ -z "$started" ]]; then
  echo "with-postgres: the server did not start:" >&2
  cat "$DIR/server.log" >&2
  exit 2
fi

export TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
echo "with-postgres: PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2
set +e
"$@"
status=$?
exit $status

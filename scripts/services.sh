#!/usr/bin/env bash
# Make sure the services the tests talk to are up, and say where they are in .venv/test-services.env:
# PostgreSQL (trust auth, database `test`; 127.0.0.1:5432 where it runs, as on this project's
# machines) and Mosquitto at 127.0.0.1:1883. Start what is missing rather than skip tests: Debian's
# cluster if it is installed but stopped, else a throwaway cluster of our own.
set -euo pipefail
cd "$(dirname "$0")/.."

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pg_usable() { psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; }

throwaway_pg() {  # a cluster in /tmp with trust auth, on port $1
  local port=$1 bindir dir
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  dir=$(mktemp -d /tmp/custos-pg.XXXXXX)
  chown postgres "$dir"
  runuser -u postgres -- "$bindir/initdb" -D "$dir" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$bindir/pg_ctl" -D "$dir" -o "-h 127.0.0.1 -p $port -k $dir" -l "$dir/log" -w start >/dev/null
  echo "services: started a throwaway PostgreSQL cluster in $dir on port $port" >&2
}

PG_PORT=5432
if ! port_open $PG_PORT && ls /etc/postgresql/*/main >/dev/null 2>&1; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start 2>/dev/null || true
  for _ in $(seq 25); do port_open $PG_PORT && break; sleep 0.2; done
fi
if ! pg_usable $PG_PORT; then
  # Not running, or not with trust auth for postgres over TCP (Debian's default asks for a password).
  PG_PORT=55432
  pg_usable $PG_PORT || throwaway_pg $PG_PORT
fi
psql -h 127.0.0.1 -p $PG_PORT -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
  || psql -h 127.0.0.1 -p $PG_PORT -U postgres -d postgres -qc "CREATE DATABASE test"

if ! port_open 1883; then
  echo "services: starting mosquitto" >&2
  mosquitto -d -p 1883
fi

mkdir -p .venv
echo "CUSTOS_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/test" > .venv/test-services.env

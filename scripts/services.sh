#!/usr/bin/env bash
# Make sure the services the tests talk to are up: PostgreSQL at 127.0.0.1:5432 (trust, database
# `test`) and Mosquitto at 127.0.0.1:1883. Start what is missing (a throwaway PostgreSQL cluster)
# rather than skip tests.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 5432; then
  if ls /etc/postgresql/*/main >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
fi
if ! port_open 5432; then
  echo "services: starting a throwaway PostgreSQL cluster"
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  dir=$(mktemp -d /tmp/custos-pg.XXXXXX)
  chown postgres "$dir"
  runuser -u postgres -- "$bindir/initdb" -D "$dir" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$bindir/pg_ctl" -D "$dir" -o "-h 127.0.0.1 -p 5432 -k $dir" -l "$dir/log" -w start >/dev/null
fi
for _ in $(seq 50); do port_open 5432 && break; sleep 0.2; done
psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null

if ! port_open 1883; then
  echo "services: starting mosquitto"
  mosquitto -d -p 1883 2>/dev/null || mosquitto -d
fi

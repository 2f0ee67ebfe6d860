#!/usr/bin/env bash
# Runs a local PostgreSQL (Debian's package, installed by scripts/install-test-deps.sh) on
# 127.0.0.1:${POSTGRES_PORT:-5432}, its cluster kept in ./data/postgres, and prints the DATABASE_URL to use.
# Dev credentials only (user, password and database "scaiwave"). Ctrl-C stops it (fast shutdown).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh

port="${POSTGRES_PORT:-5432}"
data="$PWD/data/postgres"
name=scaiwave
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[[ -x "$bin/postgres" ]] || { echo "dev-postgres: PostgreSQL not found under /usr/lib/postgresql/<major>/bin" >&2; exit 1; }

# PostgreSQL refuses to run as root: as root, run it as the OS user the package creates.
as_postgres=()
if [[ $(id -u) -eq 0 ]]; then
  id -u postgres >/dev/null 2>&1 || {
    echo "dev-postgres: PostgreSQL refuses to run as root and there is no OS user 'postgres' (Debian's postgresql package creates it)" >&2
    exit 1
  }
  as_postgres=(runuser -u postgres --)
fi
run() { "${as_postgres[@]}" "$@"; }

mkdir -p "$data"
if [[ ${#as_postgres[@]} -gt 0 ]]; then
  chown postgres: "$data"
  run test -w "$data" || { echo "dev-postgres: the OS user postgres cannot reach $data (a parent directory is closed to it)" >&2; exit 1; }
fi
chmod 700 "$data"

if [[ ! -s "$data/PG_VERSION" ]]; then
  pwfile="$(mktemp)"
  trap 'rm -f "$pwfile"' EXIT
  echo "$name" >"$pwfile"
  [[ ${#as_postgres[@]} -gt 0 ]] && chown postgres: "$pwfile"
  run "$bin/initdb" -D "$data" -U "$name" --pwfile="$pwfile" --auth=scram-sha-256 --encoding=UTF8 --locale=C --no-instructions
  # The service's database, created in single-user mode before the server listens.
  echo "CREATE DATABASE $name" | run "$bin/postgres" --single -D "$data" -j postgres >/dev/null
  rm -f "$pwfile"
fi

echo "DATABASE_URL=postgres://$name:$name@127.0.0.1:$port/$name"
# TCP on loopback only: no Unix socket, which could clash with the package's own cluster.
exec "${as_postgres[@]}" "$bin/postgres" -D "$data" -p "$port" \
  -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=on

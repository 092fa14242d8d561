#!/usr/bin/env bash
# Makes sure the PostgreSQL server the store contract suites use is running (called by
# test.sh). On our machines it normally runs already; on a fresh Debian with the
# `postgresql` package (scripts/system-packages.sh test) this starts its clusters.
# Tests connect to SLUICE_TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres);
# when that server does not answer, the PostgreSQL side of each suite skips and says why.
# Usage: scripts/postgres-up.sh
set -euo pipefail
host=127.0.0.1
port=5432
if pg_isready -q -h "$host" -p "$port"; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
  else
    echo "PostgreSQL is not running and this user cannot start it; the PostgreSQL side of" >&2
    echo "the store suites will skip. An administrator can run: pg_ctlcluster --all start" >&2
    exit 0
  fi
fi
echo "starting PostgreSQL"
if command -v pg_lsclusters >/dev/null 2>&1; then
  # Every cluster Debian knows of (normally one: <version> main).
  pg_lsclusters --no-header | while read -r version cluster _; do
    $sudo pg_ctlcluster "$version" "$cluster" start || true
  done
else
  $sudo service postgresql start || true
fi
for _ in $(seq 1 30); do
  pg_isready -q -h "$host" -p "$port" && exit 0
  sleep 1
done
echo "PostgreSQL did not come up on $host:$port; the PostgreSQL side of the store suites" >&2
echo "will skip (see /var/log/postgresql)." >&2

#!/usr/bin/env bash
# Run the whole test suite against the real parts: SQLite and PostgreSQL,
# the local Apache Kafka broker, headless Chromium. Expects deploy/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL from Debian's packages, started for the run.
if [ -z "${RVROTA_TEST_POSTGRES_URL:-}" ]; then
  ver=$(ls /etc/postgresql | sort -n | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || true
  for _ in $(seq 1 30); do pg_isready -q && break; sleep 1; done
  su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='$(whoami)'\"" | grep -q 1 \
    || su postgres -c "createuser -s $(whoami)"
  export RVROTA_TEST_POSTGRES_URL="postgresql+psycopg://$(whoami)@/postgres?host=/var/run/postgresql"
fi
export RVROTA_ENVIRONMENT=test

python3 -m ruff check .
python3 -m mypy
python3 -m mypy --strict fleet solver
lint-imports
python3 -m pytest -ra "$@"

#!/usr/bin/env bash
# The whole suite on each store engine: SQLite, then PostgreSQL (SEKISHO_TEST_STORE=postgres;
# PostgreSQL at SEKISHO_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/test, trust
# auth; every test directory gets a schema of its own there). `npm test` runs this.
#   SEKISHO_TEST_STORES="sqlite"   one engine only (or "postgres")
#   extra arguments: test files (default test/*.test.ts)
set -uo pipefail
cd "$(dirname "$0")/.."
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(test/*.test.ts)
status=0
for engine in ${SEKISHO_TEST_STORES:-sqlite postgres}; do
  echo "# ===== store engine: $engine ====="
  if [ "$engine" = postgres ] && ! node -e "
    const pg = require('pg');
    const c = new pg.Client({ connectionString: (process.env.SEKISHO_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test').replace(/\/[^/?]*(\?|$)/, '/postgres\$1') });
    c.connect().then(() => c.end(), (e) => { console.error(e.message); process.exit(1); });"; then
    echo "# PostgreSQL is not reachable: the PostgreSQL run FAILS (start it, or SEKISHO_TEST_STORES=sqlite)"
    status=1
    continue
  fi
  SEKISHO_TEST_STORE=$engine node --import tsx --test --test-concurrency=2 "${files[@]}" || status=1
done
exit $status

#!/usr/bin/env bash
# Sets up what is missing, then runs every check: ruff, mypy, the web app's lint, type check
# and unit tests, and the whole pytest suite (unit, end-to-end and browser tests).
# Arguments go to pytest, e.g. ./run_tests.sh -m "not browser" or ./run_tests.sh tests/unit
set -euo pipefail
cd "$(dirname "$0")"

ensure_chromium() {
  [[ -x /usr/bin/chromium ]] && return
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "==> /usr/bin/chromium is missing: the browser tests will be skipped" \
         "(sudo apt-get install chromium)" >&2
  fi
}

ensure_postgresql() {
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && return
  command -v initdb >/dev/null 2>&1 && return
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's postgresql for the job-store tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "==> PostgreSQL (initdb) is missing: the PostgreSQL job-store tests will be skipped" \
         "(sudo apt-get install postgresql)" >&2
  fi
}

ensure_redis() {
  command -v redis-server >/dev/null 2>&1 && return
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's redis-server for the Celery queue tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "==> redis-server is missing: the Celery queue tests will be skipped" \
         "(sudo apt-get install redis-server)" >&2
  fi
}

./setup_env.sh
ensure_chromium
ensure_postgresql
ensure_redis

echo "==> ruff"
.venv/bin/ruff check toy_platform dashboard_streamlit tests examples
.venv/bin/ruff format --check toy_platform dashboard_streamlit tests examples
echo "==> mypy"
.venv/bin/mypy
if [[ -d frontend_react/node_modules ]]; then
  echo "==> web app: lint, type check, unit tests"
  (cd frontend_react && npm run --silent lint && npm run --silent typecheck && npm test --silent)
fi
echo "==> pytest"
.venv/bin/python -m pytest "$@"

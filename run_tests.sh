#!/usr/bin/env bash
# Sets up what is missing, then runs every check: ruff, mypy, the import contracts, the web app's
# lint, type check and unit tests, and the whole pytest suite (unit, end-to-end and browser tests).
# Arguments go to pytest, e.g. ./run_tests.sh -m "not browser" or ./run_tests.sh tests/unit
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages some tests need: chromium (browser tests), postgresql (the job store on
# PostgreSQL) and redis-server (the Celery queue). Installed in one apt-get run when missing
# and run as root; otherwise the tests that need them are skipped, and this says so.
ensure_test_packages() {
  local missing=()
  [[ -x /usr/bin/chromium ]] || missing+=(chromium)
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 \
    || missing+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  ((${#missing[@]})) || return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's ${missing[*]} for the tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "==> missing: ${missing[*]}; the tests that need them will be skipped" \
         "(sudo apt-get install ${missing[*]})" >&2
  fi
}

./setup_env.sh
ensure_test_packages

echo "==> ruff"
.venv/bin/ruff check toy_platform dashboard_streamlit tests examples
.venv/bin/ruff format --check toy_platform dashboard_streamlit tests examples
echo "==> mypy"
.venv/bin/mypy
echo "==> import contracts (cli -> operator side -> services -> shared kit)"
.venv/bin/lint-imports
if [[ -d frontend_react/node_modules ]]; then
  echo "==> web app: API types up to date, lint, type check, unit tests"
  (cd frontend_react && npm run --silent check:api && npm run --silent lint && npm run --silent typecheck && npm test --silent)
fi
echo "==> pytest"
.venv/bin/python -m pytest "$@"

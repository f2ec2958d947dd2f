#!/usr/bin/env bash
# Sets up what is missing, then starts the whole platform: auth, core, middleware,
# the React web app and the Streamlit dashboard. Logs go to ./logs. Ctrl+C stops everything.
# Any option of `toy-platform serve` may follow, e.g. ./run_servers.sh --job-delay 5
set -euo pipefail
cd "$(dirname "$0")"
TOY_PLATFORM_WEB_OPTIONAL=1 ./setup_env.sh
export TOY_PLATFORM_LOG_DIR=${TOY_PLATFORM_LOG_DIR:-$PWD/logs}
web=()
[[ -f toy_platform/web_dist/index.html ]] || web=(--no-web)
exec .venv/bin/toy-platform serve ${web[@]+"${web[@]}"} "$@"

#!/usr/bin/env bash
# Sets up what is missing to run or test toy-platform from this checkout:
# a Python virtual environment with the package installed (editable), and the built web app.
# Safe to run again: each step is skipped when it is already done and up to date.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
# Every engine and what the tests and examples need: the whole suite runs from this checkout.
EXTRAS=${TOY_PLATFORM_EXTRAS:-test,celery,postgres,examples}
STAMP_DIR=$VENV/.toy-platform-stamps

say() { printf '==> %s\n' "$*"; }

# cksum is POSIX, so this works on Linux and macOS alike.
checksum() { cat "$@" 2>/dev/null | cksum | tr ' ' '-'; }

# The venv's Python: bin/ on Linux and macOS, Scripts/ on Windows (Git Bash).
venv_python() {
  if [[ -x $VENV/Scripts/python.exe ]]; then echo "$VENV/Scripts/python.exe"
  else echo "$VENV/bin/python"; fi
}

setup_python() {
  if [[ ! -x $VENV/bin/python && ! -x $VENV/Scripts/python.exe ]]; then
    say "creating the virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local python; python="$(venv_python)"
  mkdir -p "$STAMP_DIR"
  local want; want="$(checksum pyproject.toml hatch_build.py)-$EXTRAS"
  if [[ "$(cat "$STAMP_DIR/pip" 2>/dev/null)" != "$want" ]]; then
    say "installing toy-platform and its dependencies (.[$EXTRAS])"
    "$python" -m pip install --quiet --upgrade pip
    TOY_PLATFORM_SKIP_WEB_BUILD=1 "$python" -m pip install --quiet -e ".[$EXTRAS]"
    echo "$want" > "$STAMP_DIR/pip"
  fi
}

setup_web() {
  if ! command -v npm >/dev/null 2>&1; then
    if [[ -f toy_platform/web_dist/index.html ]]; then return; fi
    echo "npm is not installed: the React web app cannot be built (install Node.js >= 20.19)," \
         "or run with --no-web" >&2
    return 1
  fi
  local lock; lock="$(checksum frontend_react/package-lock.json)"
  if [[ ! -d frontend_react/node_modules || "$(cat "$STAMP_DIR/npm" 2>/dev/null)" != "$lock" ]]; then
    say "installing the web app's packages (npm ci)"
    (cd frontend_react && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock" > "$STAMP_DIR/npm"
  fi
  local sources; sources="$(find frontend_react/src frontend_react/index.html frontend_react/public \
      frontend_react/vite.config.ts frontend_react/tsconfig.json frontend_react/package.json \
      -type f 2>/dev/null | sort \
      | xargs cat 2>/dev/null | cksum | tr ' ' '-')"
  if [[ ! -f toy_platform/web_dist/index.html || "$(cat "$STAMP_DIR/web" 2>/dev/null)" != "$sources" ]]; then
    say "building the web app"
    (cd frontend_react && npm run build --silent)
    echo "$sources" > "$STAMP_DIR/web"
  fi
}

setup_python
if ! setup_web; then
  [[ ${TOY_PLATFORM_WEB_OPTIONAL:-0} == 1 ]] || exit 1
  echo "warning: the web app is not built; the platform runs without it" >&2
fi

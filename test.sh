#!/usr/bin/env bash
# SidePy's one test command. On a fresh Debian machine (as root) it installs what
# is missing, builds dist/, then runs every suite:
#   lint + types, unit tests on CPython (with coverage), the same unit tests
#   inside Pyodide 314 under Node, the panel's tests on MicroPython, the worker's
#   boot JavaScript under Node's test runner, integration tests against real
#   loopback servers, and end-to-end tests driving Chromium with the built extension.
# Nothing is skipped: a missing browser or tool is a failure.
#
#   ./test.sh            everything
#   ./test.sh unit       one stage: setup | lint | unit | pyodide | micropython | js | integration | e2e
set -euo pipefail
cd "$(dirname "$0")"

stage="${1:-all}"
venv=.venv
py="$venv/bin/python"

say() { printf '\n==> %s\n' "$*"; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "test.sh: error: $* missing and not root to apt-get install it" >&2
    exit 1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

setup() {
  command -v python3 >/dev/null || apt_install python3 python3-venv python3-pip
  python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv
  command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
  [ -x /usr/bin/chromium ] || apt_install chromium

  if [ ! -x "$py" ]; then
    say "create $venv"
    python3 -m venv "$venv"
  fi
  # Reinstall only when the pinned list changed.
  want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
  if [ "$(cat "$venv/.requirements-sha256" 2>/dev/null)" != "$want" ]; then
    say "pip install -r requirements-dev.txt"
    "$py" -m pip install -q --upgrade pip
    "$py" -m pip install -q -r requirements-dev.txt
    echo "$want" >"$venv/.requirements-sha256"
  fi
  say "build dist/ (release) and dist-dev/ (developer build: the e2e suite's)"
  "$py" build.py
  "$py" build.py --dev
}

lint() {
  say "ruff + mypy"
  "$venv/bin/ruff" check .
  "$venv/bin/mypy"
}

unit() {
  say "unit tests on CPython (coverage of modelclient)"
  "$venv/bin/coverage" run -m pytest tests/unit -q
  "$venv/bin/coverage" report
}

pyodide() {
  say "unit tests inside Pyodide 314 (Node)"
  "$py" tests/pyodide/run.py tests/unit -q
}

micropython() {
  say "panel tests on MicroPython 1.27 (the panel's runtime) under Node"
  "$py" tests/micropython/run.py
}

js() {
  say "worker boot JS (snapshot rules, bundle format) under node --test"
  PYTHON="$py" node --test tests/js/
}

integration() {
  say "integration tests (real loopback servers)"
  "$py" -m pytest tests/integration -q
}

e2e() {
  say "end-to-end tests (Chromium + built extension)"
  "$py" -m pytest tests/e2e -q
}

case "$stage" in
  all) setup; lint; unit; pyodide; micropython; js; integration; e2e ;;
  setup | lint | unit | pyodide | micropython | js | integration | e2e) [ "$stage" = setup ] || [ -x "$py" ] || setup; "$stage" ;;
  *) echo "usage: ./test.sh [setup|lint|unit|pyodide|micropython|js|integration|e2e]" >&2; exit 2 ;;
esac
say "all green"

#!/usr/bin/env bash
# Idempotent set-up: a virtual environment in .venv with modxfer and its pinned dependencies.
# Progress goes to the terminal; pip's and setuptools' own chatter goes to .venv/setup.log (shown if a step fails).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
. .venv/bin/activate
stamp=.venv/.modxfer-installed
log=.venv/setup.log
step() {  # step "what" command...: run quietly, show the log's tail if it fails
  local what=$1; shift
  echo "setup: $what"
  if ! "$@" >>"$log" 2>&1; then
    echo "setup: '$what' failed; the end of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
}
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  : >"$log"
  step "upgrading pip" python -m pip install -q --upgrade pip
  # The CPU build of torch first: a bare torch requirement would pull a multi-GB CUDA build.
  step "installing torch 2.13.0 (CPU build)" python -m pip install -q "torch==2.13.0"
  step "installing modxfer and its dependencies" python -m pip install -q -e ".[test]"
  touch "$stamp"
  echo "setup: done"
fi
# Task data: the workplace keeps it beside the project (never copied into it).
if [ -z "${MODXFER_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
  export MODXFER_DATA_DIR="$(cd ../shared/data && pwd)"
fi

#!/usr/bin/env bash
# Idempotent set-up: a virtual environment in .venv with modxfer and its pinned dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
stamp=.venv/.modxfer-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  python -m pip install -q --upgrade pip
  # The CPU build of torch first: a bare torch requirement would pull a multi-GB CUDA build.
  python -m pip install -q "torch==2.13.0"
  python -m pip install -q -e ".[test]"
  touch "$stamp"
fi
# Task data: the workplace keeps it beside the project (never copied into it).
if [ -z "${MODXFER_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
  export MODXFER_DATA_DIR="$(cd ../shared/data && pwd)"
fi

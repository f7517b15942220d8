#!/usr/bin/env bash
# Set up, then run the whole test suite (unit tests on a tiny random model, end-to-end on the embedded backbone).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
export TOKENIZERS_PARALLELISM=false
# A full disk fails hundreds of tests at once with OSError; say so first. The suite needs about 1 GB of free space
# (its temporary folders, plus the converted backbone and trunk states in .cache-test).
free_mb=$( { df -Pm "${TMPDIR:-/tmp}" . 2>/dev/null || true; } | awk 'NR > 1 && $4 ~ /^[0-9]+$/ { print $4 }' \
  | sort -n | head -n 1 || true)
if [ -n "$free_mb" ] && [ "$free_mb" -lt 1500 ]; then
  echo "test: only ${free_mb} MB free on disk; the suite needs about 1 GB: free some space or set TMPDIR" >&2
fi
python -m pytest -q -p no:cacheprovider "$@"

#!/usr/bin/env bash
# Set up, then run the whole test suite (unit tests on a tiny random model, end-to-end on the embedded backbone).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
export TOKENIZERS_PARALLELISM=false
python -m pytest -q -p no:cacheprovider "$@"

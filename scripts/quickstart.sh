#!/usr/bin/env bash
# Set up, then run the main job on the embedded backbone.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
export TOKENIZERS_PARALLELISM=false
modxfer tasks
python -m modxfer.demo "$@"

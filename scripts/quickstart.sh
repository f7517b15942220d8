#!/usr/bin/env bash
# Set up, then run the main job: the quickstart sweep on the embedded backbone (resumable; cached on rerun),
# then its report.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
export TOKENIZERS_PARALLELISM=false
modxfer sweep run configs/quickstart.yaml "$@"
modxfer report runs/quickstart   # tables, plots and findings: runs/quickstart/report/report.md

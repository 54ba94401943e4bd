#!/usr/bin/env bash
# The main job of README.md: set up (idempotent), then run the full suite on the embedded cluster and
# write the report to reports/latest/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec bin/cnilab run --out reports/latest "$@"

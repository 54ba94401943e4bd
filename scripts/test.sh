#!/usr/bin/env bash
# The test command of README.md: set up (idempotent), then every test: unit tests, BPF program tests
# (BPF_PROG_TEST_RUN) and root datapath/cluster tests, which create and remove their own namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
npx vitest run "$@"

#!/usr/bin/env bash
# The main job of README.md: set up (idempotent), then on the embedded cluster run
#   1. the connectivity, faults and policy suites for VXLAN tunnel and BGP native routing (cnilab run), and
#   2. the performance comparison of the five configurations (cnilab bench),
# writing everything to reports/latest/ (JSON, Markdown, HTML, JUnit). Clusters are always torn down.
# Exit status: non-zero when any check failed (targets missed by the benchmark are reported, not failed).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh || exit $?
out=reports/latest
status=0
bin/cnilab run --config cnilab-tunnel --config cnilab-native --out "$out" || status=$?
bin/cnilab bench --out "$out" "$@" || { s=$?; [ "$status" = 0 ] && status=$s; }
echo "reports in $out/: result.json report.md report.html junit.xml perf.json perf.md perf.html"
exit "$status"

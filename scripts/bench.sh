#!/usr/bin/env bash
# The load generator: scripts/bench.sh [--spawn | --cluster FILE] [--workload W] [--duration S | --ops N] ...
# scripts/bench.sh --help lists the options; docs/benchmarks.md explains the output.
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_build
exec node "$root/dist/src/cli/bench.js" "$@"

#!/usr/bin/env bash
# Two builds' benches at the same time: scripts/bench-ab.sh --base DIR [--rounds N] -- BENCH_OPTIONS
# (--help for more; docs/benchmarks.md, Getting trustworthy numbers).
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_build
exec node "$root/dist/src/cli/bench-ab.js" "$@"

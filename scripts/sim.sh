#!/usr/bin/env bash
# Deterministic simulation: scripts/sim.sh [--seeds N] [--seed-start S] [--faults LIST] [--nodes K] … (--help for all).
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_build
exec node "$root/dist/src/cli/sim.js" "$@"

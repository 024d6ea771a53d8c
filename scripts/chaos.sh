#!/usr/bin/env bash
# Chaos run: scripts/chaos.sh [--seed N] [--duration S] [--faults LIST] [--mode proxy|netns] … (--help for all).
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_build
exec node "$root/dist/src/cli/chaos.js" "$@"

#!/usr/bin/env bash
# Prints the changes of a key range as they reach the cluster: scripts/watch.sh [--from-start] [--json] [START [END]]
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_build
exec node "$root/dist/src/cli/watch.js" "$@"

#!/usr/bin/env bash
# A live web page for the cluster: scripts/dashboard.sh [--port P] [--cluster FILE] (--help for more)
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_build
exec node "$root/dist/src/cli/dashboard.js" "$@"

#!/usr/bin/env bash
# The operator's tool for the cluster in $KV_DATA_DIR: scripts/admin.sh status [--json]
# (scripts/admin.sh --help lists the commands).
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_build
exec node "$root/dist/src/cli/admin.js" "$@"

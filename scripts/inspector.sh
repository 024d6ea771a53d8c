#!/usr/bin/env bash
# Shows every node's replica contents and hints: scripts/inspector.sh [--json] [--cluster FILE]
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_build
exec node "$root/dist/src/cli/inspector.js" "$@"

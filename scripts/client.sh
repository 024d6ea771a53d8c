#!/usr/bin/env bash
# The console: scripts/client.sh [--json] [--cluster FILE | --node HOST:PORT]. Type help inside.
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_build
exec node "$root/dist/src/cli/console.js" "$@"
